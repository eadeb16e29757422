#!/usr/bin/env python3
"""Draws recorded time series as a PNG with gnuplot (Debian's gnuplot-nox).

Plotting is a separate step from recording: the demo and the benchmarks
write their series while guests run, and this draws them afterwards, so a
plot can be redrawn (or tested) without booting anything.

  plot_series.py demo SERIES.tsv --png FILE.png
      scripts/demo --plot's series: per guest balloon, fleet host memory
      (unmanaged and managed phases), KSM saving, over time.
  plot_series.py ksm DIR --png FILE.png
      scripts/bench-ksm's DIR/STRATEGY.csv (docs/benchmarks/ksm-data): the
      fleet's KSM saving and ksmd's CPU per strategy, over time.

The demo's series file (written by scripts/demo, one sample a row):

  # any comment line
  t_s<TAB>phase<TAB>series<TAB>mib
  0.0<TAB>boot<TAB>fleet<TAB>12.5
  41.9<TAB>managed<TAB>balloon/vm0<TAB>180.0

  t_s     seconds since the fleet was started (a number >= 0)
  phase   boot, unmanaged or managed (ballastd runs from the first managed row)
  series  fleet (host memory used by the fleet: the drop of MemAvailable
          since before the boot), ksm_saved (ballastd's host.ksm_saved_bytes),
          cost (the sum of ballastd's per-guest host cost), balloon/NAME
          (guest NAME's balloon, actual_bytes)
  mib     the value in MiB

Exit status: 0 drawn; 1 gnuplot missing or failed; 2 bad arguments or a
malformed series (the message names file:line).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Iterable, Sequence

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEY_MAX_LINES = 16  # a panel with more lines is drawn without its key
DEMO_HEADER = ("t_s", "phase", "series", "mib")
DEMO_PHASES = ("boot", "unmanaged", "managed")
# bench-ksm's strategies, in the order of its table, with its names.
KSM_NAMES = {
    "defaults": "kernel defaults",
    "ksmtuned": "ksmtuned / MOM formula",
    "advisor": "kernel scan-time advisor",
    "ballast": "ballast tuner",
    "probe": "ballast tuner, real host size",
}
KSM_COLUMNS = ("t_s", "ksmd_ticks", "fleet_saved")
KSM_CPU_SLICE_S = 10.0  # ksmd's CPU over 10 s slices, as docs/benchmarks/ksm.md's table


class SeriesError(Exception):
    """A malformed series: the message names file:line and what was wrong."""


class PlotError(Exception):
    """gnuplot is missing or did not draw."""


@dataclass
class Line:
    title: str
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Panel:
    title: str
    ylabel: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class Figure:
    xlabel: str
    panels: list[Panel]
    markers: list[tuple[float, str]] = field(default_factory=list)  # (t, label): vertical lines


# --- the demo's series -------------------------------------------------------------------


@dataclass
class Sample:
    t_s: float
    phase: str
    series: str
    mib: float


def _number(text: str, what: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise SeriesError(f"{where}: {what} '{text[:40]}' is not a number") from None
    if not math.isfinite(v):
        raise SeriesError(f"{where}: {what} '{text[:40]}' is not a finite number")
    return v


def parse_demo(lines: Iterable[str], name: str) -> list[Sample]:
    """The demo's rows; SeriesError (file:line) on the first malformed line."""
    samples: list[Sample] = []
    header_seen = False
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        where = f"{name}:{n}"
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            if tuple(fields) != DEMO_HEADER:
                raise SeriesError(f"{where}: expected the header '{chr(9).join(DEMO_HEADER)}' "
                                  f"(tab-separated), got '{line[:60]}'")
            header_seen = True
            continue
        if len(fields) != len(DEMO_HEADER):
            raise SeriesError(f"{where}: expected {len(DEMO_HEADER)} tab-separated fields "
                              f"({', '.join(DEMO_HEADER)}), got {len(fields)}")
        t_s = _number(fields[0], "t_s", where)
        if t_s < 0:
            raise SeriesError(f"{where}: t_s {fields[0]} is negative")
        if fields[1] not in DEMO_PHASES:
            raise SeriesError(f"{where}: unknown phase '{fields[1][:40]}' "
                              f"(expected {', '.join(DEMO_PHASES)})")
        series = fields[2]
        if series not in ("fleet", "ksm_saved", "cost") and not (
                series.startswith("balloon/") and len(series) > len("balloon/")):
            raise SeriesError(f"{where}: unknown series '{series[:40]}' "
                              "(expected fleet, ksm_saved, cost or balloon/NAME)")
        samples.append(Sample(t_s, fields[1], series, _number(fields[3], "mib", where)))
    if not header_seen:
        raise SeriesError(f"{name}: no header line '{chr(9).join(DEMO_HEADER)}': not a demo series")
    if not any(s.series == "fleet" for s in samples):
        raise SeriesError(f"{name}: no 'fleet' sample: nothing to draw")
    return samples


