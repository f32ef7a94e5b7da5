#!/usr/bin/env bash
# The bookinfo lab end to end on one datapath: up, test (the simulate table), down (always, even when
# something fails midway). Needs root and a build (npm run build). Usage: scripts/lab-demo.sh [nfqueue|pcap] [SCENARIO]
set -euo pipefail
cd "$(dirname "$0")/.."
DP=${1:-nfqueue}
SCENARIO=${2:-examples/bookinfo/scenario.yaml}
DIR=$(mktemp -d /tmp/syngate-lab.XXXXXX)
trap 'node bin/syngate.js lab down --dir "$DIR"; rmdir "$DIR" 2>/dev/null || true' EXIT
node bin/syngate.js lab up "$SCENARIO" --datapath "$DP" --dir "$DIR"
node bin/syngate.js lab test --dir "$DIR"
