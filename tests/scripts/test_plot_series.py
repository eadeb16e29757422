"""unit.scripts.plot_series: scripts/plot_series.py, the plotting step of
scripts/demo --plot and of bench-ksm, on tests/fixtures/demo-series (a
made-up series in the demo's format, and malformed ones) and on the kept
docs/benchmarks/ksm-data: the parser (each malformed file refused with
file:line and what was wrong), the figure (phases split, one line per
guest, markers where the boot ends and ballastd starts), the gnuplot data
and script; then the command itself: a PNG is drawn (PNG magic bytes, a
non-trivial size), a malformed series exits 2 with a clear message and
leaves no picture. Without gnuplot the drawing tests fail (scripts/setup
installs gnuplot-nox): a plot that silently is not drawn is the bug.
"""

import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "scripts"))
import plot_series as ps  # noqa: E402

FIX = os.path.join(SRC, "tests", "fixtures", "demo-series")
KSM_DATA = os.path.join(SRC, "docs", "benchmarks", "ksm-data")
SCRIPT = os.path.join(SRC, "scripts", "plot_series.py")
MIN_PNG_BYTES = 10_000  # two panels with axes, keys and lines; an empty canvas is ~3 KB


def fix(name):
    return os.path.join(FIX, name)


def parse_fixture(name):
    with open(fix(name), encoding="utf-8") as f:
        return ps.parse_demo(f, name)


class DemoParse(unittest.TestCase):
    def test_fixture_rows(self):
        s = parse_fixture("series.tsv")
        self.assertEqual(len(s), 193)  # 195 lines, a comment and the header
        self.assertEqual(s[0], ps.Sample(0.0, "boot", "fleet", 40.0))
        self.assertEqual({x.phase for x in s}, {"boot", "unmanaged", "managed"})
        self.assertEqual(sum(1 for x in s if x.series == "balloon/vm2"), 30)

    def test_malformed_named_with_line(self):
        cases = {
            "bad-fields.tsv": "bad-fields.tsv:3: expected 4 tab-separated fields "
                              "(t_s, phase, series, mib), got 3",
            "bad-number.tsv": "bad-number.tsv:3: mib 'lots' is not a number",
            "bad-header.tsv": "bad-header.tsv:1: expected the header",
            "bad-phase.tsv": "bad-phase.tsv:3: unknown phase 'settled'",
            "empty.tsv": "empty.tsv: no 'fleet' sample: nothing to draw",
        }
        for name, want in cases.items():
            with self.subTest(name=name):
                with self.assertRaises(ps.SeriesError) as cm:
                    parse_fixture(name)
                self.assertIn(want, str(cm.exception))

    def test_hostile_values(self):
        head = "t_s\tphase\tseries\tmib\n"
        for body, want in (
            ("-1\tboot\tfleet\t1\n", ":2: t_s -1 is negative"),
            ("1\tboot\tfleet\tnan\n", ":2: mib 'nan' is not a finite number"),
            ("1\tboot\tswap\t1\n", ":2: unknown series 'swap'"),
            ("1\tboot\tballoon/\t1\n", ":2: unknown series 'balloon/'"),
        ):
            with self.subTest(body=body):
                with self.assertRaises(ps.SeriesError) as cm:
                    ps.parse_demo(io.StringIO(head + body), "x.tsv")
                self.assertIn("x.tsv" + want, str(cm.exception))
        with self.assertRaises(ps.SeriesError) as cm:
            ps.parse_demo(io.StringIO(""), "none.tsv")
        self.assertIn("none.tsv: no header line", str(cm.exception))


class DemoFigure(unittest.TestCase):
    def setUp(self):
        self.fig = ps.demo_figure(parse_fixture("series.tsv"))

    def test_fleet_panel_phases_ksm_cost(self):
        fleet = self.fig.panels[0]
        titles = [ln.title for ln in fleet.lines]
        self.assertEqual(titles, ["fleet, unmanaged (boot included)", "fleet, managed by ballastd",
                                  "host cost, ballastd's per-guest accounting (sum)", "KSM saving"])
        self.assertEqual(len(fleet.lines[0].points), 18)  # 8 boot + 10 unmanaged samples
        self.assertEqual(fleet.lines[1].points[0], (36.0, 420.0))
        self.assertEqual(fleet.lines[3].points[-1], (94.0, 120.0))

    def test_balloon_per_guest_in_order(self):
        balloons = self.fig.panels[1]
        self.assertEqual([ln.title for ln in balloons.lines], ["vm0", "vm1", "vm2"])
        self.assertEqual(balloons.lines[0].points[0], (36.0, 256.0))
        self.assertEqual(balloons.lines[2].points[-1], (94.0, 128.0))

    def test_markers(self):
        self.assertEqual(self.fig.markers, [(16.0, "booted"), (36.0, "ballastd starts")])

    def test_natural_order(self):
        self.assertEqual(sorted(["vm10", "vm2", "vm1", "a"], key=ps._natural_key),
                         ["a", "vm1", "vm2", "vm10"])

    def test_data_and_script(self):
        data, index = ps.plot_data(self.fig)
        self.assertEqual(index, [[0, 1, 2, 3], [4, 5, 6]])
        self.assertEqual(data.count("\n\n\n"), 6)  # 7 blocks, two blank lines apart
        self.assertIn("# Balloon per guest (actual guest RAM, from ballastctl status): vm1\n"
                      "36.00 256.00\n", data)
        gp = ps.gnuplot_script('/o/"d".png', "/d/plot.dat", self.fig, index)
        self.assertIn('set output "/o/\\"d\\".png"', gp)
        self.assertIn("set multiplot layout 2,1", gp)
        self.assertIn("set arrow 2 from 36.00, graph 0 to 36.00, graph 1 nohead", gp)
        self.assertIn('"/d/plot.dat" index 6 using 1:2 with lines lw 2 title "vm2"', gp)
        self.assertEqual(gp.count("\nplot "), 2)

    def test_key_off_for_many_guests(self):
        gp = ps.gnuplot_script("p.png", "d", self.fig, ps.plot_data(self.fig)[1])
        self.assertEqual(gp.count("set key on"), 2)
        many = [ps.Sample(0, "boot", "fleet", 1)] + [
            ps.Sample(t, "managed", f"balloon/vm{i}", 100) for i in range(17) for t in (2, 4)]
        fig = ps.demo_figure(many)
        gp = ps.gnuplot_script("p.png", "d", fig, ps.plot_data(fig)[1])
        self.assertEqual(gp.count("set key on"), 1)
        self.assertEqual(gp.count("set key off"), 1)

    def test_empty_panel_says_no_data(self):
        fig = ps.demo_figure([ps.Sample(0, "boot", "fleet", 1), ps.Sample(2, "boot", "fleet", 2)])
        data, index = ps.plot_data(fig)
        self.assertEqual(index, [[0], []])
        self.assertIn("'no data'", ps.gnuplot_script("p.png", "d", fig, index))
        # and gnuplot draws it (`plot 1/0` failed: "all points y value undefined")
        if not shutil.which("gnuplot"):
            self.fail("gnuplot not installed (scripts/setup installs gnuplot-nox)")
        with tempfile.TemporaryDirectory() as tmp:
            dat, png, gp = (os.path.join(tmp, n) for n in ("d.dat", "p.png", "p.gp"))
            with open(dat, "w", encoding="utf-8") as f:
                f.write(data)
            with open(gp, "w", encoding="utf-8") as f:
                f.write(ps.gnuplot_script(png, dat, fig, index))
            r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(ps.is_png(png))


