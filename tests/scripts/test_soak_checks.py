"""unit.scripts.soak_checks: scripts/soak_checks.py, the decisions and the
verdict of scripts/soak (the chaos soak), without a guest: the seeded fault
schedule (the CI seed covers every kind), the workloads, the hog's size, and
the invariants on fixture runs built sample by sample - a healthy run must
pass, and each violation planted in it must be found, with its time and the
fault before it: a guest OOM kill, a target below min (and one above max), a
15 % growth of ballastd's RSS, a guest managed only 12 s after a fault, an
agent report from before the fault, ballastd silent outside a restart. Then
the `check` and `doc` commands on files, the sampler's compaction of real
status/explain documents (tests/fixtures/soak), the hostile agent's frames,
the foreign QMP client against a scripted monitor, and scripts/soak's paths
that boot nothing: bad arguments, --plan, and a missing build (SKIPPED, 77,
nothing left behind).
"""

import contextlib
import io
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "scripts"))
import soak_checks as sc  # noqa: E402
import soak_faults as sf  # noqa: E402

FIX = os.path.join(SRC, "tests", "fixtures", "soak")
SCRIPT = os.path.join(SRC, "scripts", "soak")
DOC = os.path.join(SRC, "docs", "benchmarks", "reliability.md")
MIB = 1 << 20


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


CI_SEED = 4  # tests/scripts/CMakeLists.txt, integration.soak.short
CI_KINDS = ["kill-ballastd", "kill-qemu", "hostile-agent", "host-hog", "foreign-balloon"]


# --- a fixture run, sample by sample -------------------------------------------------------

T0 = 1000.0


def vm(**kw):
    v = {"mode": "managed", "qmp": "connected", "agent": "connected", "report_valid": True,
         "age_ms": 500, "oom_kill_count": 0, "target_bytes": 150 * MIB,
         "target_set_bytes": 150 * MIB, "min_bytes": 64 * MIB, "max_bytes": 256 * MIB,
         "actual_bytes": 150 * MIB, "nominal_bytes": 256 * MIB}
    v.update(kw)
    return v


class Run:
    """A healthy run: guests vm0..vm2, a sample a second from T0-5 to
    T0+duration, ballastd pid 100 with a flat RSS, and a kill-ballastd at
    +130 s (down 2 s, pid 200 after). Tests change it, then check it."""

    def __init__(self, duration=200, names=("vm0", "vm1", "vm2"), kill_at=130):
        self.names = list(names)
        self.events = [{"t": T0, "event": "start", "guests": self.names}]
        self.samples = []
        self.kill_at, self.up_at = T0 + kill_at, T0 + kill_at + 2.5
        for i in range(-5, duration + 1):
            t = T0 + i
            if self.kill_at < t < self.up_at:
                self.samples.append({"t": t, "ok": False, "pid": None, "rss_kib": None})
                continue
            pid = 100 if t <= self.kill_at else 200
            rss = 9000 + (i * 7) % 200  # +-1 %: flat
            self.samples.append({"t": t, "ok": True, "pid": pid, "rss_kib": rss,
                                 "vms": {n: vm() for n in self.names}})
        self.events.append({"t": self.kill_at, "t_done": self.up_at, "event": "fault",
                            "kind": "kill-ballastd", "detail": "down 2 s", "victims": []})
        self.events.append({"t": T0 + duration, "event": "end"})

    def at(self, t):
        return next(s for s in self.samples if s["t"] == t)

    def set(self, t_from, t_to, name, **kw):
        for s in self.samples:
            if t_from <= s["t"] <= t_to and s.get("ok"):
                s["vms"][name].update(kw)

    def check(self):
        return sc.run_checks(list(self.events), list(self.samples))


def rules(c):
    return [(v.rule, v.vm) for v in c.violations]


