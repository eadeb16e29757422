"""unit.scripts.density_stats: scripts/density_stats.py, the arithmetic, report
and plot of scripts/bench-density, on tests/fixtures/density (made-up data in
the formats the script writes): the sampler's TSV (medians, the memory tail,
ksmd's CPU per 10 s slice, malformed lines), guest consoles (the workload's
bursts, reached, not reached, pending, a guest without any, a kernel message
in front of a workload line, OOM kills), the key=value files turned into
result rows, rows merged across runs, the markdown (ratios against (b), the
warning for other QEMU processes, the splice that keeps docs/benchmarks/
density.md's Method section), the gnuplot data and script; the virtio-mem
strategies (f) to (h): which run (--only, --virtio-mem, never by default),
their fleet arguments, their table (plugged MiB, THP-backed RAM, growth
latency, each against the balloon on the same THP setting), and old
results without those figures rendering byte for byte as before; then
scripts/bench-density itself on the paths that boot nothing: bad arguments,
--dry-run, and --from-data (report and PNG from the fixture rows).
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "scripts"))
import density_stats as ds  # noqa: E402

FIX = os.path.join(SRC, "tests", "fixtures", "density")
SCRIPT = os.path.join(SRC, "scripts", "bench-density")
DOC = os.path.join(SRC, "docs", "benchmarks", "density.md")


def fix(name):
    return os.path.join(FIX, name)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def lines(path):
    return read(path).splitlines()


def run(*argv, stdin=""):
    """main(argv): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stderr(err):
            try:
                rc = ds.main(list(argv), out=out)
            except SystemExit as e:  # argparse
                rc = e.code
    finally:
        sys.stdin = old_stdin
    return rc, out.getvalue(), err.getvalue()


def kv(text):
    return dict(line.split("=", 1) for line in text.splitlines())


def console_bursts(*names):
    return {n: ds.find_bursts(ds.workload_events(lines(fix(n))), 144) for n in names}


class SamplesTest(unittest.TestCase):
    def test_parse_skips_what_is_not_a_sample(self):
        s = ds.parse_samples(lines(fix("samples-window.tsv")))
        # 25 whole seconds and 24.5 (no ksmd); comment, header, garbage, a bad number skipped
        self.assertEqual(len(s), 26)
        self.assertEqual(s[0], ds.Sample(0.0, 1000000, 0, 8))
        self.assertEqual(s[-1], ds.Sample(24.5, 1002450, None, 7))

    def test_window_summary(self):
        s = ds.parse_samples(lines(fix("samples-window.tsv")))
        w = ds.window_summary(s, float("-inf"), float("inf"), 100, 10.0, 5.0)
        self.assertEqual(w["samples"], 26)
        # 10 ticks/s for the first 10 s (10% of a core at CLK_TCK 100), then 50 ticks/s
        self.assertEqual(w["slices"], 2)
        self.assertAlmostEqual(w["ksmd_cpu_median_pct"], 30.0)
        self.assertAlmostEqual(w["ksmd_cpu_worst_pct"], 50.0)
        # memory median over the last 5 s before the last sample: 20..24 and 24.5
        self.assertEqual(w["used_median_kib"], (1002200 + 1002300) / 2)
        self.assertEqual(w["used_min_kib"], 1000000)
        self.assertEqual(w["used_max_kib"], 1002450)
        self.assertEqual(w["guests_max"], 8)

    def test_window_bounds(self):
        s = ds.parse_samples(lines(fix("samples-window.tsv")))
        w = ds.window_summary(s, 10.0, 20.0)
        self.assertEqual(w["samples"], 11)
        self.assertEqual(w["slices"], 1)
        self.assertAlmostEqual(w["ksmd_cpu_worst_pct"], 50.0)
        self.assertEqual(w["used_median_kib"], 1001500)
        empty = ds.window_summary(s, 100.0, 200.0)
        self.assertEqual(empty["samples"], 0)
        for k in ("used_median_kib", "used_max_kib", "ksmd_cpu_median_pct", "ksmd_cpu_worst_pct"):
            self.assertIsNone(empty[k])

    def test_cpu_slices_edges(self):
        S = ds.Sample
        self.assertEqual(ds.cpu_slices([], 100), [])
        self.assertEqual(ds.cpu_slices([S(0, 1, 0), S(5, 1, 100)], 100), [])  # under a slice
        # a slice runs to the first sample 10 s or more later, whatever the gaps
        self.assertEqual(ds.cpu_slices([S(0, 1, 0), S(4, 1, 1), S(12.5, 1, 250)], 100), [20.0])
        # a counter that went back (another ksmd) gives no value for that slice
        self.assertEqual(ds.cpu_slices([S(0, 1, 500), S(10, 1, 10), S(20, 1, 110)], 100), [10.0])
        # clock ticks other than 100
        self.assertEqual(ds.cpu_slices([S(0, 1, 0), S(10, 1, 250)], 250), [10.0])

    def test_worst_slice_slides(self):
        S = ds.Sample
        # 5 ticks/s (5%), but 20 ticks/s in seconds 5..14: the overrun
        # straddles two consecutive slices (12.5% each); the worst 10 s
        # starting at any sample holds it whole (20%).
        ticks, pts = 0, []
        for t in range(21):
            pts.append(S(float(t), 1, ticks))
            ticks += 20 if 5 <= t < 15 else 5
        self.assertEqual(ds.cpu_slices(pts, 100), [12.5, 12.5])
        self.assertAlmostEqual(ds.cpu_worst_slice(pts, 100), 20.0)
        w = ds.window_summary(pts, 0, 20)
        self.assertAlmostEqual(w["ksmd_cpu_median_pct"], 12.5)
        self.assertAlmostEqual(w["ksmd_cpu_worst_pct"], 20.0)
        self.assertIsNone(ds.cpu_worst_slice([], 100))
        self.assertIsNone(ds.cpu_worst_slice(pts[:10], 100))  # under a slice
        # a counter that went back (another ksmd): no value across it
        self.assertAlmostEqual(ds.cpu_worst_slice(
            [S(0, 1, 900), S(5, 1, 10), S(15, 1, 110), S(16, 1, 120)], 100), 10.0)

    def test_cli(self):
        rc, out, err = run("window", fix("samples-window.tsv"), "--from", "0", "--to", "24.5",
                           "--mem-tail", "5")
        self.assertEqual((rc, err), (0, ""))
        st = kv(out)
        self.assertEqual(st["used_median_kib"], "1002250")
        self.assertEqual(st["ksmd_cpu_median_pct"], "30")
        self.assertEqual(st["slices"], "2")
        rc, out, _ = run("window", fix("samples-window.tsv"), "--from", "500")
        self.assertEqual(kv(out)["used_median_kib"], "-")
        rc, _, err = run("window", fix("no-such.tsv"))
        self.assertEqual(rc, 2)
        self.assertIn("no-such.tsv", err)
        rc, _, _ = run("window", fix("samples-window.tsv"), "--clk-tck", "0")
        self.assertEqual(rc, 2)

    def test_median(self):
        self.assertEqual(run("median", stdin="5\n1\n3\n\n")[1], "3\n")
        self.assertEqual(run("median", stdin="1\n2\n")[1], "1.5\n")
        self.assertEqual(run("median", stdin="")[1], "-\n")
        self.assertEqual(run("median", stdin="x\n")[0], 2)


