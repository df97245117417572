#!/usr/bin/env bash
# Debian packages the tests, the traffic lab and the benchmarks need. Installs only what is
# missing; needs root (as on CI) or sudo.
#
#   browser tests      chromium
#   references         python3-sklearn, python3-numpy, python3-onnx (export check), tshark
#   notebooks          nbclient, IPython, ipykernel, nbformat, nbconvert
#   traffic lab        iproute2, procps (sysctl), dumpcap (tshark), nginx, dnsmasq, openssh, vsftpd, swaks, curl, dig,
#                      lftp, sshpass, nmap, hping3, hydra, slowhttptest, iodine, openssl
#   flow exports       softflowd (exporter), nfdump (nfcapd decoder, the reference)
#   scale-out          clickhouse-server / clickhouse-client
#   load               wrk
#
# Packages that ship a service (nginx, ssh, vsftpd, clickhouse) must not start it on the host:
# the lab and the tests start their own instances inside network namespaces or on loopback. A
# policy-rc.d that refuses service starts is in place only while apt-get runs.
set -euo pipefail
packages=(
  chromium
  python3-sklearn python3-numpy python3-onnx
  python3-nbclient python3-ipython python3-jupyter-client python3-ipykernel python3-nbformat python3-nbconvert
  tshark iproute2 iptables procps
  nginx-light dnsmasq-base openssh-server openssh-client sshpass vsftpd swaks curl dnsutils lftp openssl
  nmap hping3 hydra slowhttptest iodine
  softflowd nfdump
  clickhouse-server clickhouse-client
  wrk
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && $SUDO rm -f "$policy"' EXIT
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The tslab kernel for Jupyter, registered against Debian's python3.
if [ ! -d "${HOME:-/root}/.local/share/jupyter/kernels/tslab" ] && [ ! -d /usr/local/share/jupyter/kernels/tslab ]; then
  npx tslab install --python=/usr/bin/python3 >&2
fi
