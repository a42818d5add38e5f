#!/usr/bin/env bash
# Create .venv and install Sealtrail with the service and its development tools
# ('.[server,dev]'), pinned by the lock (constraints.txt, made by scripts/lock.sh), once per
# change of pyproject.toml or of the lock; install the npm dev tools (solc, Ganache) once per
# change of package-lock.json; install a CJK font (fonts-wqy-zenhei) when none is found and this
# is root with apt-get, else say what to install.
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
# A CJK font for Chinese text (sealtrail/signing/fonts.py): seal pictures need one (Pillow has
# none built in); the report embeds it, else falls back to reportlab's CID font STSong-Light.
# Any font of fonts.py's candidates will do; fonts-wqy-zenhei is installed when none is there.
cjk_fonts=(
  /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
  /usr/share/fonts/truetype/arphic/uming.ttc /usr/share/fonts/truetype/arphic/ukai.ttc
  /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
  /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc
)
have_cjk=
for f in "${cjk_fonts[@]}"; do [ -f "$f" ] && have_cjk=1 && break; done
if [ -z "$have_cjk" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing fonts-wqy-zenhei (CJK text in seal pictures and the report)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei >/dev/null \
      || echo "bootstrap: apt-get could not install fonts-wqy-zenhei; install it yourself" >&2
  else
    echo "bootstrap: no CJK font: run 'sudo apt-get install fonts-wqy-zenhei' (or fonts-noto-cjk)" \
      "or seal pictures with Chinese text will be refused" >&2
  fi
fi