class BurstsTest(unittest.TestCase):
    def test_each_guest(self):
        b = console_bursts("console-vm0.log", "console-vm1.log", "console-vm2.log",
                           "console-vm3.log")
        vm0, vm1, vm2, vm3 = (b[f"console-vm{i}.log"] for i in range(4))
        self.assertEqual(vm0, [ds.Burst(20001, 21250, 50003), ds.Burst(350002, 352402, 380000)])
        # the hold ended before the workload had its memory
        self.assertEqual(vm1[1], ds.Burst(350000, None, 380000))
        self.assertEqual(vm2, [])
        # OOM-killed during its second burst: neither reached nor ended
        self.assertEqual(vm3[1], ds.Burst(350010, None, None))
        self.assertEqual(vm0[0].latency_ms, 1249)
        self.assertIsNone(vm1[1].latency_ms)

    def test_summary(self):
        b = console_bursts("console-vm0.log", "console-vm1.log", "console-vm2.log",
                           "console-vm3.log")
        s = ds.burst_summary(b)
        self.assertEqual((s["guests"], s["bursts"], s["reached"], s["not_reached"], s["pending"]),
                         (4, 6, 4, 1, 1))
        # 890, 1249, 2400, 3000
        self.assertEqual(s["latency_median_ms"], (1249 + 2400) / 2)
        self.assertEqual(s["latency_max_ms"], 3000)
        self.assertEqual((s["min_started"], s["max_started"], s["min_ended"], s["silent"]),
                         (0, 2, 0, 1))
        second = ds.burst_summary(b, index=2)
        self.assertEqual((second["bursts"], second["reached"], second["not_reached"],
                          second["pending"]), (3, 1, 1, 1))
        self.assertEqual(second["latency_max_ms"], 2400)
        none = ds.burst_summary({})
        self.assertEqual((none["guests"], none["min_ended"], none["latency_median_ms"]),
                         (0, 0, None))

    def test_cli_from_line(self):
        files = [fix(f"console-vm{i}.log") for i in range(4)]
        rc, out, err = run("bursts", "--peak", "144", *files)
        self.assertEqual((rc, err), (0, ""))
        st = kv(out)
        self.assertEqual(st["latency_median_ms"], "1824.5")
        self.assertEqual(st["silent"], "1")
        # from line 10 of vm0: only its second burst
        st = kv(run("bursts", "--peak", "144", fix("console-vm0.log") + ":10")[1])
        self.assertEqual((st["bursts"], st["reached"], st["latency_max_ms"]), ("1", "1", "2400"))
        # past the end: a guest without bursts
        st = kv(run("bursts", "--peak", "144", fix("console-vm0.log") + ":999")[1])
        self.assertEqual((st["guests"], st["silent"]), ("1", "1"))
        # another peak size: nothing is a burst
        self.assertEqual(kv(run("bursts", "--peak", "96", *files)[1])["bursts"], "0")
        self.assertEqual(run("bursts", "--peak", "144", "--index", "0", *files)[0], 2)

    def test_noise(self):
        ev = ds.workload_events([
            "[  1.0] ballast-workload: t=5 ms target 144 MiB (holding 0)",
            "ballast-workload: t=x ms target 144 MiB",
            "ballast-workload: t=9 ms holding 144 MiB\r",
            "ballast-agent: workload started: pid 61, spike:base=16M,peak=144M",
            "ballast-workload: t=12 ms target 16 MiB (holding 144)",
        ])
        self.assertEqual(ev, [(5, "target", 144), (9, "holding", 144), (12, "target", 16)])
        # a second "target PEAK" while one burst runs does not start another
        b = ds.find_bursts([(1, "target", 144), (2, "target", 144), (3, "holding", 144)], 144)
        self.assertEqual(b, [ds.Burst(1, 3, None)])
        # holding below the peak is not reaching it
        b = ds.find_bursts([(1, "target", 144), (2, "holding", 100), (3, "target", 16)], 144)
        self.assertEqual(b, [ds.Burst(1, None, 3)])

    def test_oom(self):
        files = [fix(f"console-vm{i}.log") for i in range(4)]
        self.assertEqual(run("oom", *files)[1], "1\n")
        self.assertEqual(run("oom", fix("console-vm3.log") + ":9")[1], "1\n")
        self.assertEqual(run("oom", fix("console-vm3.log") + ":10")[1], "0\n")
        self.assertEqual(run("oom")[1], "0\n")
        self.assertEqual(ds.oom_kills(["Memory cgroup out of memory: Killed process 7 (x)",
                                       "oom_reaper: reaped process 7 (x)"]), 1)


