#!/usr/bin/env bash
# Run the Sealtrail service with embedded defaults: SQLite ledger and keys in ./data (created on
# first start), the built-in development TSA, and a local development chain: Ganache (from
# node_modules, database in ./data/ganache, deterministic dev accounts, a block every second)
# with the anchoring contract deployed once. Listens on 127.0.0.1:8080 (SEALTRAIL_LISTEN or
# --host/--port to change). Ctrl-C stops the service, then the chain.
#
# DEV_CHAIN=0 skips the local chain (anchoring is then off unless SEALTRAIL_CHAIN_RPC_URL is
# set); GANACHE_PORT (default 8545) moves it. Setting SEALTRAIL_CHAIN_RPC_URL uses that chain
# instead (with SEALTRAIL_CHAIN_KEY or SEALTRAIL_CHAIN_KEY_FILE, and `sealtrail contract deploy`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
SEALTRAIL=.venv/bin/sealtrail
DATA=${SEALTRAIL_DATA_DIR:-data}
GANACHE=node_modules/ganache/dist/node/cli.js
chain_pid=

stop_chain() {
  if [ -n "$chain_pid" ] && kill -0 "$chain_pid" 2>/dev/null; then
    kill -TERM "$chain_pid" 2>/dev/null || true
    wait "$chain_pid" 2>/dev/null || true
  fi
}

start_chain() {
  local port=${GANACHE_PORT:-8545} url
  url="http://127.0.0.1:$port"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run: port $port is in use; stop what listens there or set GANACHE_PORT" >&2
    exit 1
  fi
  mkdir -p "$DATA/ganache"
  chmod 700 "$DATA" "$DATA/ganache"
  node "$GANACHE" --server.host 127.0.0.1 --server.port "$port" --chain.chainId 1337 \
    --wallet.deterministic --miner.blockTime 1 --database.dbPath "$DATA/ganache/db" \
    --wallet.accountKeysPath "$DATA/ganache/keys.json" --logging.quiet \
    >"$DATA/ganache/ganache.log" 2>&1 &
  chain_pid=$!
  trap stop_chain EXIT
  for _ in $(seq 1 300); do
    if curl -sf -X POST -H 'Content-Type: application/json' "$url" \
         -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' >/dev/null 2>&1; then
      break
    fi
    if ! kill -0 "$chain_pid" 2>/dev/null; then
      echo "run: Ganache exited; see $DATA/ganache/ganache.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  # The anchorer (and contract owner) is dev account 0; its key goes to a 0600 file, never to
  # the repository or the environment of other processes.
  (umask 077 && .venv/bin/python -c '
import json, sys
keys = json.load(open(sys.argv[1]))["private_keys"]
print(next(iter(keys.values())))' "$DATA/ganache/keys.json" >"$DATA/chain.key")
  export SEALTRAIL_CHAIN_RPC_URL="$url"
  export SEALTRAIL_CHAIN_KEY_FILE="$DATA/chain.key"
  export SEALTRAIL_CHAIN_CONFIRMATIONS="${SEALTRAIL_CHAIN_CONFIRMATIONS:-3}"
  echo "run: development chain (Ganache, chain id 1337) at $url; data in $DATA/ganache"
}

if [ -z "${SEALTRAIL_CHAIN_RPC_URL:-}" ] && [ "${DEV_CHAIN:-1}" != 0 ]; then
  if [ -f "$GANACHE" ] && command -v node >/dev/null 2>&1; then
    start_chain
  else
    echo "run: no Ganache in node_modules (npm ci) or no node: anchoring is off" >&2
  fi
fi

"$SEALTRAIL" init >/dev/null
if [ -n "${SEALTRAIL_CHAIN_RPC_URL:-}" ] && [ -n "$chain_pid" ]; then
  "$SEALTRAIL" contract deploy   # once: a remembered contract that is still there is kept
fi

"$SEALTRAIL" serve "$@" &
service_pid=$!
trap 'kill -TERM "$service_pid" 2>/dev/null || true' INT TERM
status=0
wait "$service_pid" || status=$?
if kill -0 "$service_pid" 2>/dev/null; then  # interrupted: let it shut down gracefully
  wait "$service_pid" || status=$?
fi
exit "$status"
