#!/usr/bin/env python3
"""A hostile "guest": listens on AGENT_SOCK like QEMU's chardev and sends
garbage to whoever connects (ballastd), once per connection, forever.
Also binds a dead QMP_SOCK so the fleet source sees a guest directory."""
import os, socket, sys

agent_path, qmp_path = sys.argv[1], sys.argv[2]
qmp = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
qmp.bind(qmp_path)  # bound, never listening: QMP connects are refused
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(agent_path)
srv.listen(4)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    try:
        conn.sendall(b"\x00\xffthis is not a ballast frame\r\n" * 8)
        while conn.recv(4096):
            pass
    except OSError:
        pass
    conn.close()