class Schedule(unittest.TestCase):
    def test_same_seed_same_plan_and_seeds_differ(self):
        a = sc.fault_schedule(42, 1800, sc.FAULT_KINDS)
        self.assertEqual([f.line() for f in a], [f.line() for f in sc.fault_schedule(42, 1800, sc.FAULT_KINDS)])
        self.assertNotEqual([f.line() for f in a], [f.line() for f in sc.fault_schedule(43, 1800, sc.FAULT_KINDS)])

    def test_spacing_and_deck(self):
        for seed in range(20):
            for seconds in (180, 1800):
                fs = sc.fault_schedule(seed, seconds, sc.FAULT_KINDS)
                p = sc.schedule_params(seconds)
                self.assertGreaterEqual(fs[0].at_s, p["quiet_s"])
                for a, b in zip(fs, fs[1:]):
                    self.assertGreaterEqual(b.at_s - (a.at_s + a.duration_s), sc.DEADLINE_S + 5 - 0.1)
                last = fs[-1]
                self.assertLessEqual(last.at_s + last.duration_s + sc.DEADLINE_S, seconds)
                kinds = [f.kind for f in fs]
                n = len(sc.FAULT_KINDS)
                for i in range(0, len(kinds) - n + 1, n):  # every kind once per deck
                    self.assertEqual(sorted(kinds[i:i + n]), sorted(sc.FAULT_KINDS))
                for f in fs:
                    if f.kind in sc.LONG_FAULTS:
                        self.assertTrue(p["long_s"][0] - 1 <= f.duration_s <= p["long_s"][1] + 1)
                    elif f.kind == "kill-ballastd":
                        self.assertLessEqual(f.duration_s, 3)
                    else:
                        self.assertEqual(f.duration_s, 0)
                    self.assertTrue(0 <= f.frac < 1)

    def test_long_run_has_many_faults(self):
        fs = sc.fault_schedule(1, 1800, sc.FAULT_KINDS)
        self.assertGreater(len(fs), 25)
        self.assertGreaterEqual(min(sum(f.kind == k for f in fs) for k in sc.FAULT_KINDS), 4)

    def test_kinds_filter(self):
        fs = sc.fault_schedule(3, 1800, ["kill-qemu", "host-hog"])
        self.assertEqual({f.kind for f in fs}, {"kill-qemu", "host-hog"})
        self.assertEqual(sc.fault_schedule(3, 1800, []), [])

    def test_ci_seed_covers_every_kind(self):
        # integration.soak.short runs --guests 4 --minutes 3 --seed 4 without --libvirt
        kinds = {f.kind for f in sc.fault_schedule(CI_SEED, 180, CI_KINDS)}
        self.assertEqual(kinds, set(CI_KINDS))
        cmake = read(os.path.join(HERE, "CMakeLists.txt"))
        self.assertIn(f"--seed {CI_SEED}", cmake)

    def test_cli(self):
        out = io.StringIO()
        self.assertEqual(sc.main(["schedule", "--seed", "5", "--seconds", "180", "--kinds",
                                  "kill-qemu,,host-hog"], out=out), 0)
        lines = out.getvalue().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^\d+\.\d (kill-qemu|host-hog) \d+ \d+ 0\.\d{3}$")
        err = io.StringIO()
        self.assertEqual(sc.main(["schedule", "--seed", "5", "--seconds", "180", "--kinds", "reboot"],
                                 out=io.StringIO(), err=err), 2)
        self.assertIn("reboot", err.getvalue())


class Workloads(unittest.TestCase):
    SPEC = re.compile(r"^(spike:base=(\d+)M,peak=(\d+)M,start=\d+s,after=\d+s,hold=\d+s,every=\d+s"
                      r"|sawtooth:min=(\d+)M,max=(\d+)M,step=\d+M,tick=\d+s,start=\d+s)$")

    def test_specs(self):
        names = [f"vm{i}_0" for i in range(40)]
        specs = sc.workload_specs(9, names, 256)
        self.assertEqual(specs, sc.workload_specs(9, names, 256))
        kinds = set()
        for spec in specs.values():
            m = self.SPEC.match(spec)
            self.assertTrue(m, spec)
            lo, hi = (int(m.group(2)), int(m.group(3))) if m.group(2) else (int(m.group(4)), int(m.group(5)))
            self.assertLessEqual(hi, 144)  # 9/16 of 256 MiB
            self.assertLess(lo, hi)
            kinds.add(spec.split(":")[0])
        self.assertEqual(kinds, {"spike", "sawtooth"})
        self.assertNotEqual(sc.workload_specs(9, names, 256, "relaunch"), specs)
        for spec in sc.workload_specs(9, names, 160).values():
            m = self.SPEC.match(spec)
            self.assertLessEqual(int(m.group(3) or m.group(5)), 90)
        spike = next(s for s in specs.values() if s.startswith("spike"))
        after, hold, every = (int(re.search(k + r"=(\d+)s", spike).group(1)) for k in ("after", "hold", "every"))
        self.assertGreater(every, after + hold)


