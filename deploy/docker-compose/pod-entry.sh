#!/bin/sh
# Pod container: send everything through its node (GATEWAY) or, for the rogue on the wire, route
# the pod subnets to the nodes directly (ROUTES); then run the small server as uid 10001.
set -eu
if [ -n "${GATEWAY}" ]; then ip route replace default via "${GATEWAY}"; fi
for r in ${ROUTES}; do ip route replace "${r%%=*}" via "${r##*=}"; done
exec setpriv --reuid=10001 --regid=10001 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
  node /opt/syngate/deploy/docker-compose/pod-server.mjs
