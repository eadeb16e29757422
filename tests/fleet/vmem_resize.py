#!/usr/bin/env python3
"""Resizes a fleet guest's virtio-mem device over QMP and times it.

    vmem_resize.py SOCKET QEMU_PID REQUESTED_BYTES [TIMEOUT_S]

Sets requested-size on /machine/peripheral/vmem0 (qom-set), then polls
query-memory-devices every 10 ms until the device's "size" equals the
request or TIMEOUT_S (default 30) passes, and reads the QEMU process's Rss
from /proc/PID/smaps_rollup before and after (after: once size settled, then
again 1 s later, since QEMU discards unplugged blocks as the guest reports
them). Prints one JSON object:

    {"requested_bytes", "size_before_bytes", "size_after_bytes",
     "reached": bool, "elapsed_s", "rss_before_bytes", "rss_after_bytes",
     "rss_settled_bytes", "size_change_events"}

Exit 0 when the size reached the request, 1 when it did not, 2 on bad use.
"""
import json
import socket
import sys
import time

DEVICE = "/machine/peripheral/vmem0"


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.reader = self.sock.makefile("r")
        self.events = []
        json.loads(self.reader.readline())  # greeting
        self.call("qmp_capabilities")

    def call(self, command, arguments=None):
        msg = {"execute": command}
        if arguments is not None:
            msg["arguments"] = arguments
        self.sock.sendall((json.dumps(msg) + "\n").encode())
        while True:
            line = self.reader.readline()
            if not line:
                raise SystemExit("vmem_resize: QEMU closed the connection")
            reply = json.loads(line)
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise SystemExit(f"vmem_resize: {command}: {reply['error']}")
            return reply["return"]

    def vmem_size(self):
        for dev in self.call("query-memory-devices"):
            if dev["type"] == "virtio-mem" and dev["data"].get("id") == "vmem0":
                return dev["data"]["size"]
        raise SystemExit("vmem_resize: the guest has no virtio-mem device vmem0")


def rss_bytes(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    raise SystemExit(f"vmem_resize: no Rss in /proc/{pid}/smaps_rollup")


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    path, pid, requested = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    timeout_s = float(sys.argv[4]) if len(sys.argv) == 5 else 30.0
    qmp = Qmp(path)
    before = qmp.vmem_size()
    rss_before = rss_bytes(pid)
    t0 = time.monotonic()
    qmp.call("qom-set", {"path": DEVICE, "property": "requested-size", "value": requested})
    size = before
    while True:
        size = qmp.vmem_size()
        elapsed = time.monotonic() - t0
        if size == requested or elapsed > timeout_s:
            break
        time.sleep(0.01)
    rss_after = rss_bytes(pid)
    time.sleep(1)
    rss_settled = rss_bytes(pid)
    qmp.vmem_size()  # collects the events that came meanwhile
    print(json.dumps({
        "requested_bytes": requested,
        "size_before_bytes": before,
        "size_after_bytes": size,
        "reached": size == requested,
        "elapsed_s": round(elapsed, 3),
        "rss_before_bytes": rss_before,
        "rss_after_bytes": rss_after,
        "rss_settled_bytes": rss_settled,
        "size_change_events": sum(
            1 for e in qmp.events if e["event"] == "MEMORY_DEVICE_SIZE_CHANGE"),
    }))
    return 0 if size == requested else 1


if __name__ == "__main__":
    sys.exit(main())
