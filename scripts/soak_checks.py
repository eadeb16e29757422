#!/usr/bin/env python3
"""The decisions of scripts/soak (the chaos soak, docs/benchmarks/reliability.md).

scripts/soak boots guests, injects faults and samples ballastd; everything it
decides or judges is here, as pure functions on numbers and JSON-like dicts,
so that unit.scripts.soak_checks checks them on fixture samples without a
guest: the seeded fault schedule, each guest's workload, the host memory
hog's size, the invariants over ballastd's samples and the RSS rule.

  soak_checks.py schedule --seed S --seconds T --kinds K[,K...]
      The faults, one a line: "AT_S KIND DURATION_S PICK FRAC" (PICK chooses
      the victim among the live guests, FRAC a value within its bounds).
  soak_checks.py workloads --seed S --memory-mib M [--salt X] NAME...
      One line per guest: "NAME SPEC" (ballast-workload's grammar, docs/agent.md).
  soak_checks.py hog-size --cap-mib C
      The hog's size in MiB for this host's /proc/meminfo now (0: too little room).
  soak_checks.py sample --socket SOCK --pid-file F --out FILE [--events FILE]
      The sampler: every second ballastd's status and every VM's explain
      (one connection to the control socket) and ballastd's VmRSS from
      /proc/PID/status, one JSON line per sample into FILE. With --events
      the same checks as `check` run live and violations go to stderr at once.
  soak_checks.py check --samples FILE --events FILE [--run KV] [--summary FILE]
                       [--console FILE...]
      The verdict: every violation with its time and the fault before it, a
      summary (JSON) with --summary. Exit 1 on any violation.
  soak_checks.py doc --summary FILE --doc FILE
      Writes the results into FILE above its "## Method" heading.

The invariants (docs/benchmarks/reliability.md, "Method"):
  oom       no guest OOM kill: an agent's oom_kill count that rises (and
            "Killed process" lines on the consoles, checked at the end);
  bounds    no target outside [min, max]: the engine's target_bytes and the
            last target sent (target_set_bytes) against the VM's
            params.min_bytes and params.max_bytes, in every sample once the
            VM has been evaluated;
  recovery  after each fault (when its injection is done, and again when a
            long fault ends) every surviving guest is managed within 10 s:
            mode managed, QMP and agent connected, and an agent report
            received after the fault and at most 10 s old;
  rss       ballastd's VmRSS within +-10 % of its median, per process
            (a restart is a new process), counted from 120 s after the
            run's start (30 s after a restart);
  daemon    ballastd answers, except while a kill-ballastd fault restarts it;
  driver    what scripts/soak itself found wrong (a state file not read
            after a restart, a relaunch that failed), recorded as events.

Exit status: 0; 1 for a violation (check); 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Iterable, TextIO

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import density_stats  # noqa: E402  (console OOM lines, the doc splice)

FAULT_KINDS = ("kill-ballastd", "kill-qemu", "restart-libvirtd", "hostile-agent", "host-hog",
               "foreign-balloon")
# Faults that last (the hog holds its memory, the hostile agent keeps going):
# recovery is checked when they start and again when they end.
LONG_FAULTS = ("hostile-agent", "host-hog")

DEADLINE_S = 10.0          # every surviving guest managed again within this
FRESH_MS = 10000           # ... with an agent report at most this old (polled: <= 8.6 s)
RSS_TOLERANCE = 0.10       # ballastd's VmRSS within +-10 % of its median
RSS_WARMUP_S = 120.0       # the first process: counted from 2 min after the start
RSS_RESTART_WARMUP_S = 30.0  # a restarted one reconnects to every guest within seconds
RSS_MIN_SAMPLES = 10       # fewer counted samples: not judged (said so)
DOWN_TOLERANCE_S = 10.0    # ballastd may be slow to answer this long outside a restart

MIB = 1 << 20


# --- the fault schedule -------------------------------------------------------------------


@dataclass
class Fault:
    at_s: float        # seconds after the soak's start
    kind: str
    duration_s: float  # long faults: how long; kill-ballastd: down time before the restart
    pick: int          # victim: live_guests[pick % len(live_guests)]
    frac: float        # foreign-balloon: min + frac * (max - min)

    def line(self) -> str:
        return f"{self.at_s:.1f} {self.kind} {self.duration_s:.0f} {self.pick} {self.frac:.3f}"


def schedule_params(seconds: float) -> dict:
    """Spacing of the faults for a run of this length: a quiet start (every
    guest managed, ballastd settled), gaps of at least the recovery deadline
    and some margin, long faults shorter in a short (CI) run, and a tail in
    which the last fault's recovery is still judged."""
    short = seconds < 600
    return {
        "quiet_s": min(60.0, max(20.0, seconds * 0.15)),
        "gap_min_s": DEADLINE_S + 5.0,
        "gap_spread_s": min(45.0, seconds / 40.0),
        "long_s": (15.0, 25.0) if short else (30.0, 90.0),
        "down_s": (0.0, 3.0),
        "tail_s": DEADLINE_S + 5.0,
    }


