#!/bin/sh
# Node container: route to the other nodes' pod subnets over the wire, find the pod-side interface,
# then start the enforcer through the image entrypoint (which drops to uid 10001 with NET_ADMIN/NET_RAW).
set -eu
for peer in ${PEERS}; do
  ip route replace "${peer%%=*}" via "${peer##*=}"
done
POD_IF=$(ip -o -4 addr show | awk -v net="${POD_SUBNET%.*/*}." 'index($4, net) == 1 {print $2; exit}')
if [ -z "${POD_IF}" ]; then echo "node-entry: no interface in ${POD_SUBNET}" >&2; exit 2; fi
export POD_IF
mkdir -p /etc/syngate/credentials
exec /usr/local/bin/syngate-entrypoint run --config /etc/syngate/syngate.yaml
