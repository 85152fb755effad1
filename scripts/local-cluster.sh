#!/usr/bin/env bash
# A local multi-process Tessera cluster: a thin wrapper over `tessera local` that builds first.
# Usage: scripts/local-cluster.sh [--ps N] [--workers M] [--data PATH] [--eval PATH] [--json] ...
# (see `node bin/tessera.js local --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run build --silent
exec node bin/tessera.js local "$@"