def fixture_rows():
    rows = []
    for k in ("b", "e"):
        rc, out, err = run("row", "--strategy", k, "--run", fix(f"{k}.run.kv"),
                           "--main", fix(f"{k}.main.kv"), "--pack", fix(f"{k}.pack.kv"),
                           "--rounds", fix(f"{k}.rounds.tsv"))
        assert rc == 0, err
        rows.append(json.loads(out))
    return rows


def vmem_fixture_rows():
    """Rows (f), (g) with a packing test for (f) only, and (h) without."""
    rows = []
    for k in ("f", "g", "h"):
        argv = ["row", "--strategy", k, "--run", fix(f"{k}.run.kv"), "--main", fix(f"{k}.main.kv")]
        if os.path.exists(fix(f"{k}.pack.kv")):
            argv += ["--pack", fix(f"{k}.pack.kv"), "--rounds", fix(f"{k}.rounds.tsv")]
        rc, out, err = run(*argv)
        assert rc == 0, err
        rows.append(json.loads(out))
    return rows


def table_rows(md, heading):
    """The rows ("| (x) ...") of the section under HEADING, up to the next one."""
    part = md[md.index(heading) + len(heading):]
    part = part[:part.find("\n### ")] if "\n### " in part else part
    return [x for x in part.splitlines() if x.startswith("| (")]


def fixture_data_dir(tmp):
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    new = os.path.join(tmp, "new.jsonl")
    for r in fixture_rows():
        with open(new, "w") as f:
            f.write(json.dumps(r) + "\n")
        rc, _, err = run("merge", "--into", os.path.join(data, "results.jsonl"), new)
        assert rc == 0, err
    for name in os.listdir(FIX):
        if name.startswith("samples-") and name != "samples-window.tsv":
            shutil.copy(fix(name), data)
    return data


