#!/bin/sh
# One-shot: create the lab CA and one node credential per node into the `pki` volume (idempotent).
# Layout: /pki/ca/ca.pem (+ ca.key), /pki/nodes/<node>/{node.cred,node.key,bundle.pem,cert.pem,key.pem}.
set -eu
SYNGATE="node /opt/syngate/bin/syngate.js"
if [ ! -f /pki/ca/ca.pem ]; then
  $SYNGATE ca init --trust-domain "${TRUST_DOMAIN}" --out /pki/ca
fi
for n in ${NODES}; do
  if [ ! -f "/pki/nodes/$n/node.cred" ]; then
    $SYNGATE ca issue --ca /pki/ca --spiffe-id "spiffe://${TRUST_DOMAIN}/ns/syngate-system/sa/syngate" --node "$n" --out "/pki/nodes/$n"
  fi
done
chmod -R a+rX /pki
echo "pki-init: CA and credentials for ${NODES} in /pki"
