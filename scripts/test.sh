#!/usr/bin/env bash
# Run every check CI runs: lint, types, the layering contracts (import-linter, pyproject.toml),
# the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check sealtrail tests bench
.venv/bin/ruff format --check sealtrail
.venv/bin/mypy
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
