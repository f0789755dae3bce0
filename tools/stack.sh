#!/usr/bin/env bash
# The whole local stack: Jaeger, VictoriaLogs, Alertmanager, Prometheus, the collector
# (collector-config/stack.yaml) and genai-sidecar (embedded default config, or SIDECAR_CONFIG),
# in the background.
# Grafana Tempo and Loki join when TEMPO_BIN / LOKI_BIN name binaries of the user's own (the
# project never builds or fetches them: AGPL); the collector then also exports to them
# (collector-config/stack-tempo.yaml, stack-loki.yaml).
#
# Usage: tools/stack.sh start|stop|status|urls
#   start   builds what is missing (tools/build-backends.sh, tools/build-collector.sh), starts
#           every process, waits until each answers its readiness check, prints the URLs.
#   stop    stops every process it started (SIGTERM, then SIGKILL after a grace period).
#   status  one line per process: running and ready, or not.
# Pid files and logs go to STACK_RUN_DIR (default .run/). Every address below can be set by
# environment variable (tests/e2e starts a private stack on free ports this way).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${CACHE_DIR:-$HOME/.cache/genai-sidecar}
run=${STACK_RUN_DIR:-$root/.run}
ready_timeout=${STACK_READY_TIMEOUT:-180}

# Addresses (the defaults of collector-config/stack.yaml and collector-config/backends/*.yaml).
export COLLECTOR_OTLP_GRPC_ENDPOINT=${COLLECTOR_OTLP_GRPC_ENDPOINT:-127.0.0.1:4317}
export COLLECTOR_OTLP_HTTP_ENDPOINT=${COLLECTOR_OTLP_HTTP_ENDPOINT:-127.0.0.1:4318}
export COLLECTOR_HEALTH_ENDPOINT=${COLLECTOR_HEALTH_ENDPOINT:-127.0.0.1:13133}
export COLLECTOR_ENRICHED_ENDPOINT=${COLLECTOR_ENRICHED_ENDPOINT:-127.0.0.1:14318}
export COLLECTOR_PROMETHEUS_ENDPOINT=${COLLECTOR_PROMETHEUS_ENDPOINT:-127.0.0.1:9464}
export SIDECAR_ENDPOINT=${SIDECAR_ENDPOINT:-127.0.0.1:14317}
export SIDECAR_METRICS_ENDPOINT=${SIDECAR_METRICS_ENDPOINT:-127.0.0.1:14319}
export JAEGER_OTLP_GRPC_ENDPOINT=${JAEGER_OTLP_GRPC_ENDPOINT:-127.0.0.1:24317}
export JAEGER_QUERY_HTTP_ENDPOINT=${JAEGER_QUERY_HTTP_ENDPOINT:-127.0.0.1:16686}
export JAEGER_QUERY_GRPC_ENDPOINT=${JAEGER_QUERY_GRPC_ENDPOINT:-127.0.0.1:16685}
export JAEGER_HEALTH_ENDPOINT=${JAEGER_HEALTH_ENDPOINT:-127.0.0.1:13134}
export VICTORIALOGS_HTTP_ENDPOINT=${VICTORIALOGS_HTTP_ENDPOINT:-127.0.0.1:9428}
export PROMETHEUS_ENDPOINT=${PROMETHEUS_ENDPOINT:-127.0.0.1:9090}
export PROMETHEUS_SCRAPE_INTERVAL=${PROMETHEUS_SCRAPE_INTERVAL:-2s}
export ALERTMANAGER_ENDPOINT=${ALERTMANAGER_ENDPOINT:-127.0.0.1:9093}
export GENAI_RULES_FILE=${GENAI_RULES_FILE:-$root/collector-config/alerts/genai-sidecar.rules.yaml}
export COLLECTOR_STORAGE_DIR=$run/data/queue
# Optional, user-supplied AGPL backends.
export TEMPO_HTTP_PORT=${TEMPO_HTTP_PORT:-3200}
export TEMPO_GRPC_PORT=${TEMPO_GRPC_PORT:-9095}
export TEMPO_MEMBERLIST_PORT=${TEMPO_MEMBERLIST_PORT:-7946}
export TEMPO_OTLP_GRPC_PORT=${TEMPO_OTLP_GRPC_PORT:-24327}
export TEMPO_OTLP_GRPC_ENDPOINT=127.0.0.1:$TEMPO_OTLP_GRPC_PORT
export LOKI_HTTP_PORT=${LOKI_HTTP_PORT:-3100}
export LOKI_GRPC_PORT=${LOKI_GRPC_PORT:-9096}
export LOKI_HTTP_ENDPOINT=127.0.0.1:$LOKI_HTTP_PORT
export TEMPO_DATA_DIR=$run/data/tempo
export LOKI_DATA_DIR=$run/data/loki