class RowsTest(unittest.TestCase):
    def test_row(self):
        b, e = fixture_rows()
        self.assertEqual(b["strategy"], "b")
        self.assertEqual(b["main"]["before_used_kib"], 1000000)
        self.assertIsNone(b["main"]["idle_ksmd_cpu_median_pct"])  # "-"
        self.assertEqual(e["main"]["idle_ksmd_cpu_worst_pct"], 6.2)
        self.assertEqual(b["run"]["commit"], "0000000")  # text stays text
        self.assertEqual(b["run"]["others_at_start"], 0)
        self.assertEqual(e["pack"]["fail_reason"],
                         "round limit (2 rounds, at most 48 guests): more may fit")
        self.assertIsNone(e["pack"]["first_fail"])
        self.assertEqual(len(b["pack"]["rounds"]), 3)
        self.assertEqual(b["pack"]["rounds"][2],
                         {"guests": 14, "t_from": 340.0, "t_to": 450.0, "cost_median_mib": 2110,
                          "cost_max_mib": 2500, "ok": 0,
                          "reason": "host cost 2110 MiB over the budget"})
        # long names, and no pack without --pack
        rc, out, _ = run("row", "--strategy", "ballast", "--run", fix("e.run.kv"))
        r = json.loads(out)
        self.assertEqual(r["strategy"], "e")
        self.assertNotIn("pack", r)
        self.assertEqual(run("row", "--strategy", "zz", "--run", fix("e.run.kv"))[0], 2)

    def test_num(self):
        for text, v in [("12", 12), ("1.5", 1.5), ("-", None), ("", None), ("null", None),
                        (None, None), ("nan", None), ("tcg", "tcg"), (" 7 ", 7)]:
            self.assertEqual(ds.num(text), v, text)

    def test_merge(self):
        b, e = fixture_rows()
        e2 = dict(e, run={"date": "later"})
        rows = ds.merge_rows([e, b], [e2, {"strategy": "zz"}, {"no": "strategy"}])
        self.assertEqual([r["strategy"] for r in rows], ["b", "e"])
        self.assertEqual(rows[1]["run"]["date"], "later")
        lines = [json.dumps(b), "{", "[]", "", '{"strategy": "x"}', json.dumps(e)]
        self.assertEqual([r["strategy"] for r in ds.read_rows(lines)], ["b", "e"])

    def test_strategy_key(self):
        for k, long, _ in ds.STRATEGIES:
            self.assertEqual(ds.strategy_key(k), k)
            self.assertEqual(ds.strategy_key(long), k)
        self.assertIsNone(ds.strategy_key("i"))
        self.assertIsNone(ds.strategy_key("F"))
        self.assertEqual(ds.KEYS, ["a", "b", "c", "d", "e", "f", "g", "h"])
        self.assertEqual(ds.strategy_key("ballast-vmem-thp"), "g")
        self.assertEqual(ds.strategy_key("ballast-thp"), "h")

    def test_merge_keeps_table_order_with_vmem(self):
        b, e = fixture_rows()
        f, g, h = vmem_fixture_rows()
        rows = ds.merge_rows([h, e], [g, b, f])
        self.assertEqual([r["strategy"] for r in rows], ["b", "e", "f", "g", "h"])
        lines = [json.dumps(r) for r in (h, b, {"strategy": "i"}, f)]
        self.assertEqual([r["strategy"] for r in ds.read_rows(lines)], ["h", "b", "f"])


class SelectTest(unittest.TestCase):
    def test_default_sets_leave_vmem_out(self):
        self.assertEqual(ds.select_strategies(), ["a", "b", "c", "d", "e"])
        self.assertEqual(ds.select_strategies(quick=True), ["b", "e"])

    def test_virtio_mem_adds_fgh_to_any_set(self):
        self.assertEqual(ds.select_strategies(virtio_mem=True), ds.KEYS)
        self.assertEqual(ds.select_strategies(quick=True, virtio_mem=True),
                         ["b", "e", "f", "g", "h"])
        self.assertEqual(ds.select_strategies("b", virtio_mem=True), ["b", "f", "g", "h"])
        self.assertEqual(ds.select_strategies("g,f", virtio_mem=True), ["f", "g", "h"])

    def test_only(self):
        # table order, once each, keys and long names mixed; --quick does not matter
        self.assertEqual(ds.select_strategies("h,ballast-vmem,e,f", quick=True), ["e", "f", "h"])
        self.assertEqual(ds.select_strategies("ballast-thp"), ["h"])
        for bad in ("zz", "e,,f", "", "f g"):
            with self.assertRaises(ValueError) as cm:
                ds.select_strategies(bad)
            self.assertIn("unknown strategy", str(cm.exception))
        self.assertIn("ballast-vmem-thp", ds.unknown_strategy_text("x"))
        self.assertIn("a..h", ds.unknown_strategy_text("x"))

    def test_fleet_arguments_and_ballastd(self):
        self.assertEqual(ds.selection_lines(ds.KEYS), [
            "a observe --no-free-page-reporting", "b observe", "c observe", "d observe",
            "e managed", "f managed --actuator both", "g managed --actuator both --thp",
            "h managed --thp"])
        self.assertEqual(ds.VMEM, {"f", "g"})
        self.assertEqual(ds.THP, {"g", "h"})

    def test_cli(self):
        self.assertEqual(run("select", "--quick", "--virtio-mem")[:2],
                         (0, "b observe\ne managed\nf managed --actuator both\n"
                             "g managed --actuator both --thp\nh managed --thp\n"))
        rc, out, err = run("select", "--only", "e,zz")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("--only: unknown strategy 'zz'", err)


