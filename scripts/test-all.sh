#!/usr/bin/env bash
# The whole test suite in one command: system packages, npm dependencies (native addons built),
# build, typecheck, unit/property tests, then the root-only network-namespace suites.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
# `npm ci` is not used: on this machine type npm 11 omits platform-specific optional packages
# (e.g. @rollup/rollup-*) from the lockfile, and `npm ci` then refuses the lockfile as out of sync.
npm install --no-fund --no-audit
npm test
