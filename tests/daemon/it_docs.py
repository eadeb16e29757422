#!/usr/bin/env python3
"""integration.daemon.docs: what the docs say ballastd and ballastctl print
and return, held against the real binaries. No guests: an empty fleet
directory, or the fake fleet (tools/fake_fleet.c) where a VM is needed.
The docs' own text is parsed wherever that is mechanical, so a doc edited
away from the programs (or a program away from its doc) fails here:

1. docs/ballastd.md's exit code table: the codes it lists are those of
   ballastd(8)'s EXIT STATUS and of `ballastd --help`; every case a row
   names is run and exits with the row's code (a phrase of the row is
   checked to be there, so the row and the case stay the same case).
2. `--check-config` in every form docs/config.md and docs/ballastd.md
   write, on a clean directory (exit 0) and a bad one (exit 2, each error
   printed as `file:line: message`).
3. docs/config.md's "Errors detected" table: every example message is
   what `--check-config` prints (once) for a file made to have that error; a row
   without such a file here fails the test unless it is listed, with the
   reason, in NOT_MECHANICAL.
4. Safe mode is called safe: a config error is logged once per error and
   load, in the words of docs/config.md's example line; a VM with a bad
   file shows mode "safe" in status, explain and explain --json; no
   program or doc says "observe forced".
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BALLAST_BUILD_DIR")
SRC = os.environ.get("BALLAST_SOURCE_DIR")
if not BUILD or not SRC:
    sys.exit("run under ctest (BALLAST_BUILD_DIR, BALLAST_SOURCE_DIR)")
BIN = os.path.join(BUILD, "bin")
BALLASTD = os.path.join(BIN, "ballastd")
BALLASTCTL = os.path.join(BIN, "ballastctl")
FAKE_FLEET = os.path.join(BUILD, "tests", "fake-fleet")

failures: list[str] = []
procs: list[subprocess.Popen] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"FAIL: {msg}", file=sys.stderr)


def ok(msg: str, failures_before: int) -> None:
    """Says msg when the section that began at failures_before added no failure."""
    if len(failures) == failures_before:
        print(f"ok: {msg}")


def read_doc(rel: str) -> str:
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


def run(*argv: str, timeout: float = 15) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def flat(text: str) -> str:
    """Markdown cell text with its whitespace runs as one space."""
    return " ".join(text.split())


# --- docs parsing ------------------------------------------------------------------------


def section(md: str, heading: str) -> str:
    """The text under a '## heading' (or '# HEADING' in scdoc) up to the next heading."""
    m = re.search(r"^#+ " + re.escape(heading) + r"\s*$", md, flags=re.M)
    if not m:
        raise SystemExit(f"FAIL: no '{heading}' section in the doc: the test cannot read it")
    rest = md[m.end():]
    nxt = re.search(r"^#+ ", rest, flags=re.M)
    return rest[:nxt.start()] if nxt else rest


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the first markdown table in text, as trimmed cells."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        rows.append(cells)
    return rows[1:]  # the header row off


def exit_table() -> dict[int, tuple[str, str]]:
    """docs/ballastd.md's exit codes: code -> (ballastd cell, ballastctl cell)."""
    rows = table_rows(section(read_doc("docs/ballastd.md"), "Exit codes"))
    return {int(r[0]): (flat(r[1]), flat(r[2])) for r in rows}


def man_exit_codes() -> set[int]:
    sect = section(read_doc("docs/man/ballastd.8.scd"), "EXIT STATUS")
    return {int(c) for c in re.findall(r"^\*(\d+)\*\s*$", sect, flags=re.M)}


def help_exit_codes() -> set[int]:
    out = run(BALLASTD, "--help").stdout
    m = re.search(r"Exit status: (.*)", out)
    return {int(c) for c in re.findall(r"(\d+) [a-z]", m.group(1))} if m else set()


# --- running ballastd --------------------------------------------------------------------