# Start order; stop runs it backwards. Readiness URL per process.
names=(jaeger victorialogs)
[ -z "${TEMPO_BIN:-}" ] || names+=(tempo)
[ -z "${LOKI_BIN:-}" ] || names+=(loki)
names+=(alertmanager prometheus collector sidecar)
# stop and status also cover optional processes started by an earlier `start`.
every=(jaeger victorialogs tempo loki alertmanager prometheus collector sidecar)
declare -A ready_url=(
  [jaeger]=http://$JAEGER_HEALTH_ENDPOINT/status
  [victorialogs]=http://$VICTORIALOGS_HTTP_ENDPOINT/health
  [tempo]=http://127.0.0.1:$TEMPO_HTTP_PORT/ready
  [loki]=http://$LOKI_HTTP_ENDPOINT/ready
  [alertmanager]=http://$ALERTMANAGER_ENDPOINT/-/ready
  [prometheus]=http://$PROMETHEUS_ENDPOINT/-/ready
  [collector]=http://$COLLECTOR_HEALTH_ENDPOINT/
  [sidecar]=http://$SIDECAR_METRICS_ENDPOINT/metrics
)

log() { echo "stack: $*" >&2; }

pid_of() { cat "$run/$1.pid" 2>/dev/null || true; }

alive() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

is_ready() { curl -fsS -o /dev/null --max-time 2 "${ready_url[$1]}" 2>/dev/null; }

# Prometheus 2.42 and Alertmanager do not expand environment variables.
render() { "$root/tools/render-config" "$1"; }

launch() {
  local name=$1
  shift
  "$@" > "$run/$name.log" 2>&1 &
  echo $! > "$run/$name.pid"
}

# Polls the readiness URL until it answers, the process dies or the deadline passes.
await_ready() {
  local name=$1 deadline=$((SECONDS + ready_timeout))
  until is_ready "$name"; do
    if ! alive "$name"; then
      log "$name exited during start-up; last lines of $run/$name.log:"
      tail -n 30 "$run/$name.log" >&2
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "$name not ready after ${ready_timeout}s (${ready_url[$name]}); see $run/$name.log"
      return 1
    fi
    sleep 0.2
  done
}