def fault_schedule(seed: int, seconds: float, kinds: Iterable[str]) -> list[Fault]:
    """Faults one at a time, from a shuffled deck of the kinds (every kind
    once before any twice), each followed by a recovery gap."""
    kinds = [k for k in FAULT_KINDS if k in set(kinds)]
    p = schedule_params(seconds)
    rng = random.Random(f"soak-faults-{seed}")
    out: list[Fault] = []
    deck: list[str] = []
    t = p["quiet_s"]
    while kinds:
        if not deck:
            deck = kinds[:]
            rng.shuffle(deck)
        kind = deck[0]
        if kind in LONG_FAULTS:
            dur = round(rng.uniform(*p["long_s"]))
        elif kind == "kill-ballastd":
            dur = round(rng.uniform(*p["down_s"]))
        else:
            dur = 0
        pick = rng.randrange(1 << 16)
        frac = rng.random()
        if t + dur + p["tail_s"] > seconds:
            break
        deck.pop(0)
        out.append(Fault(round(t, 1), kind, dur, pick, frac))
        t += dur + p["gap_min_s"] + rng.uniform(0.0, p["gap_spread_s"])
    return out


# --- workloads ----------------------------------------------------------------------------


def workload_spec(rng: random.Random, memory_mib: int) -> str:
    """One guest's workload: idle at a base, then either bursts (spike:
    the peak at once, held, released, again every so often) or ramps
    (sawtooth: a step every tick up to the top, then released to the base).
    The peak stays at 9/16 of the guest (144 MiB of 256, bench-density's
    burst), which the guest holds without ballast's help: an OOM kill is
    then ballast's doing, not the workload's."""
    peak_max = memory_mib * 9 // 16
    base = min(rng.choice([0, 8, 16, 24, 32]), peak_max // 4)
    top = rng.randint(peak_max // 2, peak_max)
    start = rng.randint(0, 20)
    if rng.random() < 0.5:
        after = rng.randint(5, 60)
        hold = rng.randint(5, 30)
        every = after + hold + rng.randint(10, 60)
        return (f"spike:base={base}M,peak={top}M,start={start}s,after={after}s,"
                f"hold={hold}s,every={every}s")
    step = rng.choice([4, 8, 16])
    tick = rng.choice([1, 2, 3])
    return f"sawtooth:min={base}M,max={top}M,step={step}M,tick={tick}s,start={start}s"


def workload_specs(seed: int, names: Iterable[str], memory_mib: int, salt: str = "") -> dict:
    return {n: workload_spec(random.Random(f"soak-workload-{seed}-{n}-{salt}"), memory_mib)
            for n in names}


# --- the host memory hog ------------------------------------------------------------------

HOG_TARGET_PCT = 15  # leave MemAvailable at 15 % of MemTotal: inside ballastd's host
# pressure band (host_avail_high_pct 20 .. host_avail_low_pct 10)
HOG_FLOOR_PCT = 12   # never take the host below 12 %: far above the kernel's OOM point
# (min_free_kbytes, tens of MiB), and room for the guests' own growth
HOG_CHUNK_MIB = 64


def hog_plan_mib(total_kib: int, avail_kib: int, cap_mib: int) -> int:
    """How much the hog should hold: down to HOG_TARGET_PCT of MemTotal
    available, at most cap_mib; 0 when that is less than one chunk."""
    want_kib = avail_kib - total_kib * HOG_TARGET_PCT // 100
    want_mib = min(max(want_kib // 1024, 0), cap_mib)
    return want_mib if want_mib >= HOG_CHUNK_MIB else 0


def hog_step(total_kib: int, avail_kib: int, held_mib: int, want_mib: int) -> int:
    """The hog's next move in MiB: give a chunk back when the host is below
    the floor (someone else took memory meanwhile), take one while below
    want_mib and the chunk keeps the host above the floor, else hold."""
    floor_kib = total_kib * HOG_FLOOR_PCT // 100
    if avail_kib < floor_kib and held_mib > 0:
        return -min(HOG_CHUNK_MIB, held_mib)
    chunk = min(HOG_CHUNK_MIB, want_mib - held_mib)
    if chunk > 0 and avail_kib - chunk * 1024 >= floor_kib:
        return chunk
    return 0


def meminfo_kib(text: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in KiB from /proc/meminfo's text; 0 when missing."""
    vals = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("MemTotal:", "MemAvailable:") and parts[1].isdigit():
            vals[parts[0]] = int(parts[1])
    return vals.get("MemTotal:", 0), vals.get("MemAvailable:", 0)


# --- the invariants -----------------------------------------------------------------------


@dataclass
class Violation:
    t: float
    rule: str
    vm: str | None
    message: str
    context: str = ""

    def text(self, t0: float | None) -> str:
        when = f"+{self.t - t0:.1f}s" if t0 is not None else f"{self.t:.1f}"
        who = f" {self.vm}" if self.vm else ""
        ctx = f" [{self.context}]" if self.context else ""
        return f"VIOLATION {when} {self.rule}{who}: {self.message}{ctx}"


def vm_managed(v: dict | None, t: float, since: float, fresh_ms: int = FRESH_MS) -> bool:
    """Whether a VM in a sample taken at t is managed with an agent report
    received at or after `since` and at most fresh_ms old (age_ms: the
    report's age when ballastd answered, see compact_vm)."""
    if not v or v.get("mode") != "managed" or v.get("qmp") != "connected":
        return False
    if v.get("agent") != "connected" or not v.get("report_valid"):
        return False
    age = v.get("age_ms")
    if age is None or age > fresh_ms:
        return False
    return t - age / 1000.0 >= since


def bound_violations(t: float, name: str, v: dict) -> list[Violation]:
    lo, hi = v.get("min_bytes"), v.get("max_bytes")
    out = []
    # Before its first decision (a restarted ballastd, a new VM) a VM's params
    # are not computed (explain shows 0) while its restored target is shown.
    if lo is None or hi is None or hi <= 0 or v.get("evaluated") is False:
        return out
    for key in ("target_bytes", "target_set_bytes"):
        x = v.get(key)
        if x is None or x <= 0:  # -1: not evaluated yet; 0: nothing sent since QMP connected
            continue
        if x < lo:
            out.append(Violation(t, "bounds", name,
                                 f"{key} {x / MIB:.1f} MiB below min {lo / MIB:.1f} MiB"))
        elif x > hi:
            out.append(Violation(t, "bounds", name,
                                 f"{key} {x / MIB:.1f} MiB above max {hi / MIB:.1f} MiB"))
    return out


def rss_check(series: list[tuple[float, int, int]], t0: float,
              warmup_s: float = RSS_WARMUP_S, restart_warmup_s: float = RSS_RESTART_WARMUP_S,
              tolerance: float = RSS_TOLERANCE,
              min_samples: int = RSS_MIN_SAMPLES) -> tuple[list[Violation], list[dict]]:
    """ballastd's RSS, per process: the samples (t, pid, rss_kib) after its
    warm-up against their median. Returns the violations (one per process:
    the first sample outside, the worst, how many) and a summary per process."""
    first_seen: dict[int, float] = {}
    for t, pid, _ in series:
        first_seen.setdefault(pid, t)
    order = sorted(first_seen, key=first_seen.get)
    violations, summary = [], []
    for i, pid in enumerate(order):
        start = t0 + warmup_s if i == 0 else max(t0, first_seen[pid]) + restart_warmup_s
        pts = [(t, kib) for t, p, kib in series if p == pid and t >= start]
        row = {"pid": pid, "samples": len(pts), "judged": len(pts) >= min_samples}
        if pts:
            vals = [kib for _, kib in pts]
            med = statistics.median(vals)
            devs = [(abs(kib - med) / med if med else 0.0, t, kib) for t, kib in pts]
            worst = max(devs)
            row.update(median_kib=med, min_kib=min(vals), max_kib=max(vals),
                       max_dev_pct=round(100 * worst[0], 1))
            outside = [(t, kib) for d, t, kib in devs if d > tolerance]
            if row["judged"] and outside:
                violations.append(Violation(
                    outside[0][0], "rss", None,
                    f"ballastd (pid {pid}) VmRSS {outside[0][1]} KiB is "
                    f"{100 * (outside[0][1] - med) / med:+.0f}% from its median {med:.0f} KiB; "
                    f"{len(outside)} of {len(pts)} samples outside +-{100 * tolerance:.0f}%, "
                    f"worst {worst[2]} KiB ({100 * worst[0]:.0f}%)"))
        summary.append(row)
    return violations, summary


@dataclass
class Window:
    """A recovery check: every survivor managed within the deadline of t."""
    t: float
    label: str
    fault_t: float
    survivors: set
    recovered: dict = field(default_factory=dict)


class Checker:
    """The invariants over a run, fed its events and samples in time order
    (events first on a tie). The same object runs live in the sampler and
    once more over the files at the end (`check`), which is the verdict."""

    def __init__(self, deadline_s: float = DEADLINE_S, fresh_ms: int = FRESH_MS):
        self.deadline_s, self.fresh_ms = deadline_s, fresh_ms
        self.t0: float | None = None
        self.t_end: float | None = None
        self.expected: set = set()
        self.hostile: set = set()
        self.faults: list[dict] = []
        self.kills: list[tuple[float, float]] = []  # kill-ballastd: (t, t_done)
        self.windows: list[Window] = []
        self.recoveries: list[dict] = []
        self.oom_seen: dict = {}
        self.oom_total = 0
        self.rss: list[tuple[float, int, int]] = []
        self.down: list[float] = []  # the current streak of unanswered samples
        self.violations: list[Violation] = []
        self.samples = 0
        self.last_t: float | None = None

    # context: the fault a time belongs to, for the reader of a violation
    def context(self, t: float) -> str:
        if self.t0 is None or t < self.t0:
            return "boot"
        before = [f for f in self.faults if f["t"] <= t]
        if not before:
            return "no fault yet"
        f = before[-1]
        return f"{t - f['t']:.1f} s after {f['kind']} at +{f['t'] - self.t0:.1f}s" + (
            f" ({f['detail']})" if f.get("detail") else "")

    def _add(self, vs: Iterable[Violation]) -> list[Violation]:
        vs = list(vs)
        for v in vs:
            if not v.context:
                v.context = self.context(v.t)
        self.violations.extend(vs)
        return vs

    def event(self, ev: dict) -> list[Violation]:
        kind, t = ev.get("event"), float(ev.get("t", 0))
        if kind == "start":
            self.t0 = t
            self.expected = set(ev.get("guests", []))
        elif kind == "guest-gone":
            self.expected.discard(ev["name"])
        elif kind == "guest-up":
            self.expected.add(ev["name"])
        elif kind == "hostile-up":
            self.hostile.add(ev["name"])
        elif kind == "hostile-gone":
            self.hostile.discard(ev["name"])
        elif kind == "fault":
            done = float(ev.get("t_done", t))
            f = {"t": t, "t_done": done, "kind": ev.get("kind", "?"),
                 "detail": ev.get("detail", ""), "victims": list(ev.get("victims", []))}
            self.faults.append(f)
            if f["kind"] == "kill-ballastd":
                self.kills.append((t, done))
            self.windows.append(Window(done, f["kind"], t, set(self.expected) - set(f["victims"])))
        elif kind == "fault-end":
            # reported with the fault it ends (its start), checked from its end
            start = next((f["t"] for f in reversed(self.faults) if f["kind"] == ev.get("kind")), t)
            self.windows.append(Window(t, f"end of {ev.get('kind', '?')}", start, set(self.expected)))
        elif kind == "violation":
            return self._add([Violation(t, ev.get("rule", "driver"), ev.get("vm"),
                                        ev.get("message", "?"))])
        elif kind == "end":
            self.t_end = t
        return []

    def _killed_at(self, a: float, b: float) -> bool:
        return any(t <= b and done + self.deadline_s >= a for t, done in self.kills)

    def _end_down_streak(self) -> list[Violation]:
        streak, self.down = self.down, []
        if not streak or streak[-1] - streak[0] < DOWN_TOLERANCE_S:
            return []
        if self._killed_at(streak[0], streak[-1]):
            return []
        return [Violation(streak[0], "daemon", None,
                          f"ballastd did not answer for {streak[-1] - streak[0]:.1f} s "
                          "outside a restart")]

    def _windows(self, t: float, vms: dict) -> list[Violation]:
        out = []
        for w in list(self.windows):
            if t < w.t:
                continue
            for name in w.survivors - set(w.recovered):
                if t <= w.t + self.deadline_s and vm_managed(vms.get(name), t, w.t, self.fresh_ms):
                    w.recovered[name] = t
            done = not (w.survivors - set(w.recovered))
            if done or t > w.t + self.deadline_s:
                out.extend(self._close(w, vms))
        return out

    def _close(self, w: Window, vms: dict | None) -> list[Violation]:
        self.windows.remove(w)
        missing = sorted(w.survivors - set(w.recovered))
        worst = max((r - w.t for r in w.recovered.values()), default=0.0)
        self.recoveries.append({"at_s": None if self.t0 is None else round(w.fault_t - self.t0, 1),
                                "check": w.label, "survivors": len(w.survivors),
                                "recovered_s": None if missing else round(worst, 1),
                                "not_recovered": missing})
        out = []
        for name in missing:
            v = (vms or {}).get(name)
            seen = "not in status" if v is None else (
                f"mode {v.get('mode')}, qmp {v.get('qmp')}, agent {v.get('agent')}, "
                f"report age {v.get('age_ms')} ms")
            out.append(Violation(w.t + self.deadline_s, "recovery", name,
                                 f"not managed with a fresh agent report within "
                                 f"{self.deadline_s:.0f} s after {w.label} ({seen})",
                                 self.context(w.t)))
        return out

    def sample(self, s: dict) -> list[Violation]:
        t = float(s["t"])
        self.samples += 1
        self.last_t = t
        out: list[Violation] = []
        if s.get("pid") and s.get("rss_kib"):
            self.rss.append((t, int(s["pid"]), int(s["rss_kib"])))
        if not s.get("ok"):
            self.down.append(t)
            out += self._windows(t, {})
            return self._add(out)
        out += self._end_down_streak()
        vms = s.get("vms", {})
        for name, v in vms.items():
            out += bound_violations(t, name, v)
            if name in self.hostile:
                continue  # its reports are lies by design
            n = v.get("oom_kill_count")
            if n is not None:
                prev = self.oom_seen.get(name, 0)
                if n > prev:
                    self.oom_total += n - prev
                    out.append(Violation(t, "oom", name, f"guest OOM kill: count {prev} -> {n}"))
                self.oom_seen[name] = n  # a relaunched guest starts again at 0
        out += self._windows(t, vms)
        return self._add(out)

    def finish(self, t_end: float | None = None) -> list[Violation]:
        t_end = t_end or self.t_end or self.last_t or 0.0
        out = self._end_down_streak()
        for w in list(self.windows):
            vs = self._close(w, None)
            for v in vs:
                v.message += f"; no sample after the deadline (the run ended at +{t_end - (self.t0 or 0):.0f}s)"
            out += vs
        rv, self.rss_summary = rss_check(self.rss, self.t0 if self.t0 is not None else 0.0)
        out += rv
        return self._add(out)

    def summary(self) -> dict:
        kinds: dict = {}
        for f in self.faults:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        t0 = self.t0 or 0.0
        return {
            "duration_s": None if self.t_end is None or self.t0 is None else round(self.t_end - t0, 1),
            "samples": self.samples,
            "faults": [{"at_s": round(f["t"] - t0, 1), "kind": f["kind"], "detail": f["detail"],
                        "victims": f["victims"]} for f in self.faults],
            "fault_counts": kinds,
            "recoveries": self.recoveries,
            "oom_kills_agent": self.oom_total,
            "bound_violations": sum(1 for v in self.violations if v.rule == "bounds"),
            "rss": getattr(self, "rss_summary", []),
            "violations": [v.text(self.t0) for v in self.violations],
            "passed": not self.violations,
        }


def merged(events: list[dict], samples: list[dict]) -> list[tuple[str, dict]]:
    """Events and samples in the order the checker must see them: an event
    at the time it became known (a fault when its injection was done)."""
    def when(ev):
        return float(ev.get("t_done", ev.get("t", 0))) if ev.get("event") == "fault" else float(
            ev.get("t", 0))
    items = [(when(e), 0, "event", e) for e in events] + [
        (float(s["t"]), 1, "sample", s) for s in samples]
    items.sort(key=lambda x: (x[0], x[1]))
    return [(k, d) for _, _, k, d in items]


def run_checks(events: list[dict], samples: list[dict], console_ooms: int = 0,
               checker: Checker | None = None) -> Checker:
    c = checker or Checker()
    for kind, d in merged(events, samples):
        (c.event if kind == "event" else c.sample)(d)
    c.finish()
    if console_ooms:
        c._add([Violation(c.t_end or c.last_t or 0.0, "oom", None,
                          f"{console_ooms} OOM kill line(s) on the guest consoles", "end")])
    c.console_ooms = console_ooms
    return c


def read_jsonl(path: str) -> list[dict]:
    """JSON objects one a line; a torn last line (the writer was killed) is skipped."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict):
                out.append(d)
    return out


# --- the sampler --------------------------------------------------------------------------


def compact_vm(status_vm: dict, explain: dict | None) -> dict:
    """What the checks need of one VM, from status and explain."""
    e = explain or {}
    agent = e.get("agent") or {}
    params = e.get("params") or {}
    # The report's age now: guest_mem.age_ms is taken when the request is
    # answered; agent.age_ms is as of ballastd's last tick (up to a tick older,
    # which would date a report from before a fault after it).
    age = next((g["age_ms"] for g in (e.get("guest_mem"), status_vm.get("guest_mem"))
                if isinstance(g, dict) and g.get("age_ms") is not None), agent.get("age_ms"))
    return {
        "mode": status_vm.get("mode"), "qmp": status_vm.get("qmp"), "agent": status_vm.get("agent"),
        "evaluated": e.get("evaluated"),
        "report_valid": agent.get("report_valid"), "age_ms": age,
        "oom_kill_count": agent.get("oom_kill_count"),
        "target_bytes": e.get("target_bytes", status_vm.get("target_bytes")),
        "target_set_bytes": e.get("target_set_bytes"),
        "min_bytes": params.get("min_bytes"), "max_bytes": params.get("max_bytes"),
        "actual_bytes": status_vm.get("actual_bytes"), "nominal_bytes": status_vm.get("nominal_bytes"),
    }


def compact_sample(t: float, pid: int | None, rss_kib: int | None, status: dict | None,
                   explains: dict) -> dict:
    if status is None:
        return {"t": t, "ok": False, "pid": pid, "rss_kib": rss_kib}
    vms = {v["name"]: compact_vm(v, explains.get(v["name"])) for v in status.get("vms", [])
           if isinstance(v, dict) and "name" in v}
    return {"t": t, "ok": True, "pid": pid, "rss_kib": rss_kib, "vms": vms}


def vm_rss_kib(status_text: str) -> int | None:
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return None


class Control:
    """One connection to ballastd's control socket (docs/control-protocol.md:
    a JSON request a line, one reply line each), reopened after a failure."""

    def __init__(self, path: str, timeout_s: float = 3.0):
        self.path, self.timeout_s, self.sock, self.buf = path, timeout_s, None, b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock, self.buf = None, b""

    def request(self, req: dict):
        try:
            if self.sock is None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(self.timeout_s)
                self.sock.connect(self.path)
            self.sock.sendall(json.dumps(req).encode() + b"\n")
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise OSError("closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            reply = json.loads(line)
        except (OSError, ValueError):
            self.close()
            return None
        return reply.get("result") if reply.get("ok") else None


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def sampler(args, err: TextIO) -> int:
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    ctl = Control(args.socket)
    checker = Checker() if args.events else None
    ev_pos = 0
    with open(args.out, "a", encoding="utf-8") as out:
        while not stop:
            t = time.time()
            pid = read_pid(args.pid_file)
            rss = None
            if pid:
                try:
                    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                        rss = vm_rss_kib(f.read())
                except OSError:
                    pass
            status = ctl.request({"cmd": "status"})
            explains = {}
            for v in (status or {}).get("vms", []):
                e = ctl.request({"cmd": "explain", "vm": v.get("name", "")})
                if e is not None:
                    explains[v["name"]] = e
            s = compact_sample(t, pid, rss, status, explains)
            out.write(json.dumps(s, separators=(",", ":")) + "\n")
            out.flush()
            if checker is not None:
                ev_pos = live_events(args.events, ev_pos, checker, err)
                for v in checker.sample(s):
                    print(v.text(checker.t0), file=err, flush=True)
            time.sleep(max(0.0, args.interval - (time.time() - t)))
    return 0


def live_events(path: str, pos: int, checker: Checker, err: TextIO) -> int:
    """Feeds the events appended since pos; returns the new position."""
    try:
        with open(path, encoding="utf-8") as f:
            f.seek(pos)
            while True:
                line = f.readline()
                if not line.endswith("\n"):
                    break  # none, or half written: read it next time
                pos = f.tell()
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                for v in checker.event(ev):
                    print(v.text(checker.t0), file=err, flush=True)
    except OSError:
        pass
    return pos


# --- the report ---------------------------------------------------------------------------


def results_markdown(s: dict) -> str:
    run = s.get("run", {})
    lines = ["# Reliability: the chaos soak", "",
             "What `scripts/soak` found the last time it was run with `--write-doc`; how and what",
             "it measures is under \"Method\" below.", "", "## Results", ""]
    lines.append(f"- Command: `{run.get('command', '?')}` (seed {run.get('seed', '?')})")
    lines.append(f"- Date: {run.get('date', '?')}, commit {run.get('commit', '?')}")
    lines.append(f"- Machine: {run.get('cpu', '?')}, {run.get('cores', '?')} cores, "
                 f"{run.get('mem_total_mib', '?')} MiB, kernel {run.get('kernel', '?')}, "
                 f"QEMU {run.get('qemu', '?')} ({run.get('accel', '?')})")
    others = run.get("others_at_start", "?")
    lines.append(f"- Other QEMU processes running at the start: {others}")
    if str(others) not in ("0", "?"):
        lines.append("  **(not a quiet host: timings may suffer from them)**")
    lines.append(f"- Guests: {run.get('guests', '?')} ({run.get('libvirt_guests', 0)} under "
                 f"libvirt), {run.get('memory_mib', '?')} MiB each; ran "
                 f"{s.get('duration_s', '?')} s, {s.get('samples', '?')} samples")
    if run.get("skipped"):
        lines.append(f"- Faults not injected: {run['skipped']}")
    verdict = "**passed**: no violation" if s.get("passed") else (
        f"**failed**: {len(s.get('violations', []))} violation(s)")
    lines += ["", f"Verdict: {verdict}.", ""]
    lines += ["| invariant | result |", "|---|---|",
              f"| no guest OOM kill | agents: {s.get('oom_kills_agent', '?')}, consoles: "
              f"{s.get('oom_kills_console', '?')} |",
              f"| no target outside [min, max] | {s.get('bound_violations', '?')} sample(s) outside |"]
    for r in s.get("rss", []):
        if r.get("samples"):
            lines.append(f"| ballastd RSS flat (+-10 %), pid {r['pid']} | median "
                         f"{r['median_kib'] / 1024:.1f} MiB, {r['min_kib'] / 1024:.1f}.."
                         f"{r['max_kib'] / 1024:.1f} MiB, worst {r['max_dev_pct']} % over "
                         f"{r['samples']} samples{'' if r['judged'] else ' (too few: not judged)'} |")
        else:
            lines.append(f"| ballastd RSS flat (+-10 %), pid {r['pid']} | no sample after its "
                         "warm-up: not judged |")
    rec = [r for r in s.get("recoveries", [])]
    worst = max((r["recovered_s"] for r in rec if r["recovered_s"] is not None), default=None)
    failed = sum(1 for r in rec if r["not_recovered"])
    lines.append(f"| every surviving guest managed within 10 s | {len(rec)} checks, "
                 f"{failed} failed, slowest {worst if worst is not None else '-'} s |")
    lines += ["", "| at | fault | detail | survivors | all managed again after |", "|---|---|---|---|---|"]
    by_at: dict = {}
    for r in rec:
        by_at.setdefault(r["at_s"], []).append(r)
    for f in s.get("faults", []):
        rs = by_at.get(f["at_s"], [])
        after = "; ".join(
            f"{r['check']}: " + (f"{r['recovered_s']} s" if r["recovered_s"] is not None else
                                  f"NOT: {', '.join(r['not_recovered'])}") for r in rs) or "-"
        surv = max((r["survivors"] for r in rs), default="-")
        lines.append(f"| +{f['at_s']:.0f} s | {f['kind']} | {f['detail'] or '-'} | {surv} | {after} |")
    if s.get("violations"):
        lines += ["", "Violations:", ""] + [f"- `{v}`" for v in s["violations"]]
    return "\n".join(lines) + "\n"


# --- command line -------------------------------------------------------------------------


def parse_kv(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return density_stats.parse_kv(f)


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    p = argparse.ArgumentParser(prog="soak_checks.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("schedule")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--kinds", required=True)
    s = sub.add_parser("workloads")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--memory-mib", type=int, required=True)
    s.add_argument("--salt", default="")
    s.add_argument("names", nargs="+")
    s = sub.add_parser("hog-size")
    s.add_argument("--cap-mib", type=int, required=True)
    s.add_argument("--meminfo", default="/proc/meminfo")
    s = sub.add_parser("sample")
    s.add_argument("--socket", required=True)
    s.add_argument("--pid-file", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--events")
    s.add_argument("--interval", type=float, default=1.0)
    s = sub.add_parser("check")
    s.add_argument("--samples", required=True)
    s.add_argument("--events", required=True)
    s.add_argument("--run")
    s.add_argument("--summary")
    s.add_argument("--console", nargs="*", default=[])
    s = sub.add_parser("doc")
    s.add_argument("--summary", required=True)
    s.add_argument("--doc", required=True)
    args = p.parse_args(argv)
    try:
        return run(args, out, err)
    except OSError as e:
        print(f"soak_checks.py: {e}", file=err)
        return 2


def run(args, out: TextIO, err: TextIO) -> int:
    if args.cmd == "schedule":
        kinds = [k for k in args.kinds.split(",") if k]
        bad = [k for k in kinds if k not in FAULT_KINDS]
        if bad:
            print(f"soak_checks.py: unknown fault kind(s) {', '.join(bad)}", file=err)
            return 2
        for f in fault_schedule(args.seed, args.seconds, kinds):
            print(f.line(), file=out)
    elif args.cmd == "workloads":
        for n, spec in workload_specs(args.seed, args.names, args.memory_mib, args.salt).items():
            print(n, spec, file=out)
    elif args.cmd == "hog-size":
        with open(args.meminfo, encoding="ascii") as f:
            total, avail = meminfo_kib(f.read())
        print(hog_plan_mib(total, avail, args.cap_mib), file=out)
    elif args.cmd == "sample":
        return sampler(args, err)
    elif args.cmd == "check":
        consoles = 0
        for path in args.console:
            with open(path, encoding="utf-8", errors="replace") as f:
                consoles += density_stats.oom_kills(f)
        c = run_checks(read_jsonl(args.events), read_jsonl(args.samples), consoles)
        for v in c.violations:
            print(v.text(c.t0), file=out)
        s = c.summary()
        s["oom_kills_console"] = consoles
        s["passed"] = not c.violations
        s["violations"] = [v.text(c.t0) for v in c.violations]
        if args.run:
            s["run"] = parse_kv(args.run)
        if args.summary:
            with open(args.summary, "w", encoding="utf-8") as f:
                json.dump(s, f, indent=1)
                f.write("\n")
        print(f"soak: {len(s['faults'])} faults, {s['samples']} samples, "
              f"{len(c.violations)} violation(s)", file=out)
        return 0 if s["passed"] else 1
    elif args.cmd == "doc":
        with open(args.summary, encoding="utf-8") as f:
            s = json.load(f)
        old = None
        if os.path.exists(args.doc):
            with open(args.doc, encoding="utf-8") as f:
                old = f.read()
        with open(args.doc, "w", encoding="utf-8") as f:
            f.write(density_stats.splice_doc(old, results_markdown(s)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
