#!/usr/bin/env python3
"""Prints the logic cone in front of a flip-flop of a yosys JSON netlist (synth_ecp5's
LUT4 / PFUMX / L6MUX21 / CCU2C cells), to see what synthesis made of a path that
nextpnr reports as critical (abc9 may restructure logic the RTL spelled out).

    scripts/netlist-cone.py BUILD_DIR/top.json NET [DEPTH]

NET is a net name on the flip-flop's Q (e.g. net.e1_maxpool2_swg.issue); each line is a
cell type and output port with the shortest name of the net it drives, indented by depth,
and its inputs below it; the cone stops at flip-flops, block RAMs, carry cells and
module inputs.
"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    netlist, want = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    mods = json.load(open(netlist))["modules"]
    top = next((m for m in mods.values() if m.get("attributes", {}).get("top")), None)
    if top is None:
        sys.exit("no top module in " + netlist)
    names = {}
    for n, v in top["netnames"].items():
        for b in v["bits"]:
            if isinstance(b, int):
                names.setdefault(b, []).append(n)
    name = lambda b: min(names.get(b, ["?"]), key=len)
    driver = {}
    for c in top["cells"].values():
        for p, d in c["port_directions"].items():
            if d == "output":
                for b in c["connections"][p]:
                    if isinstance(b, int):
                        driver[b] = (c, p)

    def show(bit, depth, seen):
        pad = "  " * depth
        if bit not in driver:
            print(f"{pad}input {name(bit)}")
            return
        c, p = driver[bit]
        t = c["type"]
        print(f"{pad}{t}.{p} {name(bit)}")
        if t in ("TRELLIS_FF", "DP16KD", "CCU2C") or depth >= limit or id(c) in seen:
            return
        seen.add(id(c))
        for q, d in c["port_directions"].items():
            if d == "input":
                for b in c["connections"][q]:
                    if isinstance(b, int):
                        print(f"{pad} {q}:")
                        show(b, depth + 1, seen)

    found = False
    for c in top["cells"].values():
        if c["type"] == "TRELLIS_FF" and want in names.get(c["connections"]["Q"][0], []):
            found = True
            show(c["connections"]["DI"][0], 0, set())
    if not found:
        sys.exit(f"no flip-flop drives {want} in {netlist}")


if __name__ == "__main__":
    main()
