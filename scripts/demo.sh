#!/usr/bin/env bash
# The main job in one command: install everything, then run the simulator's bookinfo scenario
# (real engines, real tokens, real packet bytes over an in-memory wire; no root or network needed
# for the simulation itself).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then bash scripts/install-system-deps.sh; else echo "demo: not root, skipping system packages (the simulator does not need them)"; fi
# `npm ci` is not used: on this machine type npm 11 omits platform-specific optional packages
# (e.g. @rollup/rollup-*) from the lockfile, and `npm ci` then refuses the lockfile as out of sync.
npm install --no-fund --no-audit
node bin/syngate.js simulate examples/bookinfo/scenario.yaml --out out/ "$@"
