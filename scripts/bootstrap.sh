#!/usr/bin/env bash
# Create .venv and install Sealtrail with the service and its development tools
# ('.[server,dev]'), pinned by the lock (constraints.txt, made by scripts/lock.sh), once per
# change of pyproject.toml or of the lock; install the npm dev tools (solc, Ganache) once per
# change of package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.sealtrail-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e '.[server,dev]'
  echo "$want" > "$stamp"
fi
# The contract's compiler and the test chain (solc, Ganache: package.json), once per change of
# package-lock.json. Without npm the Ganache and compile tests skip, saying why.
if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
     || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    if command -v npm >/dev/null 2>&1; then
      npm ci --no-audit --no-fund --loglevel=error
    elif [ -n "${CI:-}" ]; then
      echo "bootstrap: npm not found; CI needs it for the Ganache and contract tests" >&2
      exit 1
    else
      echo "bootstrap: npm not found; the Ganache and contract-compile tests will be skipped" >&2
    fi
  fi
fi
