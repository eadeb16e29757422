#!/usr/bin/env python3
"""Statistics, report and plot of scripts/bench-density.

The shell script measures (samples of host memory and ksmd's CPU, the
guests' consoles, ballastd's answers) and this module does every piece of
arithmetic and formatting, as pure functions on text and numbers, so that
unit.scripts.density_stats checks them on fixtures without a guest.

  density_stats.py window FILE --from T0 --to T1 [--clk-tck N] [--slice S] [--mem-tail S]
      FILE: the sampler's TSV (t_s, used_kib, ksmd_ticks, guests; '#' lines
      and a header are skipped; used = MemTotal - MemAvailable). Prints
      key=value lines over the samples with T0 <= t_s <= T1:
        samples, used_median_kib (over the last S seconds with --mem-tail),
        used_min_kib, used_max_kib, guests_max,
        ksmd_cpu_median_pct (ksmd's CPU in % of one core over consecutive
        slices of S seconds, 10 by default), slices, and ksmd_cpu_worst_pct:
        the worst slice of S seconds starting at any sample (a sliding
        window: an overrun that straddles two consecutive slices counts
        whole).
      "-" for a figure without data.
  density_stats.py bursts --peak MIB [--index K] FILE[:LINE]...
      Guest consoles (from line LINE on, 1 = all): the workload's bursts to
      PEAK MiB, from its "t=... ms target PEAK MiB" line to its "holding PEAK
      MiB" line (guest clock). Prints guests, bursts, reached, not_reached
      (ended below the peak), pending (neither), latency_median_ms,
      latency_max_ms, min_started, max_started, min_ended, silent (guests
      without a burst). --index K: only each guest's K-th burst.
  density_stats.py oom FILE[:LINE]...
      OOM kills on guest consoles ("Killed process" lines): the total.
  density_stats.py median
      The median of the numbers on stdin, one a line; "-" with none.
  density_stats.py row --strategy S --run KV [--main KV] [--pack KV] [--rounds TSV]
      One result row as a JSON line, from the key=value files the script
      wrote (numbers become numbers, "-" becomes null).
  density_stats.py merge --into FILE NEW
      Rows of NEW replace the rows of FILE for the same strategy; written
      back in the order a..h.
  density_stats.py select [--only LIST] [--quick] [--virtio-mem]
      The strategies to run, in table order, one a line: KEY, `managed`
      (ballastd drives the fleet) or `observe`, then the strategy's
      `fleet start` arguments. Without --only: a..e (b, e with --quick);
      --virtio-mem adds f, g, h. An unknown name: a message, exit 2.
  density_stats.py report --data DIR --out FILE [--plot NAME]
      Writes the results (DIR/results.jsonl) into FILE: everything before
      its "## Method" heading is replaced, the rest is kept.
  density_stats.py plot --data DIR --png FILE --script FILE
      Writes DIR/plot.dat and a gnuplot script drawing it to FILE.png:
      the fleet's host memory over time, per strategy, in the main phase and
      in the packing test.

Exit status: 0, or 2 for a usage error or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
from dataclasses import dataclass, field
from typing import Iterable, Sequence, TextIO

from plot_series import gp_quote  # the one gnuplot quoting, shared with the demo's plot

# The strategies, in the order they run and are reported: key, long name, label.
STRATEGIES = [
    ("a", "fpr-off", "unmanaged, free page reporting off (libvirt's default)"),
    ("b", "fpr-on", "unmanaged, free page reporting on"),
    ("c", "ksm-defaults", "KSM at kernel defaults (100 pages / 20 ms)"),
    ("d", "ksmtuned", "KSM by the ksmtuned / MOM formula"),
    ("e", "ballast", "ballast (ballastd, default config)"),
    ("f", "ballast-vmem", "ballast, virtio-mem beside the balloon (THP off)"),
    ("g", "ballast-vmem-thp", "ballast, virtio-mem beside the balloon, THP on"),
    ("h", "ballast-thp", "ballast, balloon only, THP on"),
]
KEYS = [k for k, _, _ in STRATEGIES]
# What runs without --only: the full set, or --quick's pair. The virtio-mem
# strategies only run when asked (--only, --virtio-mem): they would add
# three fleets' worth of time to every full run.
DEFAULT_KEYS = ["a", "b", "c", "d", "e"]
QUICK_KEYS = ["b", "e"]
VMEM_KEYS = ["f", "g", "h"]
# How each strategy's fleet differs from the launcher's defaults (microvm,
# balloon with free page reporting and deflate-on-OOM, THP off for QEMU):
# `scripts/fleet start` arguments, the same in the main phase and packing.
FLEET_ARGS = {
    "a": ["--no-free-page-reporting"],
    "f": ["--actuator", "both"],
    "g": ["--actuator", "both", "--thp"],
    "h": ["--thp"],
}
# ballastd with its default config (and memory_budget in packing) drives
# these; for the others an observer ballastd only reads the agents.
MANAGED = frozenset({"e", "f", "g", "h"})
VMEM = frozenset(k for k, a in FLEET_ARGS.items() if "--actuator" in a)
THP = frozenset(k for k, a in FLEET_ARGS.items() if "--thp" in a)
# The virtio-mem table's rows and what each is held against: the balloon on
# the same THP setting ((f) to (e), (g) to (h)), and THP's own cost to the
# balloon ((h) to (e)).
VMEM_TABLE_KEYS = ["e", "f", "g", "h"]
VMEM_REFERENCE = {"f": "e", "g": "h", "h": "e"}
BASELINE = "b"
RESULTS_HEADING = "## Method"


def strategy_key(name: str) -> str | None:
    """'b', 'fpr-on' -> 'b'; None for an unknown name."""
    for key, long, _ in STRATEGIES:
        if name in (key, long):
            return key
    return None


def unknown_strategy_text(name: str) -> str:
    names = ", ".join(long for _, long, _ in STRATEGIES)
    return f"unknown strategy '{name}' ({KEYS[0]}..{KEYS[-1]} or {names})"


def select_strategies(only: str | None = None, quick: bool = False,
                      virtio_mem: bool = False) -> list[str]:
    """The strategies a run measures, in table order, each once: --only's
    comma-separated keys or long names (else the full set, or --quick's
    pair), plus (f), (g), (h) with --virtio-mem. ValueError names an unknown
    strategy."""
    if only is not None:
        chosen = set()
        for name in only.split(","):
            key = strategy_key(name.strip())
            if key is None:
                raise ValueError(unknown_strategy_text(name.strip()))
            chosen.add(key)
    else:
        chosen = set(QUICK_KEYS if quick else DEFAULT_KEYS)
    if virtio_mem:
        chosen |= set(VMEM_KEYS)
    return [k for k in KEYS if k in chosen]


def selection_lines(keys: Sequence[str]) -> list[str]:
    """One line per strategy for the shell script: KEY, `managed` or
    `observe` (which ballastd runs), then its `fleet start` arguments."""
    return [" ".join([k, "managed" if k in MANAGED else "observe", *FLEET_ARGS.get(k, [])])
            for k in keys]


def label(key: str) -> str:
    for k, long, text in STRATEGIES:
        if k == key:
            return f"({k}) {text}"
    return key


# --- samples ------------------------------------------------------------------------------


@dataclass
class Sample:
    t_s: float
    used_kib: int
    ksmd_ticks: int | None = None
    guests: int | None = None


def _int_or_none(word: str) -> int | None:
    return int(word) if word.isascii() and word.isdigit() else None


def parse_samples(lines: Iterable[str]) -> list[Sample]:
    """The sampler's TSV; comment, header and malformed lines are skipped."""
    out = []
    for line in lines:
        w = line.split()
        if len(w) < 2 or line.startswith("#"):
            continue
        try:
            t = float(w[0])
        except ValueError:
            continue
        used = _int_or_none(w[1])
        if used is None or not math.isfinite(t):
            continue
        ticks = _int_or_none(w[2]) if len(w) > 2 else None
        guests = _int_or_none(w[3]) if len(w) > 3 else None
        out.append(Sample(t, used, ticks, guests))
    return out


