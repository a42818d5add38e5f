#!/usr/bin/env bash
# Run the Sealtrail service with embedded defaults: SQLite ledger and keys in ./data (created on
# first start), listening on 127.0.0.1:8080 (SEALTRAIL_LISTEN or --host/--port to change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/sealtrail serve "$@"
