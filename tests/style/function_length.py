#!/usr/bin/env python3
"""No function in host/ or tools/ longer than 100 lines (except those on the allow-list).

    function_length.py SOURCE_DIR [--limit N] [--allow FILE]

Scans SOURCE_DIR/host/**/*.c and SOURCE_DIR/tools/*.c (the development
tools are read and changed like host code; fake-fleet serves tests and
benchmarks). The code is clang-formatted (.clang-format, BreakBeforeBraces:
Linux), so a function body opens with a line that is exactly "{" at column 0
and ends at the next line starting with "}" at column 0; its length counts
both brace lines. Data tables (initialisers, struct
definitions) open their brace at the end of a line, never on a line of their
own, so they are exempt by construction.

The allow-list (tests/style/long-functions.allow) names functions still being
split, one "path:function" per line, "#" starts a comment. It can only shrink:
an entry that is no longer over the limit (or no longer exists) fails the
test too, so it is removed when the function is fixed.

Exit 0 when every long function is allowed and every allowed one is long;
1 otherwise, listing each offender as path:line: function (N lines), the
line being where its signature starts.
"""
import argparse
import pathlib
import re
import sys

ATTRIBUTE = re.compile(r"__attribute__\s*\(\(.*?\)\)")
IDENT_AT_END = re.compile(r"([A-Za-z_]\w*)\s*$")


def function_name(signature):
    """The identifier before the parameter list: the last parenthesised
    group at depth 0 (so a leading G_GNUC_PRINTF(2, 3) is skipped)."""
    text = ATTRIBUTE.sub(" ", " ".join(signature))
    depth, name = 0, "?"
    for m in re.finditer(r"[()]", text):
        if m.group() == "(":
            if depth == 0:
                ident = IDENT_AT_END.search(text[: m.start()])
                name = ident.group(1) if ident else "?"
            depth += 1
        else:
            depth = max(depth - 1, 0)
    return name


def functions(path):
    """Yields (name, line where its signature starts, length in lines)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].rstrip() != "{":
            i += 1
            continue
        # The signature: back to the line that starts at column 0.
        start = i - 1
        while start > 0 and lines[start][:1] in (" ", "\t"):
            start -= 1
        name = function_name(lines[start:i])
        end = i + 1
        while end < len(lines) and not lines[end].startswith("}"):
            end += 1
        yield name, start + 1, end - i + 1
        i = end + 1


def read_allow(path):
    allowed = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        entry = raw.split("#", 1)[0].strip()
        if entry:
            allowed[entry] = n
    return allowed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source_dir", type=pathlib.Path)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--allow", type=pathlib.Path)
    args = ap.parse_args()

    allowed = read_allow(args.allow) if args.allow else {}
    root = args.source_dir.resolve()
    long_ones, seen_long = [], set()
    paths = sorted((root / "host").rglob("*.c")) + sorted((root / "tools").glob("*.c"))
    for path in paths:
        rel = path.relative_to(root).as_posix()
        for name, line, length in functions(path):
            if length <= args.limit:
                continue
            key = f"{rel}:{name}"
            seen_long.add(key)
            if key not in allowed:
                long_ones.append(f"{rel}:{line}: {name} ({length} lines)")

    stale = [f"{args.allow}:{n}: {key} is not over {args.limit} lines (any more): "
             "remove it from the allow-list"
             for key, n in sorted(allowed.items(), key=lambda kv: kv[1])
             if key not in seen_long]
    for msg in long_ones:
        print(f"{msg} > {args.limit}: split it", file=sys.stderr)
    for msg in stale:
        print(msg, file=sys.stderr)
    if long_ones or stale:
        return 1
    print(f"function length: every function in host/ and tools/ <= {args.limit} lines "
          f"except {len(allowed)} allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
