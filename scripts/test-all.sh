#!/usr/bin/env bash
# The whole test suite in one command: system packages, npm dependencies (native addons built),
# build, typecheck, unit/property tests, then the root-only network-namespace suites.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-fund --no-audit
npm test
