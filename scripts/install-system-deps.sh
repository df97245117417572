#!/usr/bin/env bash
# Debian packages the tests need: Chromium for browser tests, scikit-learn as the reference
# implementation, nbclient + IPython for executing the tslab notebooks, tshark as the pcap
# reference. Installs only what is missing; needs root (as on CI) or sudo.
set -euo pipefail
packages=(chromium python3-sklearn python3-nbclient python3-ipython python3-jupyter-client python3-ipykernel python3-nbformat tshark)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The tslab kernel for Jupyter, registered against Debian's python3.
if [ ! -d "${HOME:-/root}/.local/share/jupyter/kernels/tslab" ] && [ ! -d /usr/local/share/jupyter/kernels/tslab ]; then
  npx tslab install --python=/usr/bin/python3 >&2
fi
