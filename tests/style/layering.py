#!/usr/bin/env python3
"""The rooms of host/ depend on each other one way only.

    layering.py SOURCE_DIR

Each folder under host/ is a room; common/ and proto/ are rooms too. A
source file may include headers of its own room and of the rooms ALLOWED
names for it, nothing else: in particular nothing outside host/daemon/
includes a header of host/daemon/, and the libvirt module reaches the VM
source interface (host/vmsource/) without the daemon. tools/ and tests/ sit
on top and may include anything. A header name is resolved to the room that
holds it; a room missing from ALLOWED fails the test, so a new room says
where it stands here.

Exit 0 when every include is allowed; 1 otherwise, listing each offender as
path:line: includes "x.h" of ROOM.
"""
import pathlib
import re
import sys

# Each room and the rooms it may use, bottom up.
ALLOWED = {
    "common": set(),
    "json": set(),
    "proto": {"common"},
    "loop": {"common"},
    "qmp": {"common", "json"},
    "ksm": {"common"},
    "vmcost": {"common", "proto", "ksm"},
    "policy": {"common", "proto"},
    "fleetdir": {"common"},
    "qemuwrap": set(),
    "ctl": {"common", "json", "loop", "policy"},
    "vmsource": {"common", "loop", "qmp", "fleetdir", "policy"},
    "libvirt": {"common", "proto", "loop", "policy", "vmsource"},
    "fleet": {"common", "proto", "json", "policy", "fleetdir"},
    "daemon": {"common", "json", "proto", "loop", "qmp", "ksm", "vmcost", "policy", "fleetdir",
               "ctl", "vmsource", "libvirt"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def room_of(path, src):
    rel = path.relative_to(src)
    return rel.parts[1] if rel.parts[0] == "host" else rel.parts[0]


def main():
    src = pathlib.Path(sys.argv[1]).resolve()
    files = [p for d in ("host", "common", "proto") for p in (src / d).rglob("*.[ch]")]
    owner = {}
    for p in files:
        if p.suffix == ".h":
            owner.setdefault(p.name, room_of(p, src))
    bad = []
    for p in sorted(files):
        room = room_of(p, src)
        if room not in ALLOWED:
            bad.append(f"{p.relative_to(src)}: room '{room}' is not in layering.py's ALLOWED")
            continue
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            target = owner.get(m.group(1)) if m else None
            if target and target != room and target not in ALLOWED[room]:
                bad.append(f'{p.relative_to(src)}:{n}: includes "{m.group(1)}" of {target}')
    for b in bad:
        print(b)
    print(f"layering: {len(files)} files, {len(bad)} offences")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
