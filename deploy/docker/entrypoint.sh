#!/bin/sh
# Image entrypoint: drop from root to the `syngate` user (uid 10001) before Node starts, keeping
# only CAP_NET_ADMIN and CAP_NET_RAW, and only those the container was granted. They are ambient
# capabilities, so the iptables/nft/ip helpers the datapath runs inherit them; every other
# capability is gone from the bounding set. Set SYNGATE_RUN_AS_ROOT=1 to skip the drop (debugging).
set -eu
if [ "$(id -u)" != "0" ] || [ "${SYNGATE_RUN_AS_ROOT:-0}" = "1" ]; then
  exec node /opt/syngate/bin/syngate.js "$@"
fi
bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
# Changing user and trimming the bounding set need CAP_SETGID (6), CAP_SETUID (7), CAP_SETPCAP (8);
# they are gone from the bounding set before Node starts. Without them, stay root with what we have.
if [ $(( 0x$bnd >> 6 & 7 )) -ne 7 ]; then
  echo '{"level":"warn","msg":"entrypoint: no CAP_SETUID/SETGID/SETPCAP to drop privileges; running as root with the granted capabilities"}' >&2
  exec node /opt/syngate/bin/syngate.js "$@"
fi
caps=""
# CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13.
if [ $(( 0x$bnd >> 12 & 1 )) -eq 1 ]; then caps="+net_admin"; fi
if [ $(( 0x$bnd >> 13 & 1 )) -eq 1 ]; then caps="${caps:+$caps,}+net_raw"; fi
if [ -z "$caps" ]; then
  exec setpriv --reuid=10001 --regid=10001 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
    node /opt/syngate/bin/syngate.js "$@"
fi
exec setpriv --reuid=10001 --regid=10001 --clear-groups \
  --inh-caps="-all,$caps" --ambient-caps="-all,$caps" --bounding-set="-all,$caps" --no-new-privs \
  node /opt/syngate/bin/syngate.js "$@"