def window(samples: Sequence[Sample], t0: float, t1: float) -> list[Sample]:
    return [s for s in samples if t0 <= s.t_s <= t1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _slices(samples: Sequence[Sample], clk_tck: int, slice_s: float, sliding: bool):
    """ksmd's CPU in % of one core per slice, from a sample to the first
    sample slice_s or more later: the next slice starts at the next sample
    (sliding) or where this one ended. None for a slice across a counter that
    went back (ksmd gone, another pid)."""
    pts = [(s.t_s, s.ksmd_ticks) for s in samples if s.ksmd_ticks is not None]
    i = 0
    while i < len(pts):
        ta, a = pts[i]
        j = i + 1
        while j < len(pts) and pts[j][0] - ta < slice_s:
            j += 1
        if j >= len(pts):
            return
        tb, b = pts[j]
        yield (b - a) / clk_tck / (tb - ta) * 100.0 if b >= a and tb > ta else None
        i = i + 1 if sliding else j


def cpu_slices(samples: Sequence[Sample], clk_tck: int, slice_s: float = 10.0) -> list[float]:
    """ksmd's CPU in % of one core over consecutive slices of slice_s seconds:
    each slice runs from a sample to the first sample slice_s or more later.
    Samples without ksmd ticks are skipped; a counter that went back (ksmd
    gone, another pid) ends the slice without a value."""
    return [v for v in _slices(samples, clk_tck, slice_s, False) if v is not None]


def cpu_worst_slice(samples: Sequence[Sample], clk_tck: int,
                    slice_s: float = 10.0) -> float | None:
    """ksmd's worst CPU in % of one core over any slice_s seconds: a slice
    from every sample to the first sample slice_s or more later (samples come
    every second, so this is the sliding window the budget caps). A counter
    that went back gives no value for the slices across it."""
    return max((v for v in _slices(samples, clk_tck, slice_s, True) if v is not None),
               default=None)


def window_summary(samples: Sequence[Sample], t0: float, t1: float, clk_tck: int = 100,
                   slice_s: float = 10.0, mem_tail_s: float | None = None) -> dict:
    w = window(samples, t0, t1)
    end = min(t1, w[-1].t_s) if w else t1
    mem = window(w, end - mem_tail_s, end) if mem_tail_s else w
    used = [s.used_kib for s in mem]
    all_used = [s.used_kib for s in w]
    sl = cpu_slices(w, clk_tck, slice_s)
    guests = [s.guests for s in w if s.guests is not None]
    return {
        "samples": len(w),
        "used_median_kib": median(used),
        "used_min_kib": min(all_used, default=None),
        "used_max_kib": max(all_used, default=None),
        "guests_max": max(guests, default=None),
        "ksmd_cpu_median_pct": median(sl),
        "ksmd_cpu_worst_pct": cpu_worst_slice(w, clk_tck, slice_s),
        "slices": len(sl),
    }


# --- the workload's bursts on a guest console ----------------------------------------------

WORKLOAD_RE = re.compile(r"ballast-workload: t=(\d+) ms (target|holding) (\d+) MiB")
OOM_RE = re.compile(r"Killed process \d+")


@dataclass
class Burst:
    start_ms: int
    reached_ms: int | None = None
    end_ms: int | None = None

    @property
    def latency_ms(self) -> int | None:
        return None if self.reached_ms is None else self.reached_ms - self.start_ms

    @property
    def ended(self) -> bool:
        return self.end_ms is not None


def workload_events(lines: Iterable[str]) -> list[tuple[int, str, int]]:
    """(guest ms, "target" or "holding", MiB) for each workload line; the
    pattern may sit after other text (a kernel line can share the console)."""
    out = []
    for line in lines:
        m = WORKLOAD_RE.search(line)
        if m:
            out.append((int(m.group(1)), m.group(2), int(m.group(3))))
    return out


def find_bursts(events: Iterable[tuple[int, str, int]], peak_mib: int) -> list[Burst]:
    """A burst starts at "target PEAK", is reached at the first "holding
    PEAK" after it and ends at the next target of another size."""
    bursts: list[Burst] = []
    cur: Burst | None = None
    for t, kind, mib in events:
        if kind == "target":
            if mib == peak_mib:
                if cur is None:
                    cur = Burst(t)
                    bursts.append(cur)
            elif cur is not None:
                cur.end_ms = t
                cur = None
        elif mib == peak_mib and cur is not None and cur.reached_ms is None:
            cur.reached_ms = t
    return bursts


def burst_summary(per_guest: dict[str, list[Burst]], index: int | None = None) -> dict:
    chosen: list[Burst] = []
    for bursts in per_guest.values():
        if index is None:
            chosen.extend(bursts)
        elif len(bursts) >= index:
            chosen.append(bursts[index - 1])
    lat = [b.latency_ms for b in chosen if b.latency_ms is not None]
    started = [len(b) for b in per_guest.values()]
    ended = [sum(1 for x in b if x.ended) for b in per_guest.values()]
    return {
        "guests": len(per_guest),
        "bursts": len(chosen),
        "reached": sum(1 for b in chosen if b.reached_ms is not None),
        "not_reached": sum(1 for b in chosen if b.reached_ms is None and b.ended),
        "pending": sum(1 for b in chosen if b.reached_ms is None and not b.ended),
        "latency_median_ms": median(lat),
        "latency_max_ms": max(lat, default=None),
        "min_started": min(started, default=0),
        "max_started": max(started, default=0),
        "min_ended": min(ended, default=0),
        "silent": sum(1 for n in started if n == 0),
    }


def oom_kills(lines: Iterable[str]) -> int:
    return sum(1 for line in lines if OOM_RE.search(line))


# --- key=value files and result rows ------------------------------------------------------


def parse_kv(lines: Iterable[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.rstrip("\n")
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v
    return out


def num(text: str | None):
    """'12' -> 12, '1.5' -> 1.5, '-', '', 'null', None -> None, else the text."""
    if text is None:
        return None
    t = text.strip()
    if t in ("", "-", "null", "None"):
        return None
    try:
        return int(t)
    except ValueError:
        pass
    try:
        f = float(t)
        return f if math.isfinite(f) else None
    except ValueError:
        return t


def kv_numbers(kv: dict[str, str]) -> dict:
    return {k: num(v) for k, v in kv.items()}


ROUND_COLUMNS = ["guests", "t_from", "t_to", "cost_median_mib", "cost_max_mib", "ok", "reason"]


def parse_rounds(lines: Iterable[str]) -> list[dict]:
    out = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        w = line.rstrip("\n").split("\t")
        if w[0] == "guests":
            continue
        w += [""] * (len(ROUND_COLUMNS) - len(w))
        r = {c: num(v) for c, v in zip(ROUND_COLUMNS, w)}
        r["reason"] = w[len(ROUND_COLUMNS) - 1]
        out.append(r)
    return out


def build_row(strategy: str, run: dict[str, str], main: dict[str, str] | None = None,
              pack: dict[str, str] | None = None, rounds: list[dict] | None = None) -> dict:
    row = {"strategy": strategy, "run": kv_numbers(run)}
    # text members stay text
    for k in ("date", "commit", "command", "host", "cpu", "kernel", "qemu", "accel"):
        if k in run:
            row["run"][k] = run[k]
    if main is not None:
        row["main"] = kv_numbers(main)
    if pack is not None:
        row["pack"] = kv_numbers(pack)
        if "fail_reason" in pack:
            row["pack"]["fail_reason"] = pack["fail_reason"]
        row["pack"]["rounds"] = rounds or []
    return row


def merge_rows(old: Iterable[dict], new: Iterable[dict]) -> list[dict]:
    by = {r["strategy"]: r for r in old if r.get("strategy") in KEYS}
    for r in new:
        if r.get("strategy") in KEYS:
            by[r["strategy"]] = r
    return [by[k] for k in KEYS if k in by]


def read_rows(lines: Iterable[str]) -> list[dict]:
    rows = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and r.get("strategy") in KEYS:
            rows.append(r)
    return rows


# --- derived figures ----------------------------------------------------------------------


def _get(d: dict | None, *path):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def ratio(a, b) -> float | None:
    if a is None or b is None or b <= 0 or a < 0:
        return None
    return a / b


def idle_mib_per_guest(row: dict) -> float | None:
    """(MemTotal - MemAvailable) idle minus before the fleet, per guest, MiB."""
    m = row.get("main") or {}
    used, before, n = m.get("idle_used_median_kib"), m.get("before_used_kib"), m.get("guests")
    if used is None or before is None or not n:
        return None
    return (used - before) / n / 1024


def pss_mib_per_guest(row: dict) -> float | None:
    m = row.get("main") or {}
    pss, n = m.get("idle_pss_kib"), m.get("guests")
    return None if pss is None or not n else pss / n / 1024


def spike_peak_mib_per_guest(row: dict) -> float | None:
    m = row.get("main") or {}
    peak, before, n = m.get("spike_used_max_kib"), m.get("before_used_kib"), m.get("guests")
    if peak is None or before is None or not n:
        return None
    return (peak - before) / n / 1024


def _per_guest_mib(m: dict, kib_key: str, vms_key: str) -> float | None:
    kib, n = m.get(kib_key), m.get(vms_key)
    if not isinstance(kib, (int, float)) or not isinstance(n, int) or n <= 0:
        return None
    return kib / n / 1024


def thp_mib_per_guest(row: dict) -> float | None:
    """Guest RAM in transparent huge pages at the idle window's end, per VM
    whose host cost ballastd knew (status: cost.thp_bytes), MiB."""
    return _per_guest_mib(row.get("main") or {}, "idle_thp_kib", "idle_cost_vms")


def vmem_mib_per_guest(row: dict) -> tuple[float | None, float | None]:
    """(plugged, requested) MiB per virtio-mem device at the idle window's
    end (explain: actuator.vmem_size_bytes, vmem_requested_bytes)."""
    m = row.get("main") or {}
    return (_per_guest_mib(m, "idle_vmem_plugged_kib", "idle_vmem_vms"),
            _per_guest_mib(m, "idle_vmem_requested_kib", "idle_vmem_vms"))


def baseline_row(rows: Sequence[dict]) -> dict | None:
    return next((r for r in rows if r.get("strategy") == BASELINE), None)


# --- markdown -----------------------------------------------------------------------------


def fmt(v, spec: str = ".0f", unit: str = "") -> str:
    if v is None or isinstance(v, str):
        return "-" if v is None else v
    return f"{v:{spec}}{unit}"


def fmt_ratio(v) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _latest_run(rows: Sequence[dict]) -> dict:
    runs = [r.get("run") or {} for r in rows]
    return max(runs, key=lambda r: str(r.get("date", "")), default={})


def header_markdown(rows: Sequence[dict], plot: str | None) -> list[str]:
    run = _latest_run(rows)
    title = "# Density benchmark: how many idle tiny guests fit, five ways"
    if any(r.get("strategy") in VMEM_KEYS for r in rows):
        title += ", and virtio-mem and THP beside the balloon"
    lines = [title, ""]
    lines.append("<!-- Everything above \"## Method\" is written by scripts/bench-density "
                 "(scripts/density_stats.py report); edit below it. -->")
    lines.append("")
    lines.append(f"Command: `{run.get('command', '?')}`  ")
    lines.append(f"Date: {run.get('date', '?')}, commit {run.get('commit', '?')}  ")
    lines.append(f"Host: {run.get('host', '?')}: {fmt(run.get('cores'))} cores "
                 f"({run.get('cpu', '?')}), {fmt(run.get('mem_total_mib'))} MiB, kernel "
                 f"{run.get('kernel', '?')}, QEMU {run.get('qemu', '?')}, guests under "
                 f"**{str(run.get('accel', '?')).upper()}**  ")
    cache = ""
    if run.get("cache_mib") is not None:  # rows from before --cache have none
        cache = (f"; each guest leaves {fmt(run.get('cache_mib'))} MiB of page cache after "
                 "every burst (--cache)" if run.get("cache_mib") else
                 "; no page cache left behind (--cache 0)")
    if run.get("pack_every_s") is not None:  # rows from before had every guest burst each round
        cache += (f"; packing guests repeat their workload every {fmt(run.get('pack_every_s'))} s "
                  "and idle between")
    lines.append(f"Fleet: {fmt(run.get('guests'))} guests x {fmt(run.get('memory_mib'))} MiB; "
                 f"packing budget {fmt(run.get('budget_mib'))} MiB"
                 f"{' (--quick)' if run.get('quick') else ''}{cache}")
    lines.append("")
    others = [r for r in rows if ((r.get("run") or {}).get("others_at_start") or 0) > 0]
    if others:
        worst = max((r["run"]["others_at_start"] for r in others))
        lines.append(f"> **WARNING: {worst} other QEMU process(es) were running when "
                     f"{', '.join(label(r['strategy']) for r in others)} started.** Their "
                     "memory moves MemAvailable and their CPU slows the guests: these rows are "
                     "not clean. Re-run on a quiet host.")
    else:
        lines.append("Other QEMU processes running when each strategy started: 0.")
    lines.append("")
    commits = {(r.get("run") or {}).get("commit") for r in rows}
    dates = {(r.get("run") or {}).get("date") for r in rows}
    if len(commits) > 1 or len(dates) > 1:
        lines.append("Rows come from more than one run (`--only`, or `--quick` after a full "
                     "run; `density-data/results.jsonl` keeps a row per strategy):")
        lines.append("")
        # Rows whose workloads differ (page cache left or not) say so: their
        # figures are not comparable.
        caches = {(r.get("run") or {}).get("cache_mib") or 0 for r in rows}  # none: 0
        with_cache = len(caches) > 1
        lines.append("| strategy | date | commit | other QEMU processes at start |"
                     + (" page cache left per guest (MiB) |" if with_cache else ""))
        lines.append("|---|---|---|---|" + ("---|" if with_cache else ""))
        for r in rows:
            run_r = r.get("run") or {}
            cell = ""
            if with_cache:
                c = run_r.get("cache_mib")
                cell = f" {fmt(c) if c is not None else '0 (before --cache)'} |"
            lines.append(f"| {label(r['strategy'])} | {run_r.get('date', '?')} | "
                         f"{run_r.get('commit', '?')} | {fmt(run_r.get('others_at_start'))} |"
                         + cell)
        lines.append("")
    if plot:
        lines.append(f"![fleet host memory over time, per strategy]({plot})")
        lines.append("")
    return lines


def idle_table(rows: Sequence[dict]) -> list[str]:
    base = baseline_row(rows)
    b_idle = idle_mib_per_guest(base) if base else None
    b_pss = pss_mib_per_guest(base) if base else None
    out = [
        "### Idle: host memory per guest",
        "",
        "After one burst of the workload, each guest idle (workload at its base); "
        "ratios against (b).",
        "",
        "| strategy | host MiB per idle guest (MemTotal - MemAvailable, vs before the fleet) "
        "| ratio to (b) | PSS per guest (MiB, QEMU processes) | ratio to (b) | KSM saved "
        "(MiB, host) | ksmd CPU, median 10 s slice | ksmd CPU, worst 10 s slice | idle window |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r.get("main")
        if not m:
            continue
        idle, pss = idle_mib_per_guest(r), pss_mib_per_guest(r)
        short = " (cut short: a burst began)" if m.get("idle_cut_short") else ""
        out.append(
            f"| {label(r['strategy'])} | {fmt(idle)} | {fmt_ratio(ratio(idle, b_idle))} | "
            f"{fmt(pss)} | {fmt_ratio(ratio(pss, b_pss))} | {fmt(m.get('ksm_saved_mib'))} | "
            f"{fmt(m.get('idle_ksmd_cpu_median_pct'), '.1f', '%')} | "
            f"{fmt(m.get('idle_ksmd_cpu_worst_pct'), '.1f', '%')} | "
            f"{fmt(m.get('idle_s'))} s{short} |")
    out.append("")
    return out


def ksmd_table(rows: Sequence[dict]) -> list[str]:
    """ksmd's worst 10 s slice beyond the idle window: over the whole main
    phase and over the packing phase. Only rows that measured them (rows from
    before have the idle window's figures only, in the idle table)."""
    have = [r for r in rows
            if _get(r, "main", "all_ksmd_cpu_worst_pct") is not None
            or _get(r, "pack", "all_ksmd_cpu_worst_pct") is not None]
    if not have:
        return []
    out = [
        "### ksmd's CPU over the whole run",
        "",
        "The idle table gives ksmd's CPU in the idle window; its budget caps every 10 s "
        "slice, so here is the worst slice of the whole main phase (boot, first burst, idle, "
        "spike) and of the packing phase: % of one core over the 10 s starting at any 1 s "
        "sample of /proc/<ksmd>/stat. ballastd's budget, for (e) and the other strategies it "
        "drives: 10% of a core (`ksm_cpu_budget_pct`); (c) and (d) have none.",
        "",
        "| strategy | worst 10 s slice, idle window | worst, whole main phase | worst, packing "
        "phase | median, whole main phase |",
        "|---|---|---|---|---|",
    ]
    for r in have:
        m = r.get("main") or {}
        out.append(
            f"| {label(r['strategy'])} | {fmt(m.get('idle_ksmd_cpu_worst_pct'), '.1f', '%')} | "
            f"{fmt(m.get('all_ksmd_cpu_worst_pct'), '.1f', '%')} | "
            f"{fmt(_get(r, 'pack', 'all_ksmd_cpu_worst_pct'), '.1f', '%')} | "
            f"{fmt(m.get('all_ksmd_cpu_median_pct'), '.1f', '%')} |")
    out.append("")
    return out


def growths_text(m: dict) -> str:
    """ballastd's growths in the spike: "COUNT: MEDIAN / WORST ms", "-" unmeasured."""
    if m.get("growths") is None:
        return "-"
    return (f"{fmt(m.get('growths'))}: {fmt(m.get('growth_latency_median_ms'))} / "
            f"{fmt(m.get('growth_latency_max_ms'))} ms")


def spike_table(rows: Sequence[dict]) -> list[str]:
    out = [
        "### Spike: every guest's working set jumps back to the peak",
        "",
        "| strategy | bursts that reached the peak | workload time to peak, median / worst "
        "(guest clock) | balloon growths: count, latency median / worst (ballastd log) | "
        "deflate-on-OOM episodes | guest OOM kills (consoles / agents) | agents answering | "
        "host MiB per guest at the spike's peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r.get("main")
        if not m:
            continue
        out.append(
            f"| {label(r['strategy'])} | {fmt(m.get('spike_reached'))} of "
            f"{fmt(m.get('spike_bursts'))} | {fmt(m.get('spike_latency_median_ms'))} / "
            f"{fmt(m.get('spike_latency_max_ms'))} ms | {growths_text(m)} | "
            f"{fmt(m.get('deflate_events'))} | {fmt(m.get('oom_kills'))} / "
            f"{fmt(m.get('agent_oom_kills'))} | {fmt(m.get('agents_ok'))} of "
            f"{fmt(m.get('guests'))} | {fmt(spike_peak_mib_per_guest(r))} |")
    out.append("")
    return out


def _vmem_guests_text(key: str, run: dict, m: dict) -> str:
    if key not in VMEM:
        return "microvm, balloon"
    boot, total = m.get("vmem_boot_mib"), run.get("memory_mib")
    if isinstance(boot, int) and isinstance(total, int) and total > boot:
        return f"q35, {boot} MiB at boot + {total - boot} MiB virtio-mem, balloon"
    return "q35, virtio-mem + balloon"


def _vmem_thp_text(key: str, m: dict) -> str:
    if key not in THP:
        return "off"
    host = m.get("host_thp")
    return f"on (host: {host})" if isinstance(host, str) and host else "on"


def vmem_table(rows: Sequence[dict]) -> list[str]:
    """(e)..(h) side by side, only when (f), (g) or (h) was measured: old
    results without them render exactly as before. Rows without the newer
    figures (an (e) from an older run) show "-" for them."""
    have = {r.get("strategy"): r for r in rows if r.get("main")}
    if not any(k in have for k in VMEM_KEYS):
        return []
    out = [
        "### virtio-mem beside the balloon, THP on and off",
        "",
        "(f) and (g) boot q35 guests whose memory above boot is a virtio-mem device, with a "
        "balloon beside it (`scripts/fleet start --actuator both`); (e) and (h) are the "
        "microvm balloon guests. (g) and (h) leave transparent huge pages on for QEMU "
        "(`--thp`). Each is held against the balloon on the same THP setting, and (h) "
        "against (e): what THP costs the balloon. KSM saved and ksmd CPU for these rows "
        "are in the idle table above.",
        "",
        "| strategy | guests | THP for QEMU | host MiB per idle guest | ratio to the balloon "
        "| virtio-mem plugged per guest at idle, of requested (MiB) | THP-backed guest RAM "
        "per guest at idle (MiB) | growths in the spike: count, latency median / worst "
        "(ballastd log) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in VMEM_TABLE_KEYS:
        r = have.get(key)
        if r is None:
            continue
        m, run = r["main"], r.get("run") or {}
        idle = idle_mib_per_guest(r)
        ref = VMEM_REFERENCE.get(key)
        vs = "-"
        if ref in have:
            vs = f"{fmt_ratio(ratio(idle, idle_mib_per_guest(have[ref])))} of ({ref})"
        plugged, requested = vmem_mib_per_guest(r)
        dev = "-"
        if key in VMEM and (plugged is not None or requested is not None):
            dev = f"{fmt(plugged)} of {fmt(requested)}"
        out.append(f"| {label(key)} | {_vmem_guests_text(key, run, m)} | "
                   f"{_vmem_thp_text(key, m)} | {fmt(idle)} | {vs} | {dev} | "
                   f"{fmt(thp_mib_per_guest(r))} | {growths_text(m)} |")
    out.append("")
    return out


def pack_table(rows: Sequence[dict]) -> list[str]:
    base = baseline_row(rows)
    b_fit = _get(base, "pack", "fit") if base else None
    have = [r for r in rows if r.get("pack")]
    if not have:
        return ["### Packing", "", "Not measured in this run (`--no-pack`).", ""]
    out = [
        "### Packing: guests that fit in the budget",
        "",
        "| strategy | budget | guests that fit | ratio to (b) | first refused size: why | "
        "rounds | host MiB per guest at the largest fit (median of the round) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in have:
        p = r["pack"]
        fit = p.get("fit")
        rounds = p.get("rounds") or []
        best = [x for x in rounds if x.get("ok") == 1 and x.get("guests") == fit]
        per = None
        if best and fit and best[-1].get("cost_median_mib") is not None:
            per = best[-1]["cost_median_mib"] / fit
        why = "-"
        if p.get("first_fail") is not None:
            why = f"{fmt(p.get('first_fail'))}: {p.get('fail_reason') or '?'}"
        elif p.get("fail_reason"):
            why = str(p.get("fail_reason"))
        fit_text = f"at least {fmt(fit)}" if p.get("limit") == 1 else fmt(fit)
        out.append(f"| {label(r['strategy'])} | {fmt(p.get('budget_mib'))} MiB | {fit_text} | "
                   f"{fmt_ratio(ratio(fit, b_fit))} | {why} | {len(rounds)} | {fmt(per)} |")
    out.append("")
    window = next(((r.get("run") or {}).get("pack_window_s") for r in have
                   if (r.get("run") or {}).get("pack_window_s") is not None), None)
    if window is None:  # rows from before: every guest burst each round
        out.append("Rounds (each: the fleet at that size observed for one spike period; cost = "
                   "MemTotal - MemAvailable over the round minus before the first guest):")
    else:
        out.append(f"Rounds (each: the newest pair's first burst, then {fmt(window)} s of the "
                   "fleet at that size; cost = MemTotal - MemAvailable over those seconds minus "
                   "before the first guest):")
    out.append("")
    out.append("| strategy | guests | cost median (MiB) | cost max (MiB) | verdict |")
    out.append("|---|---|---|---|---|")
    for r in have:
        for x in r["pack"].get("rounds") or []:
            verdict = "fits" if x.get("ok") == 1 else f"refused: {x.get('reason') or '?'}"
            out.append(f"| ({r['strategy']}) | {fmt(x.get('guests'))} | "
                       f"{fmt(x.get('cost_median_mib'))} | {fmt(x.get('cost_max_mib'))} | "
                       f"{verdict} |")
    out.append("")
    return out


def results_markdown(rows: Sequence[dict], plot: str | None = None) -> str:
    lines = header_markdown(rows, plot)
    lines.append("## Results")
    lines.append("")
    if not rows:
        lines.append("**Not yet run.**")
        lines.append("")
    else:
        lines += idle_table(rows)
        lines += ksmd_table(rows)
        lines += spike_table(rows)
        lines += vmem_table(rows)
        lines += pack_table(rows)
    return "\n".join(lines) + "\n"


def splice_doc(old: str | None, results: str) -> str:
    """The new results, then the old document from its "## Method" heading on."""
    if not old:
        return results
    m = re.search(r"^" + re.escape(RESULTS_HEADING) + r"\b", old, flags=re.M)
    if not m:
        return results
    return results.rstrip("\n") + "\n\n" + old[m.start():]


# --- gnuplot ------------------------------------------------------------------------------


def plot_series(samples: Sequence[Sample], before_kib: float) -> list[tuple[float, float]]:
    """(t_s, MiB the fleet uses over before_kib) for each sample."""
    return [(s.t_s, (s.used_kib - before_kib) / 1024) for s in samples]


def plot_data(blocks: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> str:
    """gnuplot data: one block per series (selected with `index`), two blank lines apart."""
    parts = []
    for name, series in blocks:
        body = "\n".join(f"{t:.1f} {v:.1f}" for t, v in series)
        parts.append(f"# {name}\n{body}\n")
    return "\n\n".join(parts)


def gnuplot_script(png: str, data: str, main: Sequence[tuple[int, str]],
                   pack: Sequence[tuple[int, str]], budget_mib: float | None) -> str:
    """main/pack: (block index in data, title). Two panels: the main phase and the packing."""
    lines = [
        "set terminal pngcairo size 1200,900 font 'sans,10'",
        f"set output {gp_quote(png)}",
        "set grid",
        "set key outside right top",
        "set multiplot layout 2,1",
        "set title 'Main phase: host memory used by the fleet (MemTotal - MemAvailable, "
        "minus before the boot)'",
        "set xlabel 's since the boot'",
        "set ylabel 'MiB'",
    ]
    if main:
        plots = ", ".join(f"{gp_quote(data)} index {i} using 1:2 with lines lw 2 title "
                          f"{gp_quote(t)}" for i, t in main)
        lines.append(f"plot {plots}")
    else:
        # An empty panel: a line outside its own ranges (gnuplot refuses
        # `plot 1/0`, "all points y value undefined", and the PNG is lost).
        lines.append("set label 1 'no data' at graph 0.5,0.5 center")
        lines.append("plot [0:1][0:1] -1 notitle")
        lines.append("unset label 1")
    lines.append("set title 'Packing: host memory used while guests are added "
                 "(minus before the first)'")
    lines.append("set xlabel 's since the first guest'")
    if pack:
        plots = [f"{gp_quote(data)} index {i} using 1:2 with lines lw 2 title {gp_quote(t)}"
                 for i, t in pack]
        if budget_mib:
            plots.append(f"{budget_mib:.0f} with lines dt 2 lc rgb 'black' title 'budget'")
        lines.append("plot " + ", ".join(plots))
    else:
        lines.append("set label 1 'not measured' at graph 0.5,0.5 center")
        lines.append("plot [0:1][0:1] -1 notitle")
    lines.append("unset multiplot")
    return "\n".join(lines) + "\n"


def build_plot(data_dir: str, png: str, script_path: str) -> int:
    """Writes DATA_DIR/plot.dat and the script; returns the number of series."""
    rows = _read_results(data_dir)
    blocks: list[tuple[str, list[tuple[float, float]]]] = []
    main_idx: list[tuple[int, str]] = []
    pack_idx: list[tuple[int, str]] = []
    budget = None
    for r in rows:
        key = r["strategy"]
        for phase, before, idx in (
            ("main", _get(r, "main", "before_used_kib"), main_idx),
            ("pack", _get(r, "pack", "before_used_kib"), pack_idx),
        ):
            path = os.path.join(data_dir, f"samples-{key}-{phase}.tsv")
            if before is None or not os.path.exists(path):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                series = plot_series(parse_samples(f), before)
            if not series:
                continue
            idx.append((len(blocks), label(key)))
            blocks.append((f"{key} {phase}", series))
        budget = budget or _get(r, "pack", "budget_mib")
    dat = os.path.join(data_dir, "plot.dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write(plot_data(blocks))
    with open(script_path, "w", encoding="utf-8") as f:
        f.write(gnuplot_script(png, dat, main_idx, pack_idx, budget))
    return len(blocks)


# --- command line -------------------------------------------------------------------------


def _read_results(data_dir: str) -> list[dict]:
    path = os.path.join(data_dir, "results.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return merge_rows([], read_rows(f))


def _file_from(spec: str) -> tuple[str, int]:
    """FILE[:LINE] -> (FILE, LINE); a suffix that is not a number is part of the name."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail.isdigit() and head:
        return head, max(int(tail), 1)
    return spec, 1


def _read_from(spec: str) -> list[str]:
    path, start = _file_from(spec)
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        lines = f.read().split("\n")
    return lines[start - 1:]


def _print_kv(d: dict, out: TextIO) -> None:
    for k, v in d.items():
        if v is None:
            v = "-"
        elif isinstance(v, float):
            v = f"{v:.1f}" if not v.is_integer() else str(int(v))
        print(f"{k}={v}", file=out)


def _guest_name(spec: str) -> str:
    path, _ = _file_from(spec)
    return os.path.basename(os.path.dirname(os.path.abspath(path))) or path


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    p = argparse.ArgumentParser(prog="density_stats.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("window")
    s.add_argument("file")
    s.add_argument("--from", dest="t0", type=float, default=float("-inf"))
    s.add_argument("--to", dest="t1", type=float, default=float("inf"))
    s.add_argument("--clk-tck", type=int, default=100)
    s.add_argument("--slice", type=float, default=10.0)
    s.add_argument("--mem-tail", type=float, default=None)
    s = sub.add_parser("bursts")
    s.add_argument("--peak", type=int, required=True)
    s.add_argument("--index", type=int, default=None)
    s.add_argument("files", nargs="*")
    s = sub.add_parser("oom")
    s.add_argument("files", nargs="*")
    sub.add_parser("median")
    s = sub.add_parser("select")
    s.add_argument("--only", default=None)
    s.add_argument("--quick", action="store_true")
    s.add_argument("--virtio-mem", action="store_true")
    s = sub.add_parser("row")
    s.add_argument("--strategy", required=True)
    s.add_argument("--run", required=True)
    s.add_argument("--main")
    s.add_argument("--pack")
    s.add_argument("--rounds")
    s = sub.add_parser("merge")
    s.add_argument("--into", required=True)
    s.add_argument("new")
    s = sub.add_parser("report")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--plot", default=None)
    s = sub.add_parser("plot")
    s.add_argument("--data", required=True)
    s.add_argument("--png", required=True)
    s.add_argument("--script", required=True)
    args = p.parse_args(argv)

    try:
        return _run(args, p, out)
    except OSError as e:
        print(f"density_stats: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"density_stats: {args.cmd}: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, p: argparse.ArgumentParser, out: TextIO) -> int:
    if args.cmd == "window":
        if args.clk_tck <= 0 or args.slice <= 0:
            p.error("--clk-tck and --slice must be positive")
        with open(args.file, encoding="utf-8", errors="replace") as f:
            samples = parse_samples(f)
        _print_kv(window_summary(samples, args.t0, args.t1, args.clk_tck, args.slice,
                                 args.mem_tail), out)
    elif args.cmd == "bursts":
        if args.index is not None and args.index < 1:
            p.error("--index counts from 1")
        per_guest = {}
        for spec in args.files:
            per_guest[_guest_name(spec) + f"#{len(per_guest)}"] = find_bursts(
                workload_events(_read_from(spec)), args.peak)
        _print_kv(burst_summary(per_guest, args.index), out)
    elif args.cmd == "oom":
        print(sum(oom_kills(_read_from(spec)) for spec in args.files), file=out)
    elif args.cmd == "median":
        values = []
        for line in sys.stdin:
            w = line.strip()
            if w:
                values.append(float(w))
        m = median(values)
        print("-" if m is None else (str(int(m)) if float(m).is_integer() else f"{m:.1f}"),
              file=out)
    elif args.cmd == "select":
        try:
            keys = select_strategies(args.only, args.quick, args.virtio_mem)
        except ValueError as e:
            print(f"--only: {e}", file=sys.stderr)
            return 2
        for line in selection_lines(keys):
            print(line, file=out)
    elif args.cmd == "row":
        def kv(path):
            if not path:
                return None
            with open(path, encoding="utf-8") as f:
                return parse_kv(f)
        rounds = None
        if args.rounds and os.path.exists(args.rounds):
            with open(args.rounds, encoding="utf-8") as f:
                rounds = parse_rounds(f)
        key = strategy_key(args.strategy)
        if key is None:
            p.error(f"unknown strategy {args.strategy}")
        print(json.dumps(build_row(key, kv(args.run) or {}, kv(args.main), kv(args.pack),
                                   rounds), sort_keys=True), file=out)
    elif args.cmd == "merge":
        old = []
        if os.path.exists(args.into):
            with open(args.into, encoding="utf-8") as f:
                old = read_rows(f)
        with open(args.new, encoding="utf-8") as f:
            new = read_rows(f)
        rows = merge_rows(old, new)
        tmp = args.into + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, sort_keys=True) + "\n")
        os.replace(tmp, args.into)
    elif args.cmd == "report":
        rows = _read_results(args.data)
        old = None
        if os.path.exists(args.out):
            with open(args.out, encoding="utf-8") as f:
                old = f.read()
        text = splice_doc(old, results_markdown(rows, args.plot))
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.out)
    elif args.cmd == "plot":
        n = build_plot(args.data, args.png, args.script)
        print(n, file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
