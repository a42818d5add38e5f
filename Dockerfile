# Sealtrail service image: Python 3.11 slim, run as an unprivileged user (uid/gid 10001).
#
#   docker build -t sealtrail:0.1.0 .
#   docker run -v sealtrail-data:/data -p 127.0.0.1:8080:8080 sealtrail:0.1.0   # `serve`
#   docker run --rm -v sealtrail-data:/data sealtrail:0.1.0 audit --json       # any command
#
# The data directory /data is a volume: checkpoint key (ledger.key), seal master key (seal.key,
# unless seal_key/seal_key_file are set), the service seal, the contract record (chain.json) and,
# without SEALTRAIL_DB_URL, the SQLite ledger. docs/OPERATIONS.md explains every setting, the
# compose file, backups and key handling.

# -- stage 1: the package and its runtime dependencies in a virtual environment --------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY sealtrail ./sealtrail
# The base distribution (core, verifier, SDK), then the service's extra [server] — never the
# [dev] tools — every version pinned by the lock (constraints.txt, scripts/lock.sh).
ENV PIP_CONSTRAINT=/src/constraints.txt
RUN pip install . \
 && pip install '.[server]'

# -- stage 2: the runtime image ---------------------------------------------------------------
FROM python:3.11-slim
# A CJK font for seal appearances and the package report (sealtrail/signing/appearance.py);
# without one, Chinese seal text renders as empty boxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sealtrail \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/sealtrail \
        --shell /usr/sbin/nologin sealtrail \
 && install -d -o 10001 -g 10001 -m 0700 /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SEALTRAIL_DATA_DIR=/data \
    SEALTRAIL_LISTEN=0.0.0.0:8080
# A fresh named volume takes /data's owner (10001) and mode (0700) from the image.
VOLUME ["/data"]
WORKDIR /data
EXPOSE 8080
USER 10001:10001
# Liveness of `serve` (GET /healthz); slim images have no curl, so Python's urllib asks. The
# port follows SEALTRAIL_LISTEN.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('SEALTRAIL_LISTEN', ':8080').rpartition(':')[2]; u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["sealtrail"]
CMD ["serve"]
