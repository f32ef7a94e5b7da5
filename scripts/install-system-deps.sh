#!/usr/bin/env bash
# Installs the Debian packages syngate needs (native addons, lab, fixtures, map screenshots).
# Idempotent; skips apt entirely when everything is already present.
set -euo pipefail
PKGS=(libpcap-dev libnetfilter-queue-dev tcpdump tshark iproute2 iptables nftables conntrack ethtool openssl iperf3 python3 chromium)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: missing ${missing[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "install-system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
