# Sealtrail service image (slim, non-root). The data directory is a volume.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 sealtrail
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sealtrail ./sealtrail
RUN pip install --no-cache-dir . && mkdir -p /data && chown sealtrail /data
USER sealtrail
ENV SEALTRAIL_DATA_DIR=/data
VOLUME ["/data"]
HEALTHCHECK CMD ["sealtrail", "audit", "--json"]
ENTRYPOINT ["sealtrail"]
CMD ["demo"]
