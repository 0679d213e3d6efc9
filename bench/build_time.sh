#!/usr/bin/env bash
# Wall-clock time of a full board build (`hdlgen build`: generate, yosys, nextpnr, pack)
# from the network YAML, repeated, with the per-step split and Fmax from each report.json.
# Issue 4's target: the digits BNN on the iCEBreaker (UP5K) in at most 60 s with a warm
# YoWASP cache. Run it on an otherwise idle machine; this VM's speed drifts by up to 2x
# within an hour, so look at all runs, not one.
#   bench/build_time.sh [RUNS] [BOARD] [NET.yaml]   default: 3 icebreaker examples/digits/bnn.yaml
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
board=${2:-icebreaker}
net=${3:-examples/digits/bnn.yaml}
cd "$root"
cargo build --release --locked -q
work=$root/target/bench-build-time
printf "%-4s %8s %8s %8s %8s %10s %7s\n" "run" "total_s" "gen_s" "synth_s" "pnr_s" "Fmax_MHz" "cells"
for i in $(seq 1 "$runs"); do
  rm -rf "$work"
  ./target/release/hdlgen build "$net" --board "$board" -o "$work" >/dev/null 2>&1 || {
    echo "run $i: build failed (see $work)"; exit 1; }
  python3 - "$i" "$work/report.json" <<'PY'
import json, sys
run, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
s = r["seconds"]
print(f"{run:<4} {s['total']:8.1f} {s['generate']:8.1f} {s['synth']:8.1f} {s['pnr']:8.1f} "
      f"{r['clock']['achieved_mhz']:10.2f} {r['resources']['logic']['used']:7d}")
PY
done
