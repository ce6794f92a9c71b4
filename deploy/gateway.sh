#!/bin/sh
# The install and start steps of the container image (Dockerfile), in one script that the
# tests run too (tests/test_deploy.py).
#
#   gateway.sh wheels SRC OUT     build the wheels of the core and of every plugin under SRC
#   gateway.sh install WHEELS     install those wheels (and their dependencies from the index)
#   gateway.sh start [ARGS...]    DATA_DIR exists, then `exec gateway ARGS` (default: serve)
#   gateway.sh healthcheck [URL]  exit 0 when URL (default: the gateway's /readyz) answers 200
#   gateway.sh grpc-health ADDR [SERVICE]   exit 0 when a service's gRPC health is SERVING
#   gateway.sh drain              drain the gateway (Kubernetes preStop) and wait for its stop
#
# PYTHON names the interpreter (default: python3); PIP_ARGS adds pip options (a test installs
# into a --target); DRY_RUN=1 prints each command instead of running it.
set -eu

PYTHON="${PYTHON:-python3}"
PIP_ARGS="${PIP_ARGS:-}"

run() {
    if [ "${DRY_RUN:-0}" = "1" ]; then
        echo "+ $*"
    else
        "$@"
    fi
}

plugin_dirs() {
    for dir in "$1"/plugins/*/; do
        [ -f "${dir}pyproject.toml" ] && printf '%s\n' "${dir%/}"
    done
}

cmd="${1:-start}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
    wheels)
        src="${1:?usage: gateway.sh wheels SRC OUT}"
        out="${2:?usage: gateway.sh wheels SRC OUT}"
        # shellcheck disable=SC2046,SC2086
        run "$PYTHON" -m pip wheel --no-cache-dir --no-deps $PIP_ARGS --wheel-dir "$out" \
            "$src" $(plugin_dirs "$src")
        ;;
    install)
        wheels="${1:?usage: gateway.sh install WHEELS}"
        # shellcheck disable=SC2086
        run "$PYTHON" -m pip install --no-cache-dir --disable-pip-version-check $PIP_ARGS \
            "$wheels"/*.whl
        ;;
    start)
        [ "$#" -eq 0 ] && set -- serve
        run mkdir -p "${DATA_DIR:-./data}"
        if [ "${DRY_RUN:-0}" = "1" ]; then
            echo "+ exec $PYTHON -m gateway_core $*"
        else
            exec "$PYTHON" -m gateway_core "$@"
        fi
        ;;
    healthcheck)
        url="${1:-http://127.0.0.1:${HEALTH_PORT:-${PACKET_METRICS_PORT:-9102}}/readyz}"
        exec "$PYTHON" -c 'import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=3).status == 200 else 1)
except Exception as exc:
    print(f"not ready: {exc}", file=sys.stderr)
    sys.exit(1)' "$url"
        ;;
    grpc-health)
        address="${1:?usage: gateway.sh grpc-health ADDR [SERVICE]}"
        exec "$PYTHON" -c 'import sys, grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
try:
    with grpc.insecure_channel(sys.argv[1]) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=sys.argv[2]), timeout=3)
    sys.exit(0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1)
except grpc.RpcError as exc:
    print(f"not serving: {exc.code().name}", file=sys.stderr)
    sys.exit(1)' "$address" "${2:-}"
        ;;
    drain)
        exec "$PYTHON" -m gateway_core drain --wait --timeout "${DRAIN_TIMEOUT:-60}"
        ;;
    *)
        echo "gateway.sh: unknown command $cmd (wheels, install, start, healthcheck," \
             "grpc-health, drain)" >&2
        exit 2
        ;;
esac
