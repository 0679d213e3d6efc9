#!/usr/bin/env bash
# The main job on a fresh machine: install the tools, build hdlgen, check a shipped example
# network, run its bit-exact reference model on the shipped test set, generate its Verilog
# for the default board (iCEBreaker) and co-simulate that Verilog in Verilator against the
# reference model on the same test set, then build the iCEBreaker bitstream (yosys,
# nextpnr, icepack) with its resource and timing report.
#   scripts/run-example.sh [NET.yaml] [INPUT.npz] [OUT_DIR] [BOARD]
# Default: the trained digits BNN on its 360 held-out scikit-learn digits, Verilog in
# build/digits-bnn/, bitstream and report.json in build/digits-bnn/icebreaker/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
net=${1:-examples/digits/bnn.yaml}
input=${2:-examples/digits/test.npz}
out=${3:-build/$(basename "$(dirname "$net")")-$(basename "$net" .yaml)}
board=${4:-icebreaker}
bash scripts/install.sh
cargo build --release --locked -q
./target/release/hdlgen check "$net"
./target/release/hdlgen run "$net" --input "$input"
./target/release/hdlgen gen "$net" -o "$out" --board "$board"
./target/release/hdlgen sim "$net" --input "$input" --board "$board"
./target/release/hdlgen build "$net" --board "$board" -o "$out/$board"
