#!/usr/bin/env python3
"""Statistics for scripts/bench-ballastd, from ballastd's structured log.

ballastd runs there with --log-format=fields: one JSON object per log
record, every field a string (docs/ballastd.md, Logging). This script reads
the fields, never the human MESSAGE, and does the benchmark's arithmetic, so
the shell script only measures and fills in the report.

  bench_stats.py log FILE [--from-line N]
      Reads FILE (from its line N on, as `tail -n +N`) and prints key=value
      lines:
        records        log records read
        malformed      lines that are not a record, or a record with a bad
                       LATENCY_MS: skipped and counted (also said on stderr)
        growths        growth commands sent: DECISION grow or grow_urgent,
                       ACTION move
        urgent_pressure  of those, grow_urgent on a PRESSURE frame or guest
                       PSI: REASON pressure, psi_some or psi_full
        rising         of those, grow ahead of a rising working set: REASON rising
        not_reached    growths whose balloon did not reach the target in time
                       (records with TIMEOUT_MS)
        latency_count, latency_median_ms, latency_p90_ms, latency_max_ms
                       report -> balloon reached (LATENCY_MS); "-" with none.
                       Median: the lower middle value; p90: nearest rank,
                       value number floor(0.9 n + 0.5) (at least 1) in order.
  bench_stats.py per-report CPU_US REPORTS
      CPU per agent report in us, 1 decimal; 0.0 without a report.
  bench_stats.py per-tick CPU_US TICKS [--reports N --per-report-us US]
      CPU per tick in ms, 2 decimals, after taking off N reports at US each;
      "-" without a tick.
  bench_stats.py per-wakeup CPU_US WAKEUPS
      CPU per wakeup in us, no decimals; "-" without a wakeup.
  bench_stats.py rate EVENTS SECONDS [--min R]
      events per second, at least R, 2 decimals.
  bench_stats.py percent-saved BEFORE AFTER
      (BEFORE - AFTER) * 100 / BEFORE, no decimals; "-" when BEFORE <= 0.
  bench_stats.py sum
      The sum of the integers on stdin, one a line; "null" or an empty line
      counts 0 (jq prints null for a guest without the figure).
  bench_stats.py median
      The lower median of the integers on stdin, one a line (empty lines
      skipped); "-" with none.

Exit status: 0, or 2 for a usage error or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Iterable, TextIO

GROWTH_DECISIONS = frozenset({"grow", "grow_urgent"})
PRESSURE_REASONS = frozenset({"pressure", "psi_some", "psi_full"})


@dataclass
class LogStats:
    records: int = 0
    malformed: int = 0
    growths: int = 0
    urgent_pressure: int = 0
    rising: int = 0
    not_reached: int = 0
    latencies_ms: list[int] = field(default_factory=list)


def parse_record(line: str) -> dict[str, str] | None:
    """One log line as its fields, or None when it is not a record."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        return None
    return obj


def read_log(lines: Iterable[str]) -> LogStats:
    st = LogStats()
    for line in lines:
        rec = parse_record(line)
        if rec is None:
            st.malformed += 1
            continue
        if "LATENCY_MS" in rec:
            text = rec["LATENCY_MS"]
            if not (text.isascii() and text.isdigit()):
                st.malformed += 1
                continue
            st.latencies_ms.append(int(text))
        st.records += 1
        if "TIMEOUT_MS" in rec:
            st.not_reached += 1
        if rec.get("DECISION") in GROWTH_DECISIONS and rec.get("ACTION") == "move":
            st.growths += 1
            reason = rec.get("REASON")
            if rec["DECISION"] == "grow_urgent" and reason in PRESSURE_REASONS:
                st.urgent_pressure += 1
            if rec["DECISION"] == "grow" and reason == "rising":
                st.rising += 1
    return st