class Ksm(unittest.TestCase):
    def test_cpu_slices(self):
        rows = [(float(t), t * 5, 0.0) for t in range(0, 31)]  # 5 ticks/s at 100 Hz: 5%
        sl = ps.ksm_cpu_slices(rows, 100)
        self.assertEqual([t for t, _ in sl], [10.0, 20.0, 30.0])
        for _, pct in sl:
            self.assertAlmostEqual(pct, 5.0)
        self.assertEqual(ps.ksm_cpu_slices(rows[:5], 100), [])

    def test_kept_data(self):
        runs = ps.read_ksm_dir(KSM_DATA)
        self.assertEqual([s for s, _ in runs], ["defaults", "ksmtuned", "advisor", "ballast"])
        fig = ps.ksm_figure(runs, 100)
        ballast = fig.panels[0].lines[3]
        self.assertEqual(ballast.title, "ballast tuner")
        # docs/benchmarks/ksm.md: the tuner's fleet saved 2858 MiB at the end.
        self.assertAlmostEqual(ballast.points[-1][1], 2858, delta=1)

    def test_bad_csv(self):
        with self.assertRaises(ps.SeriesError) as cm:
            ps.parse_ksm_csv(io.StringIO("t_s,run\n0,1\n"), "a.csv")
        self.assertIn("a.csv:1: no column ksmd_ticks, fleet_saved", str(cm.exception))
        with self.assertRaises(ps.SeriesError) as cm:
            ps.parse_ksm_csv(io.StringIO("t_s,ksmd_ticks,fleet_saved\n0,1\n"), "b.csv")
        self.assertIn("b.csv:2: 2 fields, the header has 3", str(cm.exception))
        with self.assertRaises(ps.SeriesError) as cm:
            ps.read_ksm_dir(FIX)
        self.assertIn("no STRATEGY.csv file", str(cm.exception))


class Command(unittest.TestCase):
    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                              check=False)

    def assert_png(self, path):
        self.assertTrue(os.path.exists(path), f"{path} not drawn")
        self.assertTrue(ps.is_png(path), f"{path} is not a PNG")
        self.assertGreater(os.path.getsize(path), MIN_PNG_BYTES)

    def setUp(self):
        if not shutil.which("gnuplot"):
            self.fail("gnuplot not installed (scripts/setup installs gnuplot-nox)")
        self.tmp = tempfile.mkdtemp(prefix="ballast-r2-ops2-plot-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_demo_png(self):
        png = os.path.join(self.tmp, "demo.png")
        p = self.run_script("demo", fix("series.tsv"), "--png", png)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_png(png)
        self.assertFalse(os.path.exists(png + ".tmp"))

    def test_ksm_png(self):
        png = os.path.join(self.tmp, "ksm.png")
        p = self.run_script("ksm", KSM_DATA, "--png", png)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_png(png)

    def test_malformed_is_a_clear_error(self):
        png = os.path.join(self.tmp, "bad.png")
        p = self.run_script("demo", fix("bad-number.tsv"), "--png", png)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr.strip(),
                         f"plot_series: {fix('bad-number.tsv')}:3: mib 'lots' is not a number")
        self.assertFalse(os.path.exists(png))
        p = self.run_script("demo", os.path.join(self.tmp, "missing.tsv"), "--png", png)
        self.assertEqual(p.returncode, 2)
        self.assertIn("missing.tsv: No such file or directory", p.stderr)

    def test_gnuplot_failure_is_said(self):
        fig = ps.demo_figure(parse_fixture("series.tsv"))
        with self.assertRaises(ps.PlotError) as cm:
            ps.render(fig, os.path.join(self.tmp, "no-such-dir", "demo.png"))
        self.assertIn("gnuplot failed", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
