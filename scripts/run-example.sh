#!/usr/bin/env bash
# The main job on a fresh machine: install the tools, build hdlgen, check a shipped example
# network and run its bit-exact reference model on the shipped test set.
#   scripts/run-example.sh [NET.yaml] [INPUT.npz]
# Default: the trained digits BNN on its 360 held-out scikit-learn digits.
# (Verilog, co-simulation and the iCEBreaker bitstream join this job as those land.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
net=${1:-examples/digits/bnn.yaml}
input=${2:-examples/digits/test.npz}
bash scripts/install.sh
cargo build --release --locked -q
./target/release/hdlgen check "$net"
./target/release/hdlgen run "$net" --input "$input"
