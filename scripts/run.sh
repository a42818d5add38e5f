#!/usr/bin/env bash
# Run Sealtrail with embedded defaults (SQLite in ./data). Until the HTTP service lands this runs
# the CLI tour: record a contract's events, seal a signed checkpoint, prove and audit it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/sealtrail demo "$@"