def _points(samples: Iterable[Sample]) -> list[tuple[float, float]]:
    return sorted((s.t_s, s.mib) for s in samples)


def demo_figure(samples: Sequence[Sample]) -> Figure:
    """Two panels: the fleet's host memory (both phases) with KSM's saving; each balloon."""
    fleet = Panel("Fleet host memory (drop of host MemAvailable since before the boot)", "MiB")
    unmanaged = [s for s in samples if s.series == "fleet" and s.phase != "managed"]
    managed = [s for s in samples if s.series == "fleet" and s.phase == "managed"]
    if unmanaged:
        fleet.lines.append(Line("fleet, unmanaged (boot included)", _points(unmanaged)))
    if managed:
        fleet.lines.append(Line("fleet, managed by ballastd", _points(managed)))
    for key, title in (("cost", "host cost, ballastd's per-guest accounting (sum)"),
                       ("ksm_saved", "KSM saving")):
        pts = _points(s for s in samples if s.series == key)
        if pts:
            fleet.lines.append(Line(title, pts))
    balloons = Panel("Balloon per guest (actual guest RAM, from ballastctl status)", "MiB")
    names = sorted({s.series for s in samples if s.series.startswith("balloon/")},
                   key=_natural_key)
    for name in names:
        balloons.lines.append(Line(name[len("balloon/"):],
                                   _points(s for s in samples if s.series == name)))
    markers = []
    boot_end = min((s.t_s for s in samples if s.phase == "unmanaged"), default=None)
    if boot_end is not None:
        markers.append((boot_end, "booted"))
    start = min((s.t_s for s in samples if s.phase == "managed"), default=None)
    if start is not None:
        markers.append((start, "ballastd starts"))
    return Figure("s since the fleet was started", [fleet, balloons], markers)


def _natural_key(name: str) -> tuple:
    """vm2 before vm10."""
    head = name.rstrip("0123456789")
    tail = name[len(head):]
    return (head, int(tail) if tail else -1)


# --- bench-ksm's CSV files ------------------------------------------------------------------