class ReportTest(unittest.TestCase):
    def test_derived(self):
        b, e = fixture_rows()
        self.assertEqual(ds.idle_mib_per_guest(b), (2228800 - 1000000) / 8 / 1024)  # 150
        self.assertEqual(ds.idle_mib_per_guest(e), 75.0)
        self.assertAlmostEqual(ds.pss_mib_per_guest(b), 1200000 / 8 / 1024)
        self.assertAlmostEqual(ds.spike_peak_mib_per_guest(b), 2000000 / 8 / 1024)
        self.assertEqual(ds.ratio(75.0, 150.0), 0.5)
        for a, c in [(None, 1), (1, None), (1, 0), (-1, 2)]:
            self.assertIsNone(ds.ratio(a, c))
        self.assertIsNone(ds.idle_mib_per_guest({"strategy": "a"}))

    def test_markdown(self):
        md = ds.results_markdown(fixture_rows(), "density.png")
        self.assertIn("| (b) unmanaged, free page reporting on | 150 | 1.00x | 146 | 1.00x |", md)
        self.assertIn("| (e) ballast (ballastd, default config) | 75 | 0.50x | 73 | 0.50x | 310 | "
                      "1.5% | 6.2% | 60 s (cut short: a burst began) |", md)
        self.assertIn("| 8 of 8 | 1200 / 2100 ms | - |", md)
        self.assertIn("| 7 of 8 | 1900 / 9100 ms | 11: 240 / 1300 ms | 3 | 1 / 1 | 8 of 8 |", md)
        self.assertIn("| 12 | 1.00x | 14: host cost 2110 MiB over the budget | 3 | 158 |", md)
        self.assertIn("| at least 20 | 1.67x |", md)
        self.assertIn("WARNING: 2 other QEMU process(es)", md)
        self.assertIn("guests under **TCG**", md)
        self.assertIn("![fleet host memory over time, per strategy](density.png)", md)
        self.assertIn("Rows come from more than one run", md)
        self.assertNotIn("Not yet run", md)

    def test_markdown_ksmd_whole_run(self):
        # Rows from before have only the idle window's ksmd figures: no table.
        b, e = fixture_rows()
        self.assertNotIn("ksmd's CPU over the whole run", ds.results_markdown([b, e]))
        e["main"] = dict(e["main"], all_ksmd_cpu_worst_pct=9.1, all_ksmd_cpu_median_pct=2.04)
        e["pack"] = dict(e["pack"], all_ksmd_cpu_worst_pct=8.36)
        md = ds.results_markdown([b, e])
        self.assertIn("### ksmd's CPU over the whole run", md)
        self.assertIn("| (e) ballast (ballastd, default config) | 6.2% | 9.1% | 8.4% | 2.0% |\n",
                      md)
        self.assertNotIn("| (b) unmanaged, free page reporting on | - | - | - | - |", md)
        del e["pack"]  # --no-pack
        self.assertIn("| (e) ballast (ballastd, default config) | 6.2% | 9.1% | - | 2.0% |\n",
                      ds.results_markdown([b, e]))

    def test_markdown_page_cache(self):
        # Rows from before --cache say nothing of it; a run with it says how
        # much each guest left, and rows of different workloads are marked.
        b, e = fixture_rows()
        self.assertNotIn("page cache", ds.results_markdown([b, e]))
        b["run"] = dict(b["run"], cache_mib=64)
        md = ds.results_markdown([b])
        self.assertIn("each guest leaves 64 MiB of page cache after every burst (--cache)", md)
        md = ds.results_markdown([b, e])
        self.assertIn("| page cache left per guest (MiB) |", md)
        self.assertRegex(md, r"\| \(b\) unmanaged, free page reporting on \| [^\n]* \| 64 \|\n")
        self.assertRegex(md, r"\| \(e\) ballast [^\n]* \| 0 \(before --cache\) \|\n")
        b["run"]["cache_mib"] = 0
        self.assertIn("no page cache left behind (--cache 0)", ds.results_markdown([b]))

    def test_markdown_idle_packing(self):
        # Rows from before pack_every_s had every guest burst each round and
        # say so; a run with it names the repeat and the round's window.
        b, e = fixture_rows()
        md = ds.results_markdown([b, e])
        self.assertIn("observed for one spike period", md)
        self.assertNotIn("repeat their workload", md)
        for r in (b, e):
            r["run"] = dict(r["run"], pack_every_s=600, pack_window_s=90)
        md = ds.results_markdown([b, e])
        self.assertIn("packing guests repeat their workload every 600 s and idle between", md)
        self.assertIn("Rounds (each: the newest pair's first burst, then 90 s of the fleet at "
                      "that size;", md)
        self.assertNotIn("one spike period", md)

    def test_markdown_clean_and_empty(self):
        b, _ = fixture_rows()
        md = ds.results_markdown([b])
        self.assertIn("Other QEMU processes running when each strategy started: 0.", md)
        self.assertNotIn("WARNING", md)
        self.assertNotIn("more than one run", md)
        self.assertNotIn("![", md)
        self.assertIn("**Not yet run.**", ds.results_markdown([]))
        # without the baseline (b) there is no ratio
        _, e = fixture_rows()
        self.assertIn("| 75 | - | 73 | - |", ds.results_markdown([e]))

    def test_splice(self):
        old = "# old\n\nold results 1 2 3\n\n## Method\n\nkept *as is*\n\n## Notes\n\nkept too\n"
        new = ds.splice_doc(old, "# new\n\nresults\n")
        self.assertEqual(new, "# new\n\nresults\n\n## Method\n\nkept *as is*\n\n## Notes\n\nkept too\n")
        self.assertEqual(ds.splice_doc(None, "r\n"), "r\n")
        self.assertEqual(ds.splice_doc("no method here\n", "r\n"), "r\n")
        # "## Methods" is not "## Method"; a heading inside a line does not count
        self.assertEqual(ds.splice_doc("x ## Method\n## Methods\n", "r\n"), "r\n")

    def test_the_doc(self):
        """docs/benchmarks/density.md: a Method section the script keeps, and no
        invented results: the results part either says it has not been run, or
        is a run's (the command that produced it, the host, how many other
        QEMUs ran, and the baseline's ratio 1.00x)."""
        text = read(DOC)
        self.assertIn("\n## Method\n", text)
        head = text[:text.index("\n## Method\n")]
        if "not yet run" in head.lower():
            self.assertNotIn("|---|", head)  # no result table before a run
        else:
            self.assertRegex(head, r"Command: `scripts/bench-density[^`]*`")
            self.assertIn("Other QEMU processes running when each strategy started:", head)
            self.assertRegex(head, r"\| \(b\) [^|]* \| \d+ \| 1\.00x \|")
        spliced = ds.splice_doc(text, ds.results_markdown(fixture_rows()))
        self.assertEqual(spliced[spliced.index("\n## Method\n"):], text[text.index("\n## Method\n"):])


