# rose-gateway: the gateway with every built-in plugin (and their reference services).
#   docker build -t packet-service .
#   docker run -p 29000:29000 -p 9102:9102 packet-service
# The same image runs one reference service: `docker run packet-service start service auth
# --listen 0.0.0.0:50051` (deploy/compose.yaml, deploy/k8s/). Its install and start steps are
# deploy/gateway.sh, which tests/test_deploy.py runs.

# --- build: the wheels of the core and of the plugins -------------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway_core ./gateway_core
COPY protos ./protos
COPY plugins ./plugins
COPY deploy/gateway.sh /usr/local/bin/gateway.sh
RUN gateway.sh wheels /src /wheels

# --- runtime: the wheels installed, a non-root user ---------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LISTEN_ADDR=0.0.0.0 \
    SERVICE_PORT=29000 \
    ADMIN_HOST=127.0.0.1 \
    PACKET_METRICS_PORT=9103 \
    METRICS_ADDR=0.0.0.0:9102 \
    DATA_DIR=/var/lib/rose-gateway
COPY --from=build /wheels /wheels
COPY deploy/gateway.sh /usr/local/bin/gateway.sh
RUN gateway.sh install /wheels \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /var/lib/rose-gateway --create-home rose
USER rose
WORKDIR /var/lib/rose-gateway
# 29000: the game port; 9102: /metrics, /healthz and /readyz only (the admin port, 9103, stays
# on the container's loopback: `gateway drain` and `gateway console` run inside).
EXPOSE 29000 9102
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["gateway.sh", "healthcheck", "http://127.0.0.1:9102/readyz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["gateway.sh"]
CMD ["start", "serve"]