def parse_ksm_csv(lines: Iterable[str], name: str) -> list[tuple[float, int, float]]:
    """(t_s, ksmd_ticks, fleet_saved_bytes) rows of one ballast-ksm-drive --csv file."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise SeriesError(f"{name}: empty file: not a ballast-ksm-drive CSV")
    missing = [c for c in KSM_COLUMNS if c not in header]
    if missing:
        raise SeriesError(f"{name}:1: no column {', '.join(missing)}: not a ballast-ksm-drive CSV")
    idx = [header.index(c) for c in KSM_COLUMNS]
    rows = []
    for n, fields in enumerate(reader, 2):
        where = f"{name}:{n}"
        if not fields:
            continue
        if len(fields) != len(header):
            raise SeriesError(f"{where}: {len(fields)} fields, the header has {len(header)}")
        t_s = _number(fields[idx[0]], "t_s", where)
        ticks = _number(fields[idx[1]], "ksmd_ticks", where)
        rows.append((t_s, int(ticks), _number(fields[idx[2]], "fleet_saved", where)))
    if not rows:
        raise SeriesError(f"{name}: no data rows")
    return rows


def ksm_cpu_slices(rows: Sequence[tuple[float, int, float]], clk_tck: int,
                   slice_s: float = KSM_CPU_SLICE_S) -> list[tuple[float, float]]:
    """(t at the slice's end, ksmd % of one core over the slice), slices of >= slice_s."""
    out = []
    start = rows[0] if rows else None
    for row in rows[1:]:
        if row[0] - start[0] >= slice_s:
            out.append((row[0], (row[1] - start[1]) / clk_tck / (row[0] - start[0]) * 100))
            start = row
    return out


def ksm_figure(runs: Sequence[tuple[str, Sequence[tuple[float, int, float]]]],
               clk_tck: int) -> Figure:
    saved = Panel("The fleet's KSM saving (its QEMU processes' ksm_stat)", "MiB")
    cpu = Panel(f"ksmd CPU, over {KSM_CPU_SLICE_S:.0f} s slices", "% of one core")
    for strategy, rows in runs:
        title = KSM_NAMES.get(strategy, strategy)
        saved.lines.append(Line(title, [(t, b / 1048576) for t, _, b in rows]))
        cpu.lines.append(Line(title, ksm_cpu_slices(rows, clk_tck)))
    return Figure("s since the strategy started (from an unmerged fleet)", [saved, cpu])


def read_ksm_dir(data_dir: str) -> list[tuple[str, list[tuple[float, int, float]]]]:
    """Every STRATEGY.csv of DIR, bench-ksm's strategies first in their order."""
    if not os.path.isdir(data_dir):
        raise SeriesError(f"{data_dir}: not a directory")
    names = sorted((f[:-4] for f in os.listdir(data_dir) if f.endswith(".csv")),
                   key=lambda s: (list(KSM_NAMES).index(s) if s in KSM_NAMES else len(KSM_NAMES), s))
    if not names:
        raise SeriesError(f"{data_dir}: no STRATEGY.csv file")
    runs = []
    for s in names:
        path = os.path.join(data_dir, s + ".csv")
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            runs.append((s, parse_ksm_csv(f, path)))
    return runs


# --- gnuplot -----------------------------------------------------------------------------------


def gp_quote(text: str) -> str:
    """A gnuplot double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plot_data(fig: Figure) -> tuple[str, list[list[int]]]:
    """gnuplot data (one block per line, selected with `index`) and each panel's block indexes."""
    blocks: list[str] = []
    index: list[list[int]] = []
    for panel in fig.panels:
        idx = []
        for line in panel.lines:
            if not line.points:
                continue
            idx.append(len(blocks))
            body = "\n".join(f"{t:.2f} {v:.2f}" for t, v in line.points)
            blocks.append(f"# {panel.title}: {line.title}\n{body}\n")
        index.append(idx)
    return "\n\n".join(blocks), index


def gnuplot_script(png: str, data: str, fig: Figure, index: Sequence[Sequence[int]]) -> str:
    """One panel a row, sharing the time axis; markers as dashed vertical lines in each."""
    height = 420 * max(len(fig.panels), 1)
    lines = [
        # noenhanced: names such as ksm_stat are text, not subscripts
        f"set terminal pngcairo size 1200,{height} font 'sans,10' noenhanced",
        f"set output {gp_quote(png)}",
        "set grid",
        "set key outside right top",
        # the same margins and time range in every panel, so their times line up
        "set lmargin at screen 0.07",
        "set rmargin at screen 0.70",
        f"set xlabel {gp_quote(fig.xlabel)}",
        f"set multiplot layout {max(len(fig.panels), 1)},1",
    ]
    times = [t for panel in fig.panels for ln in panel.lines for t, _ in ln.points]
    if times and max(times) > min(times):
        lines.append(f"set xrange [{min(times):.2f}:{max(times):.2f}]")
    for n, (t, label) in enumerate(fig.markers, 1):
        lines.append(f"set arrow {n} from {t:.2f}, graph 0 to {t:.2f}, graph 1 nohead dt 2 "
                     "lc rgb 'gray40'")
        lines.append(f"set label {n} {gp_quote(label)} at {t:.2f}, graph 0.97 left offset 0.5,0 "
                     "tc rgb 'gray40'")
    for panel, idx in zip(fig.panels, index):
        lines.append(f"set title {gp_quote(panel.title)}")
        lines.append(f"set ylabel {gp_quote(panel.ylabel)}")
        # a key of dozens of guests would run off the picture: the lines alone then
        lines.append("set key off" if len(idx) > KEY_MAX_LINES else "set key on")
        titled = [ln for ln in panel.lines if ln.points]
        if idx:
            plots = ", ".join(f"{gp_quote(data)} index {i} using 1:2 with lines lw 2 title "
                              f"{gp_quote(ln.title)}" for i, ln in zip(idx, titled))
            lines.append(f"plot {plots}")
        else:
            lines.append("set label 99 'no data' at graph 0.5,0.5 center")
            # a line outside the panel's own ranges: gnuplot refuses `plot 1/0`
            lines.append("plot [0:1][0:1] -1 notitle")
            lines.append("unset label 99")
    lines.append("unset multiplot")
    return "\n".join(lines) + "\n"


def is_png(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(len(PNG_MAGIC)) == PNG_MAGIC


def render(fig: Figure, png: str, keep_dir: str | None = None) -> None:
    """Draws FIG into PNG with gnuplot; the data and script go to keep_dir, or a temp dir."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        raise PlotError("gnuplot not installed (scripts/setup installs gnuplot-nox)")
    png = os.path.abspath(png)
    with tempfile.TemporaryDirectory(prefix="ballast-plot-") as tmp:
        work = keep_dir or tmp
        data, index = plot_data(fig)
        dat = os.path.join(work, "plot.dat")
        script = os.path.join(work, "plot.gp")
        with open(dat, "w", encoding="utf-8") as f:
            f.write(data)
        with open(script, "w", encoding="utf-8") as f:
            f.write(gnuplot_script(png + ".tmp", dat, fig, index))
        p = subprocess.run([gnuplot, script], capture_output=True, text=True, check=False)
        out = png + ".tmp"
        if p.returncode != 0 or not os.path.exists(out) or not is_png(out):
            if os.path.exists(out):
                os.unlink(out)
            raise PlotError(f"gnuplot failed (exit {p.returncode}): {p.stderr.strip()[-400:]}")
        os.replace(out, png)  # a failed redraw leaves the old picture alone


# --- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="plot_series.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="scripts/demo --plot's series file")
    d.add_argument("series")
    d.add_argument("--png", required=True)
    k = sub.add_parser("ksm", help="scripts/bench-ksm's data directory (STRATEGY.csv)")
    k.add_argument("dir")
    k.add_argument("--png", required=True)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "demo":
            try:
                with open(args.series, encoding="utf-8", errors="replace") as f:
                    fig = demo_figure(parse_demo(f, args.series))
            except OSError as e:
                raise SeriesError(f"{args.series}: {e.strerror}") from None
        else:
            fig = ksm_figure(read_ksm_dir(args.dir), os.sysconf("SC_CLK_TCK"))
        render(fig, args.png)
    except SeriesError as e:
        print(f"plot_series: {e}", file=sys.stderr)
        return 2
    except PlotError as e:
        print(f"plot_series: {e}", file=sys.stderr)
        return 1
    print(f"plot_series: {args.png} drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