# A copy of tests/fixtures/ksm-6.18's sysfs: the daemons started here tune
# that, never the host's ksmd (other work on the host may be using it).
KSM_ROOT = ""


def start(*argv: str, log: str, env: dict | None = None) -> subprocess.Popen:
    """A ballastd in the background, its output in LOG, on the fake KSM tree."""
    f = open(log, "w")  # noqa: SIM115 (the child has it; ours is closed below)
    p = subprocess.Popen([*argv, "--ksm-sysfs-root", KSM_ROOT], stdout=f, stderr=subprocess.STDOUT,
                         env={**os.environ, **(env or {})})
    f.close()
    procs.append(p)
    return p


def wait_ping(sock: str, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if run(BALLASTCTL, "--socket", sock, "ping").returncode == 0:
            return True
        time.sleep(0.2)
    return False


def stop(p: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()


def log_of(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


# --- 1. the exit code table -----------------------------------------------------------------


def exit_codes(tmp: str, good: str, bad: str) -> None:
    n_failed = len(failures)
    table = exit_table()
    codes = set(table)
    if codes != {0, 1, 2}:
        fail(f"docs/ballastd.md's exit code table lists {sorted(codes)}, the test knows 0, 1, 2")
    if man_exit_codes() != codes:
        fail(f"ballastd(8) EXIT STATUS lists {sorted(man_exit_codes())}, docs/ballastd.md {sorted(codes)}")
    if help_exit_codes() != codes:
        fail(f"ballastd --help's exit status lists {sorted(help_exit_codes())}, the docs {sorted(codes)}")

    fleet = os.path.join(tmp, "fleet")
    os.makedirs(fleet, exist_ok=True)
    sock = os.path.join(tmp, "ctl.sock")
    first = start(BALLASTD, "--fleet", fleet, "--socket", sock, "--config-dir", good,
                  log=os.path.join(tmp, "first.log"))
    if not wait_ping(sock):
        fail("ballastd on an empty fleet did not answer")
        return

    def rc_of(*argv: str, env: dict | None = None) -> int:
        if "--fleet" in argv or "--libvirt" in argv:  # one that could run: on the fake KSM tree
            argv = (*argv, "--ksm-sysfs-root", KSM_ROOT)
        return subprocess.run(list(argv), capture_output=True, timeout=15, check=False,
                              env={**os.environ, **(env or {})}).returncode

    def sigterm_rc(sig: int) -> int:
        s = os.path.join(tmp, f"sig{sig}.sock")
        p = start(BALLASTD, "--fleet", fleet, "--socket", s, "--config-dir", good,
                  log=os.path.join(tmp, "sig.log"))
        return stop(p, sig) if wait_ping(s) else -1

    def bad_config_at_start_runs() -> int:
        """'at start they are logged and ballastd runs': not an exit at all."""
        s = os.path.join(tmp, "bad.sock")
        p = start(BALLASTD, "--fleet", fleet, "--socket", s, "--config-dir", bad,
                  log=os.path.join(tmp, "bad-start.log"))
        running = wait_ping(s) and p.poll() is None
        rc = stop(p)
        return -1 if not running else rc  # a SIGTERM exit then: 0

    def check_config_errors_printed() -> int:
        r = run(BALLASTD, "--check-config", bad)
        lines = [ln for ln in r.stderr.splitlines() if ln]
        if not lines or not all(re.match(r"^.+\.conf:\d+: \S", ln) for ln in lines):
            fail(f"--check-config's errors are not each `file:line: message`: {r.stderr!r}")
        return r.returncode

    # (program, the row, a phrase of its cell, what is run, the exit code it must give)
    cases = [
        ("ballastd", 0, "clean exit on SIGTERM/SIGINT", "SIGTERM", 0, lambda: sigterm_rc(signal.SIGTERM)),
        ("ballastd", 0, "clean exit on SIGTERM/SIGINT", "SIGINT", 0, lambda: sigterm_rc(signal.SIGINT)),
        ("ballastd", 0, "`--check-config` found no error", "--check-config GOOD", 0,
         lambda: rc_of(BALLASTD, "--check-config", good)),
        ("ballastd", 1, "fleet directory missing", "--fleet MISSING", 1,
         lambda: rc_of(BALLASTD, "--fleet", os.path.join(tmp, "missing"), "--socket",
                       os.path.join(tmp, "m.sock"))),
        ("ballastd", 1, "control socket cannot be bound", "--socket in a missing directory", 1,
         lambda: rc_of(BALLASTD, "--fleet", fleet, "--socket", os.path.join(tmp, "no", "x.sock"))),
        ("ballastd", 1, "another ballastd listens on it", "a second ballastd", 1,
         lambda: rc_of(BALLASTD, "--fleet", fleet, "--socket", sock)),
        ("ballastd", 1, "libvirt module missing or foreign", "--libvirt, module missing", 1,
         lambda: rc_of(BALLASTD, "--libvirt", "--socket", os.path.join(tmp, "lv.sock"),
                       env={"BALLAST_LIBVIRT_MODULE": os.path.join(tmp, "none.so")})),
        ("ballastd", 2, "usage error", "--no-such-option", 2, lambda: rc_of(BALLASTD, "--no-such-option")),
        ("ballastd", 2, "usage error", "no VM source", 2, lambda: rc_of(BALLASTD)),
        ("ballastd", 2, "`--check-config` found errors (each printed as `file:line: message`",
         "--check-config BAD", 2, check_config_errors_printed),
        # The same row: a config error at start is no exit; SIGTERM then exits 0.
        ("ballastd", 2, "at start they are logged and ballastd runs",
         "a bad config at start, then SIGTERM", 0, bad_config_at_start_runs),
        ("ballastctl", 0, "request served", "ping", 0,
         lambda: rc_of(BALLASTCTL, "--socket", sock, "ping")),
        ("ballastctl", 1, "no daemon / socket error", "a socket nobody listens on", 1,
         lambda: rc_of(BALLASTCTL, "--socket", os.path.join(tmp, "none.sock"), "status")),
        ("ballastctl", 1, "the daemon refused the request (`no-such-vm`", "explain of no VM", 1,
         lambda: rc_of(BALLASTCTL, "--socket", sock, "explain", "nosuchvm")),
        ("ballastctl", 2, "usage error (a message says which)", "an unknown command", 2,
         lambda: rc_of(BALLASTCTL, "--socket", sock, "frobnicate")),
    ]
    for prog, row, phrase, what, want, fn in cases:
        cell = table[row][0 if prog == "ballastd" else 1] if row in table else ""
        if phrase not in cell:
            fail(f"docs/ballastd.md, exit {row} of {prog}: the row no longer says "
                 f"'{phrase}' (it says '{cell}'): update the row or this case")
        rc = fn()
        if rc != want:
            fail(f"{prog}, {what}: exit {rc}, the docs say {want} ('{phrase}')")
    if stop(first) != 0:
        fail("the first ballastd did not exit 0 on SIGTERM after the exit-code cases")
    ok(f"exit codes: {len(cases)} cases of docs/ballastd.md's table, ballastd(8) and --help agree", n_failed)


# --- 2. --check-config as the docs write it -------------------------------------------------------


def check_config_forms(good: str, bad: str) -> None:
    n_failed = len(failures)
    text = read_doc("docs/config.md") + read_doc("docs/ballastd.md")
    forms = {f.replace("[DIR]", "DIR") for f in
             re.findall(r"--check-config(?: --config-dir)? \[?DIR\]?", text)}
    if len(forms) < 2:
        fail(f"found {sorted(forms)} as --check-config forms in the docs: the parse is broken")
    for form in sorted(forms):
        for d, want in ((good, 0), (bad, 2)):
            argv = [BALLASTD] + [d if w == "DIR" else w for w in form.split()]
            r = run(*argv)
            if r.returncode != want:
                fail(f"ballastd {form} on a {'clean' if want == 0 else 'bad'} directory: exit "
                     f"{r.returncode}, docs/config.md says {want}: {r.stderr.strip()}")
            if want == 2 and "tick_interval_ms" not in r.stderr:
                fail(f"ballastd {form}: the error is not printed: {r.stderr!r}")
    ok(f"--check-config as the docs write it: {', '.join(sorted(forms))}", n_failed)


# --- 3. the errors table --------------------------------------------------------------------------

# Per row of "Errors detected" (its first cell), one input per example
# message, in the row's order: (file name, content).
ERROR_INPUTS: dict[str, list[tuple[str, bytes]]] = {
    "unknown key": [("web.conf", b"[vm]\nshares = 2\ncolour = red\n")],
    "key in the wrong file/group": [("web.conf", b"[vm]\ntick_interval_ms = 1000\n")],
    "unknown group": [("web.conf", b"[virtual-machine]\nshares = 2\n")],
    "duplicate key / group": [("web.conf", b"[vm]\nshares = 2\nmin_memory = 64M\nshares = 3\n")],
    "bad size": [("web.conf", b"[vm]\nmin_memory = 12X\n")],
    "size too large": [("web.conf", b"[vm]\nmax_memory = 99999999999999999999999\n")],
    "bad number, out of range": [("web.conf", b"[vm]\nshares = 0\n")],
    "mode typo": [("web.conf", b"[vm]\nmode = observ\n")],
    "bad bool": [("web.conf", b"[vm]\nksm = maybe\n")],
    "min > max": [("web.conf", b"[vm]\nmax_memory = 1G\nshares = 2\nmin_memory = 2G\n")],
    "fixed outside [min, max]": [("db.conf",
                                  b"[vm]\nmode = fixed\nfixed_memory = 8G\nmax_memory = 4G\n")],
    "low > high watermark": [("ballastd.conf",
                              b"[ballastd]\nhost_avail_high_pct = 20\nhost_avail_low_pct = 30\n")],
    "bad budget": [("ballastd.conf", b"[ballastd]\ntick_interval_ms = 1000\nmemory_budget = 150%\n"),
                   ("ballastd.conf", b"[ballastd]\ntick_interval_ms = 1000\nmemory_budget = 0\n"),
                   ("ballastd.conf", b"[ballastd]\ntick_interval_ms = 1000\nmemory_budget = abc\n")],
    "bad cgroup path": [("ballastd.conf", b"[ballastd]\ntick_interval_ms = 1000\nmemory_budget = 1G\n"
                                          b"memory_cgroup = machine.slice\n")],
    "not `key = value`": [("web.conf", b"[vm]\nshares\n")],
    "key before any group": [("web.conf", b"shares = 2\n[vm]\n")],
    "binary / not UTF-8": [("web.conf", b"[vm\x00]\n"), ("web.conf", b"[vm]\nshares = \xff\n")],
    "too large, not a file": [("web.conf", b"# " + b"x" * 65536 + b"\n"), ("fifo.conf", None)],
}
# Rows whose message --check-config cannot show, and why.
NOT_MECHANICAL = {
    "budget under the VMs' minimum (at run time)":
        "needs the VMs ballastd manages: integration.daemon.budget checks it on real guests",
}


def error_messages(tmp: str) -> None:
    n_failed = len(failures)
    md = read_doc("docs/config.md")
    rows = table_rows(section(md, "Errors").split("Errors detected:", 1)[1])
    if len(rows) < 10:
        fail(f"docs/config.md's errors table: {len(rows)} rows read, the parse is broken")
    checked = 0
    for row in rows:
        name, msgs = row[0], re.findall(r"`([^`]+)`", row[1])
        if name in NOT_MECHANICAL:
            continue
        inputs = ERROR_INPUTS.get(name)
        if inputs is None:
            fail(f"docs/config.md's errors table has a row '{name}' this test has no input for: "
                 "add one to ERROR_INPUTS (or the reason to NOT_MECHANICAL)")
            continue
        if len(inputs) != len(msgs):
            fail(f"row '{name}': {len(msgs)} example messages in the doc, {len(inputs)} inputs here")
            continue
        for (fname, content), msg in zip(inputs, msgs):
            d = tempfile.mkdtemp(prefix="case-", dir=tmp)
            path = os.path.join(d, fname)
            if content is None:
                os.mkfifo(path)
            else:
                with open(path, "wb") as f:
                    f.write(content)
            r = run(BALLASTD, "--check-config", d)
            want = os.path.join(d, msg)
            if r.returncode != 2 or r.stderr.splitlines().count(want) != 1:
                fail(f"row '{name}': docs/config.md says `{msg}`; --check-config printed "
                     f"{r.stderr.replace(d + '/', '')!r} (exit {r.returncode})")
            checked += 1
    ok(f"docs/config.md's errors table: {checked} example messages printed word for word "
       f"({len(NOT_MECHANICAL)} row(s) not checkable here, said why)", n_failed)


# --- 4. safe mode, said once, called safe ------------------------------------------------------------


def logged_example() -> str:
    """docs/config.md's example of the line a running ballastd logs for an error."""
    m = re.search(r"logged once by the running ballastd at start and at each reload as\s+`([^`]+)`",
                  read_doc("docs/config.md"))
    if not m:
        raise SystemExit("FAIL: docs/config.md no longer shows the logged line: the test cannot read it")
    return flat(m.group(1))


def safe_mode(tmp: str) -> None:
    n_failed = len(failures)
    example = logged_example()  # config: web.conf:3: unknown key 'colour' in [vm] (...)
    m = re.fullmatch(r"config: (\S+?\.conf):(\d+): (.*)", example)
    if not m:
        fail(f"docs/config.md's logged example '{example}' is not `config: FILE:LINE: message`")
        return
    line_no, tail = int(m.group(2)), m.group(3)
    conf = os.path.join(tmp, "safe-conf")
    fleet = os.path.join(tmp, "safe-fleet")
    os.makedirs(conf)
    os.makedirs(fleet)
    # The example's error on the example's line, and a second error, in the
    # file of the fake fleet's one VM, fake0 (the docs' web.conf stands for any VM's file).
    body = ["[vm]", "min_memory = 64M", "colour = red", "shares = 0"]
    if line_no != 3 or "unknown key 'colour' in [vm]" not in tail:
        fail(f"docs/config.md's logged example changed ('{example}'): update this case")
        return
    vm = "fake0"
    fname = vm + ".conf"
    with open(os.path.join(conf, fname), "w") as f:
        f.write("\n".join(body) + "\n")
    with open(os.path.join(conf, "ballastd.conf"), "w") as f:  # decisions every second
        f.write("[ballastd]\ntick_interval_ms = 1000\nksm_mode = observe\n")
    if not os.access(FAKE_FLEET, os.X_OK):
        fail(f"{FAKE_FLEET} not built")
        return
    fake = subprocess.Popen([FAKE_FLEET, fleet, "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    procs.append(fake)
    if fake.stdout.readline().strip() != "ready":
        fail("the fake fleet did not start")
        return
    sock = os.path.join(tmp, "safe.sock")
    log = os.path.join(tmp, "safe.log")
    p = start(BALLASTD, "--fleet", fleet, "--socket", sock, "--config-dir", conf, log=log)
    if not wait_ping(sock):
        fail(f"ballastd with a bad {fname} did not run: {log_of(log)[-2000:]}")
        return
    first = f"config: {os.path.join(conf, fname)}:{line_no}: {tail}"
    second = (f"config: {os.path.join(conf, fname)}:4: shares = 0: out of range [1, 1000000] "
              "(the VMs it covers run in safe mode)")

    def count(text: str) -> int:
        return sum(1 for ln in log_of(log).splitlines() if ln.endswith(text))

    def explain_json() -> dict:
        try:
            return json.loads(run(BALLASTCTL, "--socket", sock, "--json", "explain", vm).stdout)
        except ValueError:
            return {}

    # Until ballastd has QEMU's figures of the VM and decided once (a 1 s tick).
    deadline = time.monotonic() + 15
    ex = explain_json()
    while time.monotonic() < deadline and not (ex.get("evaluated") and ex.get("config_error")):
        time.sleep(0.3)
        ex = explain_json()
    if not (ex.get("evaluated") and ex.get("config_error")):
        fail(f"explain --json {vm}: never evaluated with its config_error: {json.dumps(ex)[:600]}")
    for text, what in ((first, "the example error"), (second, "a second error")):
        c = count(text)
        if c != 1:
            fail(f"{what} logged {c} times at start, not once as `{text}`")
    os.kill(p.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "config reloaded" not in log_of(log):
        time.sleep(0.2)
    for text in (first, second):
        if count(text) != 2:
            fail(f"after a reload `{text}` is logged {count(text)} times, not once per load (2)")
    ex = explain_json()
    mode = (ex.get("params") or {}).get("mode")
    if mode != "safe":
        fail(f"explain --json {vm}: mode {mode!r}, not 'safe': {json.dumps(ex)[:600]}")
    human = run(BALLASTCTL, "--socket", sock, "explain", vm).stdout
    if "safe mode" not in human:
        fail(f"explain {vm} does not say safe mode: {human}")
    table = run(BALLASTCTL, "--socket", sock, "status").stdout
    row = next((ln for ln in table.splitlines() if ln.split()[:1] == [vm]), "")
    if "safe" not in row.split():
        fail(f"status shows {vm} without mode safe: '{row}'")
    words = (human + table + log_of(log)).lower()
    for bad in ("observe forced", "forced observe", "forced to observe"):
        if bad in words:
            fail(f"'{bad}' said where the mode is safe")
    stop(p)
    fake.stdin.close()
    stop(fake)
    ok(f"safe mode: {fname}'s errors logged once per load as docs/config.md shows, "
       "mode safe in status, explain and explain --json", n_failed)


def no_observe_forced() -> None:
    """No program and no doc calls safe mode "observe forced"."""
    n_failed = len(failures)
    files = [BALLASTD, BALLASTCTL, os.path.join(BUILD, "lib", "ballast-libvirt.so")]
    for root in ("docs", os.path.join("docs", "man")):
        d = os.path.join(SRC, root)
        files += [os.path.join(d, f) for f in os.listdir(d) if f.endswith((".md", ".scd"))]
    for path in files:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read().lower()
        for bad in (b"observe forced", b"forced observe"):
            if bad in data:
                fail(f"{path} says '{bad.decode()}': safe mode is called safe")
    ok(f"no 'observe forced' in {len(files)} programs and docs", n_failed)


def main() -> int:
    for exe in (BALLASTD, BALLASTCTL):
        if not os.access(exe, os.X_OK):
            print(f"FAIL: {exe} not built", file=sys.stderr)
            return 1
    global KSM_ROOT
    tmp = tempfile.mkdtemp(prefix="ballast-docs-")
    try:
        KSM_ROOT = os.path.join(tmp, "ksm")
        shutil.copytree(os.path.join(SRC, "tests", "fixtures", "ksm-6.18", "sysfs"), KSM_ROOT)
        good = os.path.join(tmp, "good")
        bad = os.path.join(tmp, "bad")
        os.makedirs(good)
        os.makedirs(bad)
        with open(os.path.join(good, "ballastd.conf"), "w") as f:
            f.write("[ballastd]\ntick_interval_ms = 1000\n")
        with open(os.path.join(bad, "ballastd.conf"), "w") as f:
            f.write("[ballastd]\ntick_interval_ms = soon\n")
        exit_codes(tmp, good, bad)
        check_config_forms(good, bad)
        error_messages(tmp)
        safe_mode(tmp)
        no_observe_forced()
    finally:
        for p in procs:  # ours only, by PID
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
