#!/usr/bin/env python3
"""Sends one QMP command to a QEMU monitor socket and prints its "return" as JSON.

    qmp_call.py SOCKET COMMAND [ARGUMENTS_JSON]

Negotiates capabilities first (qmp_capabilities), skips asynchronous events,
exits 1 with the error on stderr if QEMU answers with "error" or hangs up.
"""
import json
import socket
import sys


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    path, command = sys.argv[1], sys.argv[2]
    arguments = json.loads(sys.argv[3]) if len(sys.argv) == 4 else None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    reader = sock.makefile("r")

    def reply():
        while True:
            line = reader.readline()
            if not line:
                raise SystemExit("qmp_call: QEMU closed the connection")
            msg = json.loads(line)
            if "event" in msg:
                continue
            if "error" in msg:
                raise SystemExit("qmp_call: %s: %s" % (command, msg["error"]))
            return msg

    greeting = reply()
    if "QMP" not in greeting:
        raise SystemExit("qmp_call: no QMP greeting: %r" % greeting)
    sock.sendall(b'{"execute": "qmp_capabilities"}\n')
    reply()
    request = {"execute": command}
    if arguments is not None:
        request["arguments"] = arguments
    sock.sendall((json.dumps(request) + "\n").encode())
    print(json.dumps(reply()["return"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
