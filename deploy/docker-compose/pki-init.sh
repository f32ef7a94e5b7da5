#!/bin/sh
# One-shot: create the lab CA and one credential per node into the `pki` volume (idempotent).
set -eu
SYNGATE="node /opt/syngate/bin/syngate.js"
if [ ! -f /pki/ca/bundle.pem ]; then
  $SYNGATE ca init --trust-domain "${TRUST_DOMAIN}" --out /pki/ca
fi
for n in ${NODES}; do
  if [ ! -d "/pki/nodes/$n" ]; then
    $SYNGATE ca issue --ca /pki/ca --node "$n" --out "/pki/nodes/$n"
  fi
done
chmod -R a+rX /pki
echo "pki-init: CA and credentials for ${NODES} in /pki"
