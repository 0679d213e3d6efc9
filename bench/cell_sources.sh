#!/usr/bin/env bash
# Where a built design's flip-flops and LUTs come from: the synthesised netlist of an
# `hdlgen build` output directory (top.json, flattened, so yosys's merges are counted),
# its iCE40 cells grouped by the first source position in their `src` attribute (the
# always block or expression in the hdlgen_*.v primitives; yosys's own techmap files
# for cells it made, e.g. a memory's read-during-write bypass). Flip-flops keep their
# source; most LUTs come out of ABC and name only yosys's cell library.
#   bench/cell_sources.sh DIR [N]     N rows each (default 25)
set -euo pipefail
dir=$1
n=${2:-25}
python3 - "$dir/top.json" "$n" <<'PY'
import collections, json, sys
path, n = sys.argv[1], int(sys.argv[2])
mods = json.load(open(path))["modules"]
top = next(m for m, v in mods.items() if v.get("attributes", {}).get("top"))
ff, lut = collections.Counter(), collections.Counter()
for cell in mods[top]["cells"].values():
    src = cell.get("attributes", {}).get("src", "?").split("|")[0]
    if ":" in src:
        f, pos = src.rsplit(":", 1)
        src = f + ":" + pos.split(".")[0]
    if cell["type"].startswith("SB_DFF"):
        ff[src] += 1
    elif cell["type"] == "SB_LUT4":
        lut[src] += 1
for name, c in (("flip-flops", ff), ("LUT4", lut)):
    print(f"{name}: {sum(c.values())}")
    for src, k in c.most_common(n):
        print(f"  {k:6}  {src}")
PY