class Hog(unittest.TestCase):
    GIB_KIB = 1 << 20

    def test_plan(self):
        total = 24 * self.GIB_KIB
        # 20 GiB available: down to 15 % (3.6 GiB) -> 16.4 GiB, under the cap
        self.assertEqual(sc.hog_plan_mib(total, 20 * self.GIB_KIB, 1 << 20),
                         (20 * self.GIB_KIB - total * 15 // 100) // 1024)  # 16793
        self.assertEqual(sc.hog_plan_mib(total, 20 * self.GIB_KIB, 8192), 8192)  # the cap
        self.assertEqual(sc.hog_plan_mib(total, 3 * self.GIB_KIB, 1 << 20), 0)  # already under 15 %
        self.assertEqual(sc.hog_plan_mib(total, total * 15 // 100 + 32 * 1024, 1 << 20), 0)  # < a chunk

    def test_step_keeps_the_floor(self):
        total = 24 * self.GIB_KIB
        floor = total * 12 // 100
        self.assertEqual(sc.hog_step(total, 20 * self.GIB_KIB, 0, 1000), 64)
        self.assertEqual(sc.hog_step(total, 20 * self.GIB_KIB, 980, 1000), 20)
        self.assertEqual(sc.hog_step(total, 20 * self.GIB_KIB, 1000, 1000), 0)
        self.assertEqual(sc.hog_step(total, floor + 10 * 1024, 100, 1000), 0)  # a chunk would cross it
        self.assertEqual(sc.hog_step(total, floor - 1, 100, 1000), -64)  # someone else took memory
        self.assertEqual(sc.hog_step(total, floor - 1, 30, 1000), -30)
        self.assertEqual(sc.hog_step(total, floor - 1, 0, 1000), 0)
        # a simulated host: the hog never takes it under the floor
        avail, held = 20 * self.GIB_KIB, 0
        want = sc.hog_plan_mib(total, avail, 1 << 20)
        for _ in range(1000):
            d = sc.hog_step(total, avail, held, want)
            held += d
            avail -= d * 1024
            self.assertGreaterEqual(avail, floor)
        self.assertEqual(held, want)

    def test_meminfo(self):
        self.assertEqual(sc.meminfo_kib("MemTotal:  100 kB\nMemFree: 5 kB\nMemAvailable: 40 kB\n"), (100, 40))
        self.assertEqual(sc.meminfo_kib("garbage\nMemAvailable: x kB\n"), (0, 0))


class Invariants(unittest.TestCase):
    def test_healthy_run_passes(self):
        c = Run().check()
        self.assertEqual(c.violations, [], [v.text(c.t0) for v in c.violations])
        (r,) = c.recoveries
        self.assertEqual(r["check"], "kill-ballastd")
        self.assertEqual(r["not_recovered"], [])
        self.assertLessEqual(r["recovered_s"], 1.0)
        self.assertEqual([x["judged"] for x in c.rss_summary], [True, True])
        s = c.summary()
        self.assertTrue(s["passed"])
        self.assertEqual(s["fault_counts"], {"kill-ballastd": 1})

    def test_oom_kill(self):
        run = Run()
        run.set(T0 + 70, T0 + 200, "vm1", oom_kill_count=1)
        c = run.check()
        self.assertEqual(rules(c), [("oom", "vm1")])
        v = c.violations[0]
        self.assertEqual(v.t, T0 + 70)
        self.assertIn("count 0 -> 1", v.message)
        self.assertIn("+70.0s oom vm1", v.text(c.t0))
        self.assertEqual(v.context, "no fault yet")
        self.assertEqual(c.summary()["oom_kills_agent"], 1)

    def test_oom_kill_counted_once_and_context(self):
        run = Run()
        run.set(T0 + 140, T0 + 200, "vm2", oom_kill_count=2)
        run.set(T0 + 150, T0 + 200, "vm2", oom_kill_count=3)
        c = run.check()
        self.assertEqual(rules(c), [("oom", "vm2"), ("oom", "vm2")])
        self.assertEqual(c.oom_total, 3)
        self.assertIn("after kill-ballastd at +130.0s (down 2 s)", c.violations[0].context)

    def test_target_below_min_and_above_max(self):
        run = Run()
        run.set(T0 + 50, T0 + 52, "vm0", target_bytes=60 * MIB, target_set_bytes=60 * MIB)
        run.set(T0 + 90, T0 + 90, "vm2", target_set_bytes=300 * MIB)
        c = run.check()
        self.assertEqual(rules(c), [("bounds", "vm0")] * 6 + [("bounds", "vm2")])
        self.assertIn("target_bytes 60.0 MiB below min 64.0 MiB", c.violations[0].message)
        self.assertIn("target_set_bytes 300.0 MiB above max 256.0 MiB", c.violations[-1].message)
        self.assertEqual(c.summary()["bound_violations"], 7)

    def test_no_target_yet_is_not_a_violation(self):
        run = Run()
        run.set(T0 - 5, T0 + 200, "vm0", target_bytes=None, target_set_bytes=0)
        run.set(T0 - 5, T0 + 200, "vm1", min_bytes=None)
        # a restarted ballastd before its first tick: params 0, the restored target shown
        run.set(run.up_at, run.up_at + 2, "vm2", evaluated=False, min_bytes=0, max_bytes=0,
                target_bytes=-1, target_set_bytes=115 * MIB)
        self.assertEqual(run.check().violations, [])
        run.set(T0 + 136, T0 + 136, "vm2", evaluated=True, target_set_bytes=300 * MIB)
        self.assertEqual(rules(run.check()), [("bounds", "vm2")])

    def test_rss_growth_of_15_percent(self):
        run = Run(duration=300, kill_at=280)
        for s in run.samples:  # the first process: 9000 KiB, then 15 % more from +220 s
            if s.get("pid") == 100:
                s["rss_kib"] = 10350 if s["t"] >= T0 + 220 else 9000
        # counted from +120 s: 161 samples, 61 of them 15 % up
        c = run.check()
        self.assertEqual(rules(c), [("rss", None)])
        v = c.violations[0]
        self.assertEqual(v.t, T0 + 220)
        self.assertIn("pid 100", v.message)
        self.assertIn("+15% from its median 9000 KiB; 61 of 161 samples", v.message)

    def test_rss_growth_in_the_restarted_process(self):
        run = Run()
        for s in run.samples:
            if s.get("pid") == 200 and s["t"] >= T0 + 180:
                s["rss_kib"] = 9100 * 1.15
        c = run.check()
        self.assertEqual(rules(c), [("rss", None)])
        self.assertIn("pid 200", c.violations[0].message)

    def test_rss_rule(self):
        series = [(T0 + i, 1, 10000 + (i % 3) * 300) for i in range(300)]  # +-3 %
        v, s = sc.rss_check(series, T0)
        self.assertEqual(v, [])
        self.assertEqual(s[0]["samples"], 180)
        self.assertEqual(s[0]["max_dev_pct"], 2.9)  # 10600 against the median 10300
        series = [(T0 + i, 1, 10000 if i < 220 else 11200) for i in range(300)]  # +12 %
        v, _ = sc.rss_check(series, T0)
        self.assertEqual(len(v), 1)
        self.assertIn("80 of 180 samples outside +-10%", v[0].message)
        # the warm-up is not counted: growth during it is start-up, not a leak
        series = [(T0 + i, 1, 5000 if i < 120 else 10000) for i in range(300)]
        self.assertEqual(sc.rss_check(series, T0)[0], [])
        # too few samples: not judged, no violation, said so in the summary
        series = [(T0 + 120 + i, 1, 10000 * (1 + i)) for i in range(5)]
        v, s = sc.rss_check(series, T0)
        self.assertEqual(v, [])
        self.assertFalse(s[0]["judged"])

    def test_guest_managed_12_s_after_a_fault(self):
        run = Run()
        # vm2's agent comes back only 12 s after ballastd's restart
        run.set(run.up_at, run.up_at + 12, "vm2", agent="connecting", report_valid=False, age_ms=None)
        c = run.check()
        self.assertEqual(rules(c), [("recovery", "vm2")])
        v = c.violations[0]
        self.assertIn("within 10 s after kill-ballastd", v.message)
        self.assertIn("agent connecting", v.message)
        self.assertIn("after kill-ballastd at +130.0s", v.context)
        self.assertEqual(c.recoveries[0]["not_recovered"], ["vm2"])

    def test_guest_managed_at_the_first_sample_past_the_deadline(self):
        run = Run()
        run.set(run.up_at, run.up_at + 10, "vm1", mode="-")  # managed at +143 s: 10.5 s
        c = run.check()
        self.assertEqual(rules(c), [("recovery", "vm1")])

    def test_guest_managed_9_s_after_a_fault(self):
        run = Run()
        run.set(run.up_at, run.up_at + 8.5, "vm2", mode="-")
        c = run.check()
        self.assertEqual(c.violations, [])
        self.assertEqual(c.recoveries[0]["recovered_s"], 9.5)  # the sample at +142 s

    def test_report_from_before_the_fault_is_not_fresh(self):
        run = Run()
        run.events.insert(1, {"t": T0 + 60, "t_done": T0 + 60.2, "event": "fault",
                              "kind": "host-hog", "detail": "holding 1000 MiB", "victims": []})
        run.events.insert(2, {"t": T0 + 80, "event": "fault-end", "kind": "host-hog"})
        # vm0 stays "connected" but its last report is the one from before the fault
        for i, t in enumerate(range(int(T0) + 58, int(T0) + 75)):
            run.set(t, t, "vm0", age_ms=1000 * (i + 1))
        c = run.check()
        self.assertEqual(rules(c), [("recovery", "vm0")])
        self.assertIn("after host-hog", c.violations[0].message)
        # the fault's end is a check of its own, passed
        self.assertEqual([r["check"] for r in c.recoveries], ["host-hog", "end of host-hog", "kill-ballastd"])
        self.assertEqual([r["at_s"] for r in c.recoveries], [60.0, 60.0, 130.0])  # the end with its fault

    def test_victims_and_relaunched_guests(self):
        run = Run()
        run.events.insert(1, {"t": T0 + 40, "event": "guest-gone", "name": "vm1"})
        run.events.insert(2, {"t": T0 + 40, "t_done": T0 + 40.1, "event": "fault", "kind": "kill-qemu",
                              "detail": "vm1 (pid 7)", "victims": ["vm1"]})
        for s in run.samples:
            if s.get("ok") and T0 + 40 < s["t"] < T0 + 70:
                del s["vms"]["vm1"]
        self.assertEqual(run.check().violations, [])  # the victim is not a survivor
        # relaunched at +70 but never managed: the next fault (ballastd's restart) finds it
        run.events.insert(3, {"t": T0 + 70, "event": "guest-up", "name": "vm1"})
        run.set(T0 + 70, T0 + 200, "vm1", qmp="down")
        c = run.check()
        self.assertEqual(rules(c), [("recovery", "vm1")])
        self.assertIn("qmp down", c.violations[0].message)

    def test_foreign_victim_held_to_bounds_only(self):
        run = Run()
        run.events.insert(1, {"t": T0 + 40, "t_done": T0 + 40.2, "event": "fault",
                              "kind": "foreign-balloon", "detail": "vm0 to 100 MiB", "victims": ["vm0"]})
        run.set(T0 + 40, T0 + 60, "vm0", mode="observe", target_bytes=100 * MIB)
        self.assertEqual(run.check().violations, [])
        run.set(T0 + 45, T0 + 45, "vm0", target_bytes=32 * MIB)
        self.assertEqual(rules(run.check()), [("bounds", "vm0")])

    def test_hostile_guest(self):
        run = Run()
        run.events.insert(1, {"t": T0 + 40, "event": "hostile-up", "name": "hostile0"})
        run.events.insert(2, {"t": T0 + 40, "t_done": T0 + 40.5, "event": "fault", "kind": "hostile-agent",
                              "detail": "", "victims": []})
        run.events.insert(3, {"t": T0 + 65, "event": "hostile-gone", "name": "hostile0"})
        run.events.insert(4, {"t": T0 + 65, "event": "fault-end", "kind": "hostile-agent"})
        for s in run.samples:
            if s.get("ok") and T0 + 41 <= s["t"] <= T0 + 64:
                s["vms"]["hostile0"] = vm(agent="down", oom_kill_count=9)  # lies and rejects: fine
        self.assertEqual(run.check().violations, [])
        run.at(T0 + 50)["vms"]["hostile0"]["target_set_bytes"] = 300 * MIB  # bounds still hold for it
        self.assertEqual(rules(run.check()), [("bounds", "hostile0")])

    def test_ballastd_silent_outside_a_restart(self):
        run = Run()
        for s in run.samples:
            if T0 + 50 <= s["t"] <= T0 + 65:
                s.update(ok=False)
                s.pop("vms")
        c = run.check()
        self.assertEqual(rules(c), [("daemon", None)])
        self.assertIn("did not answer for 15.0 s", c.violations[0].message)
        run = Run()  # 8 s of silence: slow, not a violation
        for s in run.samples:
            if T0 + 50 <= s["t"] <= T0 + 58:
                s.update(ok=False)
                s.pop("vms")
        self.assertEqual(run.check().violations, [])

    def test_driver_violation_and_no_sample_after_a_fault(self):
        run = Run()
        run.events.append({"t": T0 + 131, "event": "violation", "rule": "driver",
                           "message": "the restarted ballastd did not read its state file"})
        c = run.check()
        self.assertEqual(rules(c), [("driver", None)])
        run = Run()
        run.samples = [s for s in run.samples if s["t"] <= T0 + 132]  # the sampler died
        c = run.check()
        self.assertEqual({r for r, _ in rules(c)}, {"recovery"})
        self.assertIn("no sample after the deadline", c.violations[0].message)


class CheckCommand(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="soak-checks-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def write(self, run, torn=False):
        ev, sa = os.path.join(self.tmp, "events.jsonl"), os.path.join(self.tmp, "samples.jsonl")
        with open(ev, "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in run.events)
        with open(sa, "w") as f:
            f.writelines(json.dumps(s) + "\n" for s in run.samples)
            if torn:
                f.write('{"t": 99999, "ok": tr')
        return ev, sa

    def test_check_files(self):
        run = Run()
        run.set(T0 + 20, T0 + 20, "vm0", target_set_bytes=10 * MIB)
        ev, sa = self.write(run, torn=True)
        console = os.path.join(self.tmp, "vm1.console.log")
        with open(console, "w") as f:
            f.write("[  12.3] Out of memory: Killed process 77 (ballast-workload)\n")
        kv = os.path.join(self.tmp, "run.kv")
        with open(kv, "w") as f:
            f.write("seed=4\ncommand=scripts/soak --seed 4\nothers_at_start=2\n")
        summary = os.path.join(self.tmp, "summary.json")
        out = io.StringIO()
        rc = sc.main(["check", "--samples", sa, "--events", ev, "--run", kv, "--summary", summary,
                      "--console", console], out=out)
        self.assertEqual(rc, 1)
        text = out.getvalue()
        self.assertIn("VIOLATION +20.0s bounds vm0: target_set_bytes 10.0 MiB below min 64.0 MiB", text)
        self.assertIn("1 OOM kill line(s) on the guest consoles", text)
        s = json.loads(read(summary))
        self.assertFalse(s["passed"])
        self.assertEqual(s["oom_kills_console"], 1)
        self.assertEqual(s["run"]["seed"], "4")
        self.assertEqual(s["samples"], len(run.samples))  # the torn line skipped
        self.assertEqual(s["duration_s"], 200.0)
        # the doc: the results above "## Method", which is kept
        doc = os.path.join(self.tmp, "reliability.md")
        shutil.copy(DOC, doc)
        self.assertEqual(sc.main(["doc", "--summary", summary, "--doc", doc]), 0)
        new = read(doc)
        self.assertIn("**failed**: 2 violation(s)", new)
        self.assertIn("Other QEMU processes running at the start: 2", new)
        self.assertIn("| +130 s | kill-ballastd | down 2 s | 3 |", new)
        method = read(DOC)
        self.assertIn("## Method", method)
        self.assertTrue(new.endswith(method[method.index("\n## Method\n"):]))
        self.assertEqual(new.count("\n## Method\n"), 1)
        self.assertNotIn("No run recorded yet", new)

    def test_check_clean(self):
        ev, sa = self.write(Run())
        out = io.StringIO()
        self.assertEqual(sc.main(["check", "--samples", sa, "--events", ev], out=out), 0)
        self.assertIn("1 faults, 206 samples, 0 violation(s)", out.getvalue())

    def test_live_events(self):
        ev = os.path.join(self.tmp, "events.jsonl")
        with open(ev, "w") as f:
            f.write(json.dumps({"t": T0, "event": "start", "guests": ["vm0"]}) + "\n")
            f.write('{"t": 1001, "event": "guest-')  # half written
        c = sc.Checker()
        pos = sc.live_events(ev, 0, c, io.StringIO())
        self.assertEqual(c.t0, T0)
        with open(ev, "a") as f:
            f.write('gone", "name": "vm0"}\n')
        sc.live_events(ev, pos, c, io.StringIO())
        self.assertEqual(c.expected, set())


class Sampler(unittest.TestCase):
    def test_compact_real_documents(self):
        status = json.loads(read(os.path.join(FIX, "status.json")))
        explain = json.loads(read(os.path.join(FIX, "explain-vm0.json")))
        s = sc.compact_sample(5.0, 42, 9000, status, {"vm0": explain})
        v = s["vms"]["vm0"]
        self.assertEqual((v["mode"], v["qmp"], v["agent"]), ("managed", "connected", "connected"))
        self.assertEqual(v["age_ms"], 1500)  # guest_mem's age (at the request), not the tick's 400
        self.assertEqual(sc.compact_vm(status["vms"][0], {"agent": {"age_ms": 400}})["age_ms"], 1500)
        self.assertEqual(sc.compact_vm({"mode": "managed"}, {"agent": {"age_ms": 400}})["age_ms"], 400)
        self.assertEqual(v["oom_kill_count"], 0)
        self.assertEqual((v["min_bytes"], v["max_bytes"]), (41943040, 167772160))
        self.assertEqual((v["target_bytes"], v["target_set_bytes"]), (129761280, 129761280))
        self.assertTrue(v["evaluated"])
        self.assertTrue(sc.vm_managed(v, 5.0, 3.5))
        self.assertFalse(sc.vm_managed(v, 5.0, 3.6))  # the report is from before 3.6
        self.assertIsNone(s["vms"]["vm1"]["min_bytes"])  # no explain for vm1
        self.assertEqual(sc.compact_sample(5.0, None, None, None, {}),
                         {"t": 5.0, "ok": False, "pid": None, "rss_kib": None})

    def test_managed(self):
        self.assertTrue(sc.vm_managed(vm(age_ms=9000), 100.0, 90.0))
        self.assertFalse(sc.vm_managed(vm(age_ms=11000), 100.0, 80.0))  # too old: not fresh
        self.assertFalse(sc.vm_managed(vm(age_ms=None), 100.0, 80.0))
        for bad in ({"mode": "safe"}, {"qmp": "down"}, {"agent": "connecting"}, {"report_valid": False}):
            self.assertFalse(sc.vm_managed(vm(**bad), 100.0, 90.0), bad)
        self.assertFalse(sc.vm_managed(None, 100.0, 90.0))

    def test_vm_rss(self):
        self.assertEqual(sc.vm_rss_kib("Name:\tballastd\nVmRSS:\t    9876 kB\n"), 9876)
        self.assertIsNone(sc.vm_rss_kib("Name:\tballastd\n"))

    def test_control_client(self):
        with tempfile.TemporaryDirectory(prefix="soak-ctl-") as d:
            path = os.path.join(d, "ctl.sock")
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(path)
            srv.listen(1)

            def serve():
                conn, _ = srv.accept()
                f = conn.makefile("rwb")
                for line in f:
                    req = json.loads(line)
                    if req["cmd"] == "explain":
                        f.write(b'{"ok":false,"error":{"code":"no-such-vm","message":"x"}}\n')
                    else:
                        f.write(json.dumps({"ok": True, "cmd": "status", "result": {"vms": []}}).encode() + b"\n")
                    f.flush()
                conn.close()
            th = threading.Thread(target=serve)
            th.start()
            ctl = sc.Control(path)
            self.assertEqual(ctl.request({"cmd": "status"}), {"vms": []})
            self.assertIsNone(ctl.request({"cmd": "explain", "vm": "vm9"}))
            ctl.close()
            th.join(5)
            srv.close()
            self.assertIsNone(sc.Control(path, 0.5).request({"cmd": "status"}))  # nobody there


class Faults(unittest.TestCase):
    def test_hostile_frames(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        w = sf.Wire(a)
        hello = w.hello()
        magic, version, ftype, flags, length, seq = sf.HEADER.unpack(hello[:16])
        self.assertEqual((magic, version, ftype, flags, length, seq), (b"BLST", 1, 1, 0, 16, 1))
        self.assertEqual(struct.unpack("<IIIHH", hello[16:])[2], sf.CAP_VMSTAT)
        rep = w.report()
        self.assertEqual((len(rep), rep[5], sf.HEADER.unpack(rep[:16])[4]), (16 + 176, 3, 176))
        self.assertEqual(struct.unpack_from("<I", rep, 16 + 104)[0], 9500)  # the lie: 95 % PSI
        press = w.report(pressure=True)
        self.assertEqual((len(press), press[5]), (16 + 180, 4))
        frames, data = [], w.misdeed(1)
        while data:
            length = sf.HEADER.unpack(data[:16])[4]
            frames.append((data[5], data[16:16 + length]))
            data = data[16 + length:]
        self.assertEqual([t for t, _ in frames], [8, 9, 7, 9])  # ACK, ERROR, RECLAIM_DONE, ERROR
        self.assertEqual([len(p) for _, p in frames], [8, 12, 36, 12])
        self.assertEqual(struct.unpack("<IIi", frames[1][1])[2], -(1 << 31))
        self.assertEqual(len(w.misdeed(0)), 5 * (16 + 180))
        self.assertEqual(len(w.misdeed(2)), 150 * (16 + 176))
        self.assertNotIn(b"BLST", w.misdeed(3)[:64])
        seqs = [sf.HEADER.unpack(f[:16])[5] for f in (hello, rep, press)]
        self.assertEqual(seqs, [1, 2, 3])

    def test_qmp_balloon_against_a_scripted_monitor(self):
        with tempfile.TemporaryDirectory(prefix="soak-qmp-") as d:
            path = os.path.join(d, "foreign.sock")
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            srv.bind(path)
            srv.listen(1)
            seen = []

            def monitor(reply):
                conn, _ = srv.accept()
                f = conn.makefile("rwb")
                f.write(b'{"QMP": {"version": {}, "capabilities": []}}\r\n')
                f.flush()
                for line in f:
                    cmd = json.loads(line)
                    seen.append(cmd)
                    if cmd["execute"] == "balloon":
                        f.write(b'{"timestamp": {}, "event": "BALLOON_CHANGE", "data": {"actual": 1}}\r\n')
                        f.write(reply)
                    else:
                        f.write(b'{"return": {}}\r\n')
                    f.flush()
                conn.close()
            for reply, rc in ((b'{"return": {}}\r\n', 0),
                              (b'{"error": {"class": "DeviceNotActive", "desc": "no balloon"}}\r\n', 1)):
                seen.clear()
                th = threading.Thread(target=monitor, args=(reply,))
                th.start()
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    self.assertEqual(sf.main(["qmp-balloon", "--socket", path, "--bytes", str(100 * MIB)]), rc)
                th.join(5)
                self.assertEqual(seen[1], {"execute": "balloon", "arguments": {"value": 100 * MIB}})
            self.assertIn("DeviceNotActive", out.getvalue())
            srv.close()


class Script(unittest.TestCase):
    def run_soak(self, *args, env=None):
        return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=60,
                              env={**os.environ, **(env or {})})

    def test_bad_arguments(self):
        for args, msg in ((["--guests", "0"], "--guests must be 1..64"),
                          (["--guests", "65"], "--guests must be 1..64"),
                          (["--minutes", "0"], "--minutes must be 1..1440"),
                          (["--seed", "x1"], "--seed must be a number"),
                          (["--libvirt", "--guests", "1"], "--libvirt needs --guests 2"),
                          (["--hog-cap-mib", "lots"], "--hog-cap-mib must be"),
                          (["--guests"], "--guests needs a value"),
                          (["--frobnicate"], "unknown argument '--frobnicate'")):
            r = self.run_soak(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(msg, r.stderr)

    def test_plan(self):
        r = self.run_soak("--plan", "--guests", "4", "--minutes", "3", "--seed", "4", "--libvirt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("soak: seed 4", r.stdout)
        self.assertIn("3 fleet guest(s) of 256 MiB and 1 libvirt domain(s) of 160 MiB", r.stdout)
        self.assertRegex(r.stdout, r"\n  lv0 (spike|sawtooth):")
        self.assertNotIn("restart-libvirtd (no --libvirt)", r.stdout)
        self.assertEqual(len(re.findall(r"^  vm\d_0 (spike|sawtooth):", r.stdout, re.M)), 3)
        r2 = self.run_soak("--plan", "--guests", "4", "--minutes", "3", "--seed", "4", "--libvirt")
        self.assertEqual(r.stdout, r2.stdout)
        r = self.run_soak("--plan", "--minutes", "3")
        self.assertIn("SKIPPED fault: restart-libvirtd (no --libvirt)", r.stdout)
        self.assertRegex(r.stdout, r"soak: seed \d+ ")

    def test_missing_build_skips_and_leaves_nothing(self):
        with tempfile.TemporaryDirectory(prefix="soak-nobuild-") as d:
            tmp = os.path.join(d, "tmp")
            os.mkdir(tmp)
            r = self.run_soak("--guests", "2", "--minutes", "1", "--seed", "1",
                              "--build-dir", os.path.join(d, "build"), env={"TMPDIR": tmp})
            self.assertEqual(r.returncode, 77, r.stderr)
            self.assertRegex(r.stderr, r"SKIPPED: (qemu-system-x86_64 not installed|ballast-fleet not built)")
            self.assertIn("SKIPPED fault: hostile-agent", r.stdout)  # no fake-fleet either
            self.assertEqual(os.listdir(tmp), [])  # the trap removed the state dirs


if __name__ == "__main__":
    unittest.main()