def median_low(values: list[int]) -> int:
    s = sorted(values)
    return s[(len(s) + 1) // 2 - 1]


def p90(values: list[int]) -> int:
    s = sorted(values)
    rank = math.floor(len(s) * 0.9 + 0.5)
    return s[max(rank, 1) - 1]


def summary(st: LogStats) -> list[tuple[str, str]]:
    lat = st.latencies_ms
    return [
        ("records", str(st.records)),
        ("malformed", str(st.malformed)),
        ("growths", str(st.growths)),
        ("urgent_pressure", str(st.urgent_pressure)),
        ("rising", str(st.rising)),
        ("not_reached", str(st.not_reached)),
        ("latency_count", str(len(lat))),
        ("latency_median_ms", str(median_low(lat)) if lat else "-"),
        ("latency_p90_ms", str(p90(lat)) if lat else "-"),
        ("latency_max_ms", str(max(lat)) if lat else "-"),
    ]


def per_report(cpu_us: float, reports: float) -> str:
    return f"{cpu_us / reports if reports else 0:.1f}"


def per_tick(cpu_us: float, ticks: float, reports: float = 0, per_report_us: float = 0) -> str:
    if ticks <= 0:
        return "-"
    return f"{(cpu_us - reports * per_report_us) / ticks / 1000:.2f}"


def per_wakeup(cpu_us: float, wakeups: float) -> str:
    return f"{cpu_us / wakeups:.0f}" if wakeups > 0 else "-"


def rate(events: float, seconds: float, minimum: float = 0.0) -> str:
    r = events / seconds if seconds > 0 else 0.0
    return f"{max(r, minimum):.2f}"


def percent_saved(before: float, after: float) -> str:
    return f"{(before - after) * 100 / before:.0f}" if before > 0 else "-"


def ints(lines: Iterable[str]) -> list[int]:
    return [int(w) for w in (line.strip() for line in lines) if w]


def sum_lines(lines: Iterable[str]) -> int:
    total = 0
    for line in lines:
        word = line.strip()
        if word and word != "null":
            total += int(word)
    return total


def cmd_log(args: argparse.Namespace, out: TextIO) -> int:
    try:
        # One record a line, and only "\n" ends one: str.splitlines() would
        # also split at U+2028 or U+0085 (ballastd escapes them; other
        # writers to its stderr may not).
        with open(args.file, encoding="utf-8", errors="replace", newline="\n") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    except OSError as e:
        print(f"bench_stats: {e}", file=sys.stderr)
        return 2
    st = read_log(lines[args.from_line - 1 :])
    if st.malformed:
        print(f"bench_stats: {args.file}: {st.malformed} line(s) not a log record, skipped",
              file=sys.stderr)
    for key, value in summary(st):
        print(f"{key}={value}", file=out)
    return 0


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    p = argparse.ArgumentParser(prog="bench_stats.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("log")
    s.add_argument("file")
    s.add_argument("--from-line", type=int, default=1)
    s = sub.add_parser("per-report")
    s.add_argument("cpu_us", type=float)
    s.add_argument("reports", type=float)
    s = sub.add_parser("per-tick")
    s.add_argument("cpu_us", type=float)
    s.add_argument("ticks", type=float)
    s.add_argument("--reports", type=float, default=0)
    s.add_argument("--per-report-us", type=float, default=0)
    s = sub.add_parser("per-wakeup")
    s.add_argument("cpu_us", type=float)
    s.add_argument("wakeups", type=float)
    s = sub.add_parser("rate")
    s.add_argument("events", type=float)
    s.add_argument("seconds", type=float)
    s.add_argument("--min", type=float, default=0.0)
    s = sub.add_parser("percent-saved")
    s.add_argument("before", type=float)
    s.add_argument("after", type=float)
    sub.add_parser("sum")
    sub.add_parser("median")
    args = p.parse_args(argv)

    if args.cmd == "log":
        if args.from_line < 1:
            p.error("--from-line counts from 1")
        return cmd_log(args, out)
    if args.cmd == "per-report":
        print(per_report(args.cpu_us, args.reports), file=out)
    elif args.cmd == "per-tick":
        print(per_tick(args.cpu_us, args.ticks, args.reports, args.per_report_us), file=out)
    elif args.cmd == "per-wakeup":
        print(per_wakeup(args.cpu_us, args.wakeups), file=out)
    elif args.cmd == "rate":
        print(rate(args.events, args.seconds, args.min), file=out)
    elif args.cmd == "percent-saved":
        print(percent_saved(args.before, args.after), file=out)
    elif args.cmd in ("sum", "median"):
        try:
            if args.cmd == "sum":
                print(sum_lines(sys.stdin), file=out)
            else:
                values = ints(sys.stdin)
                print(median_low(values) if values else "-", file=out)
        except ValueError as e:
            print(f"bench_stats: {args.cmd}: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
