#!/usr/bin/env bash
# Runs every test of the workspace on a fresh machine: installs the tools first
# (idempotent, see scripts/install.sh), then the Rust tests.
# PROPTEST_CASES=N raises the property-test case counts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install.sh
cargo test --workspace --all-targets --locked "$@"