class VmemReportTest(unittest.TestCase):
    def test_old_data_renders_byte_for_byte(self):
        """Rows without f..h and without the newer figures: the report the
        code rendered before they existed (tests/fixtures/density/report-b-e.md)."""
        self.assertEqual(ds.results_markdown(fixture_rows(), "density.png"),
                         read(fix("report-b-e.md")))
        self.assertEqual(ds.vmem_table(fixture_rows()), [])

    def test_derived(self):
        f, g, h = vmem_fixture_rows()
        self.assertEqual(ds.vmem_mib_per_guest(f), (6.0, 8.0))
        self.assertEqual(ds.vmem_mib_per_guest(g), (4.0, 4.0))
        self.assertEqual(ds.vmem_mib_per_guest(h), (None, None))
        self.assertEqual(ds.thp_mib_per_guest(f), 0.0)
        self.assertEqual(ds.thp_mib_per_guest(g), 40.0)  # over the 7 VMs with a cost, not 8
        self.assertEqual(ds.thp_mib_per_guest(h), 100.0)
        _, e = fixture_rows()
        self.assertIsNone(ds.thp_mib_per_guest(e))  # an old row has no such figure
        for m in ({"idle_thp_kib": 1024, "idle_cost_vms": 0}, {"idle_thp_kib": 1024},
                  {"idle_thp_kib": "x", "idle_cost_vms": 2}):
            self.assertIsNone(ds.thp_mib_per_guest({"main": m}), m)
        self.assertEqual(f["main"]["fleet_args"], "--actuator both")  # text stays text
        self.assertEqual(g["main"]["host_thp"], "madvise")

    def test_table(self):
        md = ds.results_markdown(fixture_rows() + vmem_fixture_rows())
        self.assertTrue(md.startswith("# Density benchmark: how many idle tiny guests fit, five "
                                      "ways, and virtio-mem and THP beside the balloon\n"))
        self.assertEqual(table_rows(md, "### virtio-mem beside the balloon"), [
            "| (e) ballast (ballastd, default config) | microvm, balloon | off | 75 | - | - | - | "
            "11: 240 / 1300 ms |",
            "| (f) ballast, virtio-mem beside the balloon (THP off) | q35, 128 MiB at boot + "
            "128 MiB virtio-mem, balloon | off | 60 | 0.80x of (e) | 6 of 8 | 0 | 9: 30 / 80 ms |",
            "| (g) ballast, virtio-mem beside the balloon, THP on | q35, 128 MiB at boot + "
            "128 MiB virtio-mem, balloon | on (host: madvise) | 70 | 0.50x of (h) | 4 of 4 | 40 | "
            "5: 12 / 54 ms |",
            "| (h) ballast, balloon only, THP on | microvm, balloon | on (host: madvise) | 140 | "
            "1.87x of (e) | - | 100 | 7: 200 / 900 ms |"])
        # between the spike and the packing tables
        self.assertLess(md.index("### Spike"), md.index("### virtio-mem beside the balloon"))
        self.assertLess(md.index("### virtio-mem beside the balloon"), md.index("### Packing"))
        # the other tables carry f..h as rows of their own; (b) and (e) unchanged
        old = read(fix("report-b-e.md"))
        for line in old.splitlines():
            if line.startswith("| (b) ") or line.startswith("| (e) "):
                self.assertIn(line + "\n", md)
        self.assertIn("| (f) ballast, virtio-mem beside the balloon (THP off) | 60 | 0.40x |", md)
        self.assertIn("| (h) ballast, balloon only, THP on | 8 of 8 | 1300 / 2000 ms | "
                      "7: 200 / 900 ms |", md)
        self.assertIn("| (f) ballast, virtio-mem beside the balloon (THP off) | 2048 MiB | 22 | "
                      "1.83x | 24: host cost 2100 MiB over the budget | 3 | 80 |", md)
        self.assertNotIn("| (h) ballast, balloon only, THP on | 2048 MiB", md)  # no packing

    def test_table_without_references(self):
        """(g) alone: nothing to hold it against; (h) alone shows the table too."""
        _, g, h = vmem_fixture_rows()
        md = ds.results_markdown([g])
        self.assertIn("| on (host: madvise) | 70 | - | 4 of 4 | 40 | 5: 12 / 54 ms |", md)
        md = ds.results_markdown([h])
        self.assertIn("### virtio-mem beside the balloon", md)
        self.assertIn("| (h) ballast, balloon only, THP on | microvm, balloon | on (host: madvise) "
                      "| 140 | - | - | 100 |", md)
        # an (f) whose explain found no device, from a run without the fleet's boot size
        f, _, _ = vmem_fixture_rows()
        for k in ("idle_vmem_plugged_kib", "idle_vmem_requested_kib", "vmem_boot_mib"):
            del f["main"][k]
        f["main"]["idle_vmem_vms"] = 0
        self.assertIn("| q35, virtio-mem + balloon | off | 60 | - | - | 0 |",
                      ds.results_markdown([f]))


