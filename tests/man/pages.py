#!/usr/bin/env python3
"""unit.man.pages: the man pages built from docs/man/*.scd.

    pages.py BUILD_DIR SOURCE_DIR

For each page in BUILD_DIR/man/: man -l renders it (groff when man is
missing) with every warning on and says nothing on stderr; the page names
every option its program's --help prints (and every command, for ballastctl
and ballast-fleet); ballastd.conf(5) names every key of docs/config.md's
tables with the same default. Exit 77 (skipped, said loudly) when the pages
were not built (no scdoc at configure time).
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

# Each page, and the program whose --help it must cover (None: no program).
PAGES = {
    "ballastd.8": "ballastd",
    "ballastctl.8": "ballastctl",
    "ballast-fleet.1": "ballast-fleet",
    "ballast-agent.8": "ballast-agent-host",  # the guest's agent, built for the host
    "ballastd.conf.5": None,
}
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])\b")


def render(page):
    """The page as plain text; the warnings fail the test."""
    env = dict(os.environ, LC_ALL="C", MANWIDTH="80")
    if shutil.which("man"):
        cmd = ["man", "--warnings=w", "-E", "ascii", "-l", str(page)]
    else:
        cmd = ["groff", "-man", "-Tascii", "-ww", str(page)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    problems = []
    if r.returncode != 0 or r.stderr.strip():
        problems.append(f"{page.name}: {' '.join(cmd[:-1])} said: {r.stderr.strip()} (exit {r.returncode})")
    if "NAME" not in r.stdout or "SYNOPSIS" not in r.stdout and "DESCRIPTION" not in r.stdout:
        problems.append(f"{page.name}: rendered without NAME/SYNOPSIS: {r.stdout[:200]!r}")
    return r.stdout, problems


def roff_words(page):
    """The page's roff with font changes and escapes taken out: option names
    whole, wherever the renderer would hyphenate or break them."""
    text = page.read_text()
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\&", "").replace("\\-", "-").replace("\\(aq", "'")


def help_of(program, bindir):
    r = subprocess.run([str(bindir / program), "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        return None, f"{program} --help exited {r.returncode}: {r.stderr.strip()}"
    return r.stdout, None


def commands_in_help(program, text):
    if program == "ballastctl":
        block = text.split("Commands:", 1)[1].split("\n\n", 1)[0]
        return [line.split()[0] for line in block.splitlines() if line.strip()]
    if program == "ballast-fleet":
        return re.findall(r"ballast-fleet ([a-z]+) ", text)
    return []


def check_program(page, program, bindir):
    text, err = help_of(program, bindir)
    if err:
        return [f"{page.name}: {err}"], 0
    words = roff_words(page)
    wanted = sorted(set(OPTION.findall(text)) | set(commands_in_help(program, text)))
    missing = [w for w in wanted if not re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])", words)]
    return [f"{page.name}: names no '{w}' ({program} --help prints it)" for w in missing], len(wanted)


def config_keys(source):
    """key -> default, from the rows of docs/config.md's key tables."""
    keys = {}
    for line in (source / "docs/config.md").read_text().splitlines():
        m = re.match(r"^\| `([a-z_]+)` \|", line)
        if m:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            keys[m.group(1)] = cells[3]
    return keys


def check_conf(page, source):
    words = roff_words(page)
    problems = []
    keys = config_keys(source)
    for key, default in keys.items():
        m = re.search(r"^" + re.escape(key) + r" \([^;]*; default ([^;)]*)[;)]", words, re.M)
        if not m:
            problems.append(f"{page.name}: no entry '{key} (type; default ...)' (docs/config.md has it)")
        elif m.group(1).strip() != default.replace("`", ""):
            problems.append(f"{page.name}: {key} default '{m.group(1)}', docs/config.md says '{default}'")
    return problems, len(keys)


def main():
    build, source = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    mandir, bindir = build / "man", build / "bin"
    built = [p for p in sorted(mandir.glob("*.[158]")) if p.is_file()] if mandir.is_dir() else []
    if not built:
        print("SKIPPED: no man pages in build/man (scdoc not found at configure time: "
              "Debian package scdoc): man pages NOT checked", file=sys.stderr)
        return 77
    problems = []
    for name in PAGES:
        if name != "ballast-agent.8" and not (mandir / name).is_file():
            problems.append(f"{name}: not built")
    for page in built:
        if page.name not in PAGES:
            problems.append(f"{page.name}: built but not checked here (add it to PAGES)")
            continue
        _, p = render(page)
        problems += p
        program = PAGES[page.name]
        if program:
            p, n = check_program(page, program, bindir)
        else:
            p, n = check_conf(page, source)
        problems += p
        print(f"{page.name}: rendered clean; {n} options/commands/keys checked")
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
