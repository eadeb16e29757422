#!/usr/bin/env python3
"""The fault injectors of scripts/soak that are programs of their own.

  soak_faults.py hostile-agent --agent SOCK --qmp SOCK --pid FILE --fake-fleet BIN
                               --fake-dir DIR --fake-qmp SOCK --fake-pid FILE
      A hostile guest. tools/fake_fleet.c (fake-fleet DIR 1) answers its QMP
      (so ballastd manages it and moves its fake balloon); its qmp.sock and
      pid file are linked into the guest directory, whose agent.sock this
      program serves, speaking the wire protocol (docs/protocol.md) to lie
      and misbehave: on every connection a HELLO, lying REPORTs (full
      memory, 95 % PSI: "give me everything"), then one misdeed per
      connection in turn: PRESSURE without the capability, answers to
      nothing with an INT32_MIN error code, a flood of 150 frames in a
      second, garbage. ballastd should count, reject and reconnect, and go
      on serving the honest guests. Prints "ready" when it serves; on SIGTERM
      it removes its files, stops fake-fleet and exits 0.
  soak_faults.py hog --seconds S --cap-mib C
      Allocates and touches host memory down to 15 % of MemTotal available
      (soak_checks.hog_plan_mib, at most C MiB) in 64 MiB chunks, giving
      chunks back whenever the host drops under 12 % (hog_step), holds it
      S seconds and exits. Prints "holding N MiB ..." once it holds.
  soak_faults.py qmp-balloon --socket SOCK --bytes N
      A foreign balloon command: `balloon` from a second QMP client (the
      soak's guests have a second monitor for it). Prints QEMU's reply.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_checks  # noqa: E402

MIB = 1 << 20

# --- the wire protocol, as much as a liar needs (docs/protocol.md) ------------------------

HEADER = struct.Struct("<4sBBHII")  # magic, version, type, flags, payload_length, seq
HELLO, REPORT, PRESSURE, RECLAIM_DONE, ACK, ERROR = 1, 3, 4, 7, 8, 9
CAP_VMSTAT = 1 << 3
INT32_MIN = -(1 << 31)


class Wire:
    def __init__(self, conn: socket.socket):
        self.conn, self.seq, self.report_seq, self.t0 = conn, 0, 0, time.monotonic()

    def frame(self, ftype: int, payload: bytes) -> bytes:
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        return HEADER.pack(b"BLST", 1, ftype, 0, len(payload), self.seq) + payload

    def send(self, data: bytes) -> None:
        self.conn.sendall(data)

    def hello(self) -> bytes:
        # agent 0.1.0, 4 KiB pages, VMSTAT only (no PRESSURE: its PRESSUREs are violations)
        return self.frame(HELLO, struct.pack("<IIIHH", 0x000100, 4096, CAP_VMSTAT, 1, 1))

    def report(self, pressure: bool = False) -> bytes:
        """A v1 REPORT (176 bytes) of a guest out of memory and stalling: a lie."""
        self.report_seq += 1
        up_ms = int((time.monotonic() - self.t0) * 1000)
        mem = [240 * MIB, 2 * MIB, 3 * MIB, MIB, 0, 0, 0, MIB // 2, MIB // 2, 200 * MIB, 30 * MIB]
        body = struct.pack("<QII", time.monotonic_ns(), self.report_seq, (1 << 18) - 1)
        body += struct.pack("<11Q", *mem)
        body += struct.pack("<4I", 9500, 9000, 7000, 6000)  # PSI some/full avg10/avg60, bp
        body += struct.pack("<7Q", up_ms * 900, up_ms * 700, up_ms, up_ms * 50, up_ms * 10, 0,
                            up_ms)
        assert len(body) == 176
        if pressure:
            return self.frame(PRESSURE, body + struct.pack("<I", 3))
        return self.frame(REPORT, body)

    def misdeed(self, n: int) -> bytes:
        """The n-th connection's misbehaviour (docs/protocol.md, "Protocol violations")."""
        kind = n % 4
        if kind == 0:  # PRESSURE without the capability, five times
            return b"".join(self.report(pressure=True) for _ in range(5))
        if kind == 1:  # answers to nothing; an error code C cannot negate
            return (self.frame(ACK, struct.pack("<II", 77, 5)) +
                    self.frame(ERROR, struct.pack("<IIi", 78, 6, INT32_MIN)) +
                    self.frame(RECLAIM_DONE, struct.pack("<IIiQQQ", 79, 1, INT32_MIN, MIB, MIB, 1)) +
                    self.frame(ERROR, struct.pack("<IIi", 80, 5, INT32_MIN)))
        if kind == 2:  # a flood: more than 100 frames in a second
            return b"".join(self.report() for _ in range(150))
        return b"\x00\xffthis is not a ballast frame\r\n" * 64 + os.urandom(2048)


def drain(conn: socket.socket) -> bool:
    """Reads whatever ballastd sent (WELCOME, CONFIG, POLL: ignored); False once it hung up."""
    try:
        while True:
            data = conn.recv(4096, socket.MSG_DONTWAIT)
            if not data:
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def serve_hostile(conn: socket.socket, n: int, stop: list) -> None:
    w = Wire(conn)
    try:
        w.send(w.hello())
        t_misdeed = time.monotonic() + 8.0  # honest-looking lies first: ballastd manages it
        done = False
        while not stop and drain(conn):
            w.send(w.report())
            if not done and time.monotonic() >= t_misdeed:
                w.send(w.misdeed(n))
                done = True
            time.sleep(0.5)
    except OSError:
        pass
    finally:
        conn.close()