class PlotTest(unittest.TestCase):
    def test_data_and_script(self):
        s = ds.plot_series([ds.Sample(0.0, 2048, None), ds.Sample(1.5, 3072, None)], 1024)
        self.assertEqual(s, [(0.0, 1.0), (1.5, 2.0)])
        data = ds.plot_data([("b main", s), ("e main", [(0.0, 5.0)])])
        self.assertEqual(data, "# b main\n0.0 1.0\n1.5 2.0\n\n\n# e main\n0.0 5.0\n")
        gp = ds.gnuplot_script("/o/d.png", "/d/plot.dat", [(0, "(b) x"), (1, 'say "hi"')],
                               [], 2048)
        self.assertIn("set terminal pngcairo", gp)
        self.assertIn('set output "/o/d.png"', gp)
        self.assertIn('"/d/plot.dat" index 0 using 1:2 with lines lw 2 title "(b) x"', gp)
        self.assertIn('title "say \\"hi\\""', gp)
        self.assertIn("not measured", gp)  # no packing series
        gp = ds.gnuplot_script("p.png", "d", [], [(0, "(e) y")], 2048)
        self.assertIn("2048 with lines dt 2", gp)
        self.assertIn("no data", gp)

    def test_build(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = fixture_data_dir(tmp)
            script = os.path.join(tmp, "plot.gp")
            png = os.path.join(tmp, "d.png")
            rc, out, err = run("plot", "--data", data, "--png", png, "--script", script)
            self.assertEqual((rc, out, err), (0, "4\n", ""))
            gp = read(script)
            self.assertEqual(gp.count(" index "), 4)
            self.assertIn("2048 with lines", gp)
            blocks = read(os.path.join(data, "plot.dat")).split("\n\n\n")
            self.assertEqual(len(blocks), 4)
            self.assertTrue(blocks[0].startswith("# b main\n0.0 "))
            self.assertTrue(blocks[3].startswith("# e pack\n0.0 "))
            if shutil.which("gnuplot"):
                subprocess.run(["gnuplot", script], check=True, capture_output=True)
                with open(png, "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            # no results: an empty plot, said so
            empty = os.path.join(tmp, "empty")
            os.makedirs(empty)
            self.assertEqual(run("plot", "--data", empty, "--png", png, "--script", script)[1],
                             "0\n")


    def test_empty_panels_still_draw(self):
        """--no-pack leaves the packing panel empty, a run with no results both:
        gnuplot must still write the PNG (`plot 1/0` made it fail)."""
        if not shutil.which("gnuplot"):
            self.fail("gnuplot not installed (scripts/setup installs gnuplot-nox)")
        with tempfile.TemporaryDirectory() as tmp:
            dat = os.path.join(tmp, "plot.dat")
            with open(dat, "w", encoding="utf-8") as f:
                f.write(ds.plot_data([("b main", [(0.0, 1.0), (1.0, 2.0)])]))
            for main in ([(0, "(b) x")], []):
                png = os.path.join(tmp, f"p{len(main)}.png")
                script = os.path.join(tmp, "p.gp")
                with open(script, "w", encoding="utf-8") as f:
                    f.write(ds.gnuplot_script(png, dat, main, [], None))
                r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
                self.assertEqual((r.returncode, r.stderr), (0, ""))
                with open(png, "rb") as f:
                    self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

@unittest.skipUnless(shutil.which("bash") and shutil.which("jq") and shutil.which("numfmt"),
                     "bash, jq or numfmt missing")
class ScriptTest(unittest.TestCase):
    """scripts/bench-density on the paths that boot nothing."""

    def script(self, *args, env=None):
        e = dict(os.environ, **(env or {}))
        return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True,
                              timeout=60, env=e, stdin=subprocess.DEVNULL)

    def test_bad_arguments(self):
        for args, needle in [(["--guests", "1"], "--guests"), (["--guests", "x"], "--guests"),
                             (["--budget", "2Q"], "--budget"), (["--budget", "100M"], "512M"),
                             (["--only", "zz"], "unknown strategy"), (["--frobnicate"], "unknown"),
                             (["--out"], "needs a value"), (["--cache", "200"], "--cache"),
                             (["--cache", "x"], "--cache")]:
            p = self.script(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(needle, p.stderr, args)
        p = self.script("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("--from-data", p.stdout)

    def test_dry_run(self):
        build = os.environ.get("BALLAST_BUILD_DIR", os.path.join(SRC, "build"))
        p = self.script("--dry-run", "--quick", "--only", "e,fpr-off",
                        env={"BALLAST_BUILD_DIR": build})
        self.assertIn("strategies: a e;", p.stdout)  # --only's list, in table order
        self.assertIn("spike:base=16M,peak=144M,after=20s,hold=30s,every=150s", p.stdout)
        self.assertIn("--no-free-page-reporting", p.stdout)  # (a) only
        if not os.path.exists(os.path.join(build, "bin", "ballastd")):
            self.assertEqual(p.returncode, 1)
            self.assertIn("MISSING", p.stdout)
            return
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("nothing booted", p.stdout)
        p = self.script("--dry-run", "--no-pack", env={"BALLAST_BUILD_DIR": build})
        self.assertIn("strategies: a b c d e;", p.stdout)
        self.assertIn("packing: skipped", p.stdout)
        self.assertNotIn("--actuator", p.stdout)
        self.assertNotIn("--thp", p.stdout)
        # --cache 0: the disk-less workload of the runs before it
        p0 = self.script("--dry-run", "--no-pack", "--cache", "0", env={"BALLAST_BUILD_DIR": build})
        self.assertNotIn("cache=", p0.stdout)
        self.assertNotIn("--disk", p0.stdout)

    def test_dry_run_virtio_mem(self):
        build = os.environ.get("BALLAST_BUILD_DIR", os.path.join(SRC, "build"))
        env = {"BALLAST_BUILD_DIR": build}
        p = self.script("--dry-run", "--only", "e,f,g,h", env=env)
        self.assertIn("strategies: e f g h;", p.stdout)
        for key, args in (("e", ""), ("f", " --actuator both"), ("g", " --actuator both --thp"),
                          ("h", " --thp")):
            self.assertRegex(p.stdout, rf"\({key}\) fleet start [^\n]*every=330s,cache=64M "
                                       rf"--disk 80{args}\n"
                                       r"      ballastd: default config \(packing: memory_budget\)")
        self.assertIn("virtio-mem (--actuator both)", p.stdout)
        self.assertIn("host THP: ", p.stdout)
        p2 = self.script("--dry-run", "--virtio-mem", env=env)
        self.assertIn("strategies: a b c d e f g h;", p2.stdout)
        self.assertIn("(a) fleet start", p2.stdout)
        p3 = self.script("--dry-run", "--quick", "--virtio-mem", "--only", "b", env=env)
        self.assertIn("strategies: b f g h;", p3.stdout)
        self.assertIn("(b) fleet start --count 8 --memory 256M --wait --workload "
                      "spike:base=16M,peak=144M,after=20s,hold=30s,every=150s,cache=64M --disk 80\n"
                      "      ballastd: observer", p3.stdout)
        if not os.path.exists(os.path.join(build, "bin", "ballastd")):
            self.assertEqual(p.returncode, 1)
            return
        for x in (p, p2, p3):
            self.assertEqual(x.returncode, 0, x.stdout + x.stderr)
            self.assertIn("nothing booted", x.stdout)

    def test_from_data(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = fixture_data_dir(tmp)
            out = os.path.join(tmp, "doc", "density.md")
            os.makedirs(os.path.dirname(out))
            shutil.copy(DOC, out)
            plot = os.path.join(tmp, "doc", "density.png")
            p = self.script("--from-data", data, "--out", out, "--plot", plot)
            self.assertEqual(p.returncode, 0, p.stderr)
            text = read(out)
            self.assertIn("| (e) ballast (ballastd, default config) | 75 | 0.50x |", text)
            # the Method section of the real doc is kept
            method = read(DOC)
            self.assertTrue(text.endswith(method[method.index("\n## Method\n"):]))
            if shutil.which("gnuplot"):
                self.assertIn("](density.png)", text)
                with open(plot, "rb") as f:
                    self.assertEqual(f.read(4), b"\x89PNG")
            # (f)..(h) added to the same data: their table, the old rows unchanged
            new = os.path.join(tmp, "vmem.jsonl")
            with open(new, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in vmem_fixture_rows())
            self.assertEqual(run("merge", "--into", os.path.join(data, "results.jsonl"), new)[0], 0)
            p = self.script("--from-data", data, "--out", out, "--plot", plot)
            self.assertEqual(p.returncode, 0, p.stderr)
            text = read(out)
            self.assertIn("| (g) ballast, virtio-mem beside the balloon, THP on | q35, 128 MiB", text)
            self.assertIn("| (e) ballast (ballastd, default config) | 75 | 0.50x |", text)
            self.assertTrue(text.endswith(method[method.index("\n## Method\n"):]))
            p = self.script("--from-data", os.path.join(tmp, "nothing"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("results.jsonl not found", p.stderr)


if __name__ == "__main__":
    unittest.main()
