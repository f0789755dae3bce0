#!/usr/bin/env bash
# Runs the collector (collector-config/local.yaml) and genai-sidecar (embedded default config)
# in the foreground until Ctrl-C, after waiting for both to be ready.
# Needs OTELCOL_BIN (the Makefile passes it). Logs go to .run/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${OTELCOL_BIN:?set OTELCOL_BIN to the collector binary (make run does)}"
mkdir -p "$root/.run"
export COLLECTOR_STORAGE_DIR=$root/.run/queue
"$OTELCOL_BIN" --config "$root/collector-config/local.yaml" > "$root/.run/collector.log" 2>&1 &
collector=$!
"$root/.venv/bin/genai-sidecar" run > "$root/.run/sidecar.out" 2> "$root/.run/sidecar.log" &
sidecar=$!
cleanup() {
  kill -TERM "$sidecar" "$collector" 2>/dev/null || true
  wait "$sidecar" "$collector" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Readiness: the sidecar prints its listening line; the collector's health_check answers 200.
for _ in $(seq 600); do
  if grep -q "listening on port" "$root/.run/sidecar.out" 2>/dev/null &&
     curl -fsS -o /dev/null http://127.0.0.1:13133/; then
    break
  fi
  kill -0 "$sidecar" 2>/dev/null || { cat "$root/.run/sidecar.log"; exit 1; }
  kill -0 "$collector" 2>/dev/null || { tail -20 "$root/.run/collector.log"; exit 1; }
  sleep 0.1
done
cat <<MSG
genai-sidecar is running behind the collector.
  send OTLP to   grpc 127.0.0.1:4317   http 127.0.0.1:4318
  sidecar        127.0.0.1:14317 (OTLP/gRPC), metrics http://127.0.0.1:14319/metrics
  output         the collector's debug exporter: .run/collector.log
Ctrl-C stops both.
MSG
wait -n "$sidecar" "$collector"