def hostile_agent(a, out) -> int:
    stop: list = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    os.makedirs(a.fake_dir, exist_ok=True)
    fake = subprocess.Popen([a.fake_fleet, a.fake_dir, "1", "--memory", str(a.memory_mib),
                             "--used", "64"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    made: list[str] = []
    try:
        if fake.stdout.readline().strip() != "ready":
            print("soak_faults.py: fake-fleet did not start", file=sys.stderr)
            return 1
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(a.agent)
        made.append(a.agent)
        srv.listen(4)
        srv.settimeout(0.5)
        for target, link in ((a.fake_pid, a.pid), (a.fake_qmp, a.qmp)):  # qmp.sock last: then
            os.symlink(target, link)  # ballastd sees a whole guest at once
            made.append(link)
        print("ready", file=out, flush=True)
        n = 0
        while not stop:
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                continue
            serve_hostile(conn, n, stop)
            n += 1
        srv.close()
    finally:
        for path in reversed(made):
            try:
                os.unlink(path)
            except OSError:
                pass
        fake.terminate()
        fake.wait()
    return 0


# --- the host memory hog ------------------------------------------------------------------


def read_meminfo() -> tuple[int, int]:
    with open("/proc/meminfo", encoding="ascii") as f:
        return soak_checks.meminfo_kib(f.read())


MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)  # Linux 5.14


def hog_chunk(size: int) -> mmap.mmap:
    """size bytes of anonymous memory, really resident: the kernel faults
    them in at once (MADV_POPULATE_WRITE, ~4x faster than touching each page
    from Python); an older kernel gets every page written instead."""
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        m.madvise(MADV_POPULATE_WRITE)
    except OSError:
        for off in range(0, size, 4096):
            m[off] = 1
    return m


HOG_FILL_MAX_S = 90  # filling 20 GiB page by page takes a while on a busy 2-core host


def hog(a, out) -> int:
    """Takes host memory down to the plan (soak_checks.hog_plan_mib), says
    "holding" once there (or once HOG_FILL_MAX_S has passed), then holds it
    for --seconds from that moment, giving chunks back when the host goes
    below the floor. The fill is not part of --seconds: a slow fill must not
    eat the time the host spends under pressure."""
    stop: list = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    total, avail = read_meminfo()
    want = soak_checks.hog_plan_mib(total, avail, a.cap_mib)
    chunks: list[bytearray] = []
    held = 0
    fill_until = time.monotonic() + HOG_FILL_MAX_S
    deadline = None
    while not stop and (deadline is None or time.monotonic() < deadline):
        total, avail = read_meminfo()
        step = soak_checks.hog_step(total, avail, held, want)
        if step > 0 and deadline is None and time.monotonic() < fill_until:
            chunks.append(hog_chunk(step * MIB))
            held += step
            continue
        if step < 0 and chunks:
            c = chunks.pop()
            held -= len(c) // MIB
            c.close()
            continue
        if deadline is None:
            print(f"holding {held} MiB (wanted {want}; host MemAvailable {avail // 1024} of "
                  f"{total // 1024} MiB)", file=out, flush=True)
            deadline = time.monotonic() + a.seconds
        time.sleep(0.5)
    return 0


# --- a foreign QMP client -----------------------------------------------------------------


def qmp_reply(f) -> dict:
    """The next reply (events skipped)."""
    while True:
        line = f.readline()
        if not line:
            raise OSError("QMP closed the connection")
        msg = json.loads(line)
        if "return" in msg or "error" in msg:
            return msg


def qmp_balloon(a, out) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(a.socket)
        f = s.makefile("rwb")
        f.readline()  # the greeting
        for cmd in ({"execute": "qmp_capabilities"},
                    {"execute": "balloon", "arguments": {"value": a.bytes}}):
            f.write(json.dumps(cmd).encode() + b"\n")
            f.flush()
            reply = qmp_reply(f)
            if "error" in reply:
                print(f"qmp-balloon: {cmd['execute']}: {json.dumps(reply['error'])}", file=out)
                return 1
    print(f"qmp-balloon: balloon {a.bytes // MIB} MiB: ok", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="soak_faults.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("hostile-agent")
    for opt in ("--agent", "--qmp", "--pid", "--fake-fleet", "--fake-dir", "--fake-qmp",
                "--fake-pid"):
        s.add_argument(opt, required=True)
    s.add_argument("--memory-mib", type=int, default=256)
    s = sub.add_parser("hog")
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--cap-mib", type=int, required=True)
    s = sub.add_parser("qmp-balloon")
    s.add_argument("--socket", required=True)
    s.add_argument("--bytes", type=int, required=True)
    a = p.parse_args(argv)
    fn = {"hostile-agent": hostile_agent, "hog": hog, "qmp-balloon": qmp_balloon}[a.cmd]
    try:
        return fn(a, sys.stdout)
    except OSError as e:
        print(f"soak_faults.py {a.cmd}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
