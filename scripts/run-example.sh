#!/usr/bin/env bash
# The main job on a fresh machine: install the tools, build hdlgen, check a shipped example
# network, run its bit-exact reference model on the shipped test set, generate its Verilog
# for the default board (iCEBreaker) and co-simulate that Verilog in Verilator against the
# reference model on the same test set.
#   scripts/run-example.sh [NET.yaml] [INPUT.npz] [OUT_DIR]
# Default: the trained digits BNN on its 360 held-out scikit-learn digits, Verilog in
# build/digits-bnn/. (The iCEBreaker bitstream joins this job with the board flow.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
net=${1:-examples/digits/bnn.yaml}
input=${2:-examples/digits/test.npz}
out=${3:-build/$(basename "$(dirname "$net")")-$(basename "$net" .yaml)}
bash scripts/install.sh
cargo build --release --locked -q
./target/release/hdlgen check "$net"
./target/release/hdlgen run "$net" --input "$input"
./target/release/hdlgen gen "$net" -o "$out" --board icebreaker
./target/release/hdlgen sim "$net" --input "$input" --board icebreaker