start() {
  mkdir -p "$run/data"
  local name
  for name in "${names[@]}"; do
    if alive "$name"; then
      log "$name is already running (pid $(pid_of "$name")); run 'tools/stack.sh stop' first"
      exit 1
    fi
  done
  local bins otelcol
  bins=$("$root/tools/build-backends.sh" "$cache")
  eval "$bins"
  otelcol=${OTELCOL_BIN:-$("$root/tools/build-collector.sh" "$cache")}
  local sidecar=${SIDECAR_BIN:-$root/.venv/bin/genai-sidecar}
  render "$root/collector-config/backends/prometheus.yaml" > "$run/prometheus.yaml"
  render "$root/collector-config/alertmanager/alertmanager.yaml" > "$run/alertmanager.yaml"
  local configs=(--config "$root/collector-config/stack.yaml")

  launch jaeger "$JAEGER_BIN" --config "$root/collector-config/backends/jaeger.yaml"
  launch victorialogs "$VICTORIALOGS_BIN" -httpListenAddr="$VICTORIALOGS_HTTP_ENDPOINT" \
    -storageDataPath="$run/data/victorialogs" -retentionPeriod=7d -loggerLevel=WARN
  if [ -n "${TEMPO_BIN:-}" ]; then
    launch tempo "$TEMPO_BIN" -config.file="$root/collector-config/backends/tempo.yaml" \
      -config.expand-env=true
    configs+=(--config "$root/collector-config/stack-tempo.yaml")
  fi
  if [ -n "${LOKI_BIN:-}" ]; then
    launch loki "$LOKI_BIN" -config.file="$root/collector-config/backends/loki.yaml" \
      -config.expand-env=true
    configs+=(--config "$root/collector-config/stack-loki.yaml")
  fi
  # Single instance: no cluster listener (an empty address turns gossip off).
  launch alertmanager "$ALERTMANAGER_BIN" --config.file="$run/alertmanager.yaml" \
    --storage.path="$run/data/alertmanager" --web.listen-address="$ALERTMANAGER_ENDPOINT" \
    --cluster.listen-address=
  launch prometheus "$PROMETHEUS_BIN" --config.file="$run/prometheus.yaml" \
    --storage.tsdb.path="$run/data/prometheus" --web.listen-address="$PROMETHEUS_ENDPOINT" \
    --web.enable-remote-write-receiver --web.enable-lifecycle
  launch collector "$otelcol" "${configs[@]}"
  # SIDECAR_CONFIG: a config file instead of the embedded default (the e2e suite's).
  launch sidecar "$sidecar" run ${SIDECAR_CONFIG:+--config "$SIDECAR_CONFIG"} --listen "$SIDECAR_ENDPOINT" \
    --downstream "$COLLECTOR_ENRICHED_ENDPOINT" --metrics-listen "$SIDECAR_METRICS_ENDPOINT"
  for name in "${names[@]}"; do
    if ! await_ready "$name"; then
      log "start-up failed; stopping what was started"
      stop
      exit 1
    fi
    log "$name ready"
  done
  urls
}

urls() {
  cat <<MSG
genai-sidecar local stack is running (logs and pid files in $run).
  send OTLP to    gRPC $COLLECTOR_OTLP_GRPC_ENDPOINT, HTTP $COLLECTOR_OTLP_HTTP_ENDPOINT (POST /v1/traces, /v1/logs, /v1/metrics)
  sidecar         $SIDECAR_ENDPOINT (OTLP/gRPC), metrics http://$SIDECAR_METRICS_ENDPOINT/metrics
  traces (Jaeger API)   http://$JAEGER_QUERY_HTTP_ENDPOINT/api/services
  logs (VictoriaLogs)   http://$VICTORIALOGS_HTTP_ENDPOINT/select/vmui/
  metrics (Prometheus)  http://$PROMETHEUS_ENDPOINT/classic/graph   alerts http://$PROMETHEUS_ENDPOINT/classic/alerts
  Alertmanager          http://$ALERTMANAGER_ENDPOINT/#/alerts
MSG
  if [ -n "${TEMPO_BIN:-}" ]; then
    echo "  Tempo API             http://127.0.0.1:$TEMPO_HTTP_PORT/api/search"
  fi
  if [ -n "${LOKI_BIN:-}" ]; then
    echo "  Loki API              http://$LOKI_HTTP_ENDPOINT/loki/api/v1/labels"
  fi
  echo "Send traffic: make demo.   Stop: make stop."
}

stop() {
  local i name pid deadline
  for ((i = ${#every[@]} - 1; i >= 0; i--)); do
    name=${every[i]}
    pid=$(pid_of "$name")
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 30))
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        log "$name did not stop within 30s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      log "$name stopped"
    fi
    rm -f "$run/$name.pid"
  done
}

status() {
  local name state rc=0
  for name in "${every[@]}"; do
    case " ${names[*]} " in *" $name "*) ;; *) [ -e "$run/$name.pid" ] || continue ;; esac
    if ! alive "$name"; then
      state="not running"
      rc=1
    elif is_ready "$name"; then
      state="ready (pid $(pid_of "$name"))"
    else
      state="running, not ready (pid $(pid_of "$name"))"
      rc=1
    fi
    printf '  %-11s %s\n' "$name" "$state"
  done
  return $rc
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  urls) urls ;;
  *) echo "usage: $0 start|stop|status|urls" >&2; exit 2 ;;
esac
