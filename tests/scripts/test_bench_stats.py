"""unit.scripts.bench_stats: scripts/bench_stats.py, the statistics of
scripts/bench-ballastd, on tests/fixtures/ballastd-log/fields.log: records as
ballastd --log-format=fields writes them (from a fake-fleet run, trimmed),
growths of every cause, sent and not sent, a growth never reached, names with
quotes, newlines and UTF-8, a record cut short by TRUNCATED, and lines that
are not records (text, a half-written line, an empty line, JSON that is not
an object of strings, a latency that is not a number, bytes that are not
UTF-8), which must be skipped and counted. The old awk formulas are the
oracle for the median, p90 and the arithmetic, so the numbers in
docs/benchmarks/ballastd.md keep their meaning.
"""

import contextlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "scripts"))
import bench_stats  # noqa: E402

FIXTURE = os.path.join(SRC, "tests", "fixtures", "ballastd-log", "fields.log")


def run(*argv, stdin=""):
    """main(argv): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stderr(err):
            try:
                rc = bench_stats.main(list(argv), out=out)
            except SystemExit as e:  # argparse
                rc = e.code
    finally:
        sys.stdin = old_stdin
    return rc, out.getvalue(), err.getvalue()


def log_stats(*extra):
    rc, out, err = run("log", FIXTURE, *extra)
    assert rc == 0, err
    return dict(line.split("=", 1) for line in out.splitlines()), err


class LogTest(unittest.TestCase):
    def test_whole_log(self):
        st, err = log_stats()
        self.assertEqual(st["malformed"], "7")
        self.assertEqual(st["records"], "29")
        self.assertIn("7 line(s) not a log record", err)
        # sent growths only: observe and dry-run lines (ACTION would_move) are not
        self.assertEqual(st["growths"], "10")
        # PRESSURE frames and guest PSI (some, full); not the OOM kill or the floor
        self.assertEqual(st["urgent_pressure"], "5")
        self.assertEqual(st["rising"], "1")
        self.assertEqual(st["not_reached"], "1")
        # 12 20 33 40 53 61 77 95 150 308
        self.assertEqual(st["latency_count"], "10")
        self.assertEqual(st["latency_median_ms"], "53")
        self.assertEqual(st["latency_p90_ms"], "150")
        self.assertEqual(st["latency_max_ms"], "308")

    def test_window(self):
        # from the observe-mode line on (as `tail -n +26`)
        st, _ = log_stats("--from-line", "26")
        self.assertEqual(st["records"], "10")
        self.assertEqual(st["malformed"], "1")
        self.assertEqual(st["growths"], "3")
        self.assertEqual(st["urgent_pressure"], "2")
        self.assertEqual(st["rising"], "0")
        self.assertEqual(st["not_reached"], "1")
        self.assertEqual(st["latency_count"], "3")
        self.assertEqual(st["latency_median_ms"], "33")
        self.assertEqual(st["latency_p90_ms"], "150")
        self.assertEqual(st["latency_max_ms"], "150")

    def test_past_the_end(self):
        st, err = log_stats("--from-line", "1000")
        self.assertEqual(st["records"], "0")
        self.assertEqual(st["growths"], "0")
        self.assertEqual(st["latency_count"], "0")
        for k in ("latency_median_ms", "latency_p90_ms", "latency_max_ms"):
            self.assertEqual(st[k], "-")
        self.assertEqual(err, "")

    def test_hostile_lines(self):
        lines = [
            "",
            "{",
            "null",
            '"a string"',
            "[]",
            '{"LATENCY_MS": ["1"]}',
            '{"LATENCY_MS": "-5"}',
            '{"LATENCY_MS": "\u0661\u0662"}',  # Arabic-Indic digits: isdigit(), not ours
            '{"DECISION": {"x": "grow"}}',
            "\x00\x01\x02",
            "x" * 100000,
            '{"DECISION":"grow","ACTION":"move","REASON":"rising"}',
        ]
        st = bench_stats.read_log(lines)
        self.assertEqual(st.malformed, 11)
        self.assertEqual(st.records, 1)
        self.assertEqual(st.growths, 1)
        self.assertEqual(st.rising, 1)
        self.assertEqual(st.latencies_ms, [])

    def test_line_ends(self):
        # Only "\n" ends a record: a raw U+2028 or NEL inside one (valid JSON) does not.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", suffix=".log",
                                         delete=False) as f:
            f.write('{"VM":"a\u2028b\x85c","LATENCY_MS":"7"}\n'
                    '{"VM":"e","LATENCY_MS":"9"}')  # no newline at the end
        try:
            rc, out, err = run("log", f.name)
        finally:
            os.unlink(f.name)
        st = dict(line.split("=", 1) for line in out.splitlines())
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(st["records"], "2")
        self.assertEqual(st["malformed"], "0")
        self.assertEqual(st["latency_max_ms"], "9")

    def test_errors(self):
        rc, _, err = run("log", os.path.join(HERE, "no-such-file.log"))
        self.assertEqual(rc, 2)
        self.assertIn("no-such-file.log", err)
        rc, _, _ = run("log", FIXTURE, "--from-line", "0")
        self.assertEqual(rc, 2)
        rc, _, _ = run("no-such-command")
        self.assertEqual(rc, 2)


def awk(program, *assigns):
    args = ["awk"]
    for a in assigns:
        args += ["-v", a]
    return subprocess.run(args + [program], input="", capture_output=True, text=True,
                          check=True).stdout.strip()


@unittest.skipUnless(shutil.which("awk"), "awk not installed: no oracle")
class SameAsAwkTest(unittest.TestCase):
    """What scripts/bench-ballastd computed with awk before, for the same input."""

    def test_median_p90(self):
        rnd = random.Random(7)
        for n in list(range(1, 25)) + [99, 100, 101, 1000]:
            values = [rnd.randrange(0, 2000) for _ in range(n)]
            data = "\n".join(map(str, sorted(values))) + "\n"
            med = subprocess.run(
                ["awk", "{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print \"-\"}"],
                input=data, capture_output=True, text=True, check=True).stdout.strip()
            p90 = subprocess.run(
                ["awk", "{a[NR] = $1} END {if (NR) print a[int(NR * 0.9 + 0.5) ? "
                 "int(NR * 0.9 + 0.5) : 1]; else print \"-\"}"],
                input=data, capture_output=True, text=True, check=True).stdout.strip()
            self.assertEqual(str(bench_stats.median_low(values)), med, n)
            self.assertEqual(str(bench_stats.p90(values)), p90, n)

    def test_arithmetic(self):
        for c, r in [(123456, 30), (0, 0), (1000, 0), (98765, 7), (5, 3)]:
            self.assertEqual(
                bench_stats.per_report(c, r),
                awk('BEGIN {printf "%.1f", r ? c / r : 0}', f"c={c}", f"r={r}"))
        for c, r, p, k in [(4000000, 900, "55.1", 30), (1, 2, "0.5", 0), (777777, 0, "0.0", 7)]:
            self.assertEqual(
                bench_stats.per_tick(c, k, r, float(p)),
                awk('BEGIN {if (k) printf "%.2f", (c - r * p) / k / 1000; else print "-"}',
                    f"c={c}", f"r={r}", f"k={k}", f"p={p}"))
        for c, t in [(810000, 12), (0, 0), (5, 7), (1000000, -1)]:
            self.assertEqual(
                bench_stats.per_tick(c, t),
                awk('BEGIN {if (t > 0) printf "%.2f", c / t / 1000; else print "-"}',
                    f"c={c}", f"t={t}"))
        for c, w in [(810000, 29), (0, 0), (12345, 1000)]:
            self.assertEqual(
                bench_stats.per_wakeup(c, w),
                awk('BEGIN {if (w > 0) printf "%.0f", c / w; else print "-"}', f"c={c}", f"w={w}"))
        for w in [0, 5, 12, 29, 600]:
            self.assertEqual(
                bench_stats.rate(w, 60, 0.2),
                awk('BEGIN {r = w / 60; printf "%.2f", (r > 0.2 ? r : 0.2)}', f"w={w}"))
        for u, m in [(2048, 1100), (0, 5), (100, 150), (3000, 3000)]:
            self.assertEqual(
                bench_stats.percent_saved(u, m),
                awk('BEGIN {if (u > 0) printf "%.0f", (u - m) * 100 / u; else print "-"}',
                    f"u={u}", f"m={m}"))


class CliTest(unittest.TestCase):
    def test_commands(self):
        self.assertEqual(run("per-report", "3000", "20")[1], "150.0\n")
        self.assertEqual(run("per-report", "3000", "0")[1], "0.0\n")
        self.assertEqual(run("per-tick", "810000", "12")[1], "67.50\n")
        self.assertEqual(
            run("per-tick", "4000000", "30", "--reports", "900", "--per-report-us", "55.1")[1],
            "131.68\n")
        self.assertEqual(run("per-tick", "5", "0")[1], "-\n")
        self.assertEqual(run("per-wakeup", "810000", "30")[1], "27000\n")
        self.assertEqual(run("per-wakeup", "810000", "0")[1], "-\n")
        self.assertEqual(run("rate", "6", "60", "--min", "0.2")[1], "0.20\n")
        self.assertEqual(run("rate", "30", "60")[1], "0.50\n")
        self.assertEqual(run("percent-saved", "2000", "1000")[1], "50\n")
        self.assertEqual(run("percent-saved", "0", "1000")[1], "-\n")

    def test_sum(self):
        self.assertEqual(run("sum", stdin="1\nnull\n\n3\n")[1], "4\n")
        self.assertEqual(run("sum", stdin="")[1], "0\n")
        rc, _, err = run("sum", stdin="1\nlots\n")
        self.assertEqual(rc, 2)
        self.assertIn("lots", err)

    def test_median(self):
        # MemAvailable samples, as scripts/bench-ballastd takes 5 (was: sort -n | sed -n 3p)
        self.assertEqual(run("median", stdin="900\n100\n500\n300\n700\n")[1], "500\n")
        self.assertEqual(run("median", stdin="4\n2\n")[1], "2\n")
        self.assertEqual(run("median", stdin="\n")[1], "-\n")
        self.assertEqual(run("median", stdin="1\nx\n")[0], 2)


if __name__ == "__main__":
    unittest.main()
