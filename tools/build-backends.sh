#!/usr/bin/env bash
# Builds or installs the pinned telemetry backends the local stack and tests/e2e run against,
# all under permissive licences: Jaeger v2 and VictoriaLogs built with Go (Apache-2.0),
# Prometheus and Alertmanager from Debian's packages (Apache-2.0). Grafana Tempo and Loki
# (AGPL) are never built or fetched here: they stay supported targets by configuration, and
# tests/e2e runs against them only when TEMPO_BIN / LOKI_BIN name binaries of the user's own.
#
# Usage: tools/build-backends.sh [CACHE_DIR] [jaeger|victorialogs|prometheus|alertmanager ...]
# Prints one NAME_BIN=path line per binary (eval-able). Go builds land in
# CACHE_DIR/backends/<name>-<version>/ and are reused when present; Go's module and build caches
# live in CACHE_DIR/go/, so a version bump rebuilds incrementally.
#
# Jaeger carries `replace` directives in its go.mod, so `go install mod@ver` refuses it. For each
# Go backend we generate a throw-away wrapper module that copies the upstream's (non-local)
# replace lines, requires the command as a tool and builds it.
set -euo pipefail
cache=${1:-${CACHE_DIR:-$HOME/.cache/genai-sidecar}}
shift || true
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(jaeger victorialogs prometheus alertmanager)

# Pinned versions: the approved releases of this environment's Go module list.
# - Jaeger: v1.75.0 is the same release commit as v2.12.0 (Jaeger tags every release twice; the
#   v2 tags are not valid for the module path without /v2). cmd/jaeger is the v2 binary (a
#   collector distribution with jaeger_query). The module carries no UI assets (they are built
#   from jaeger-ui with npm), so the stack advertises Jaeger's HTTP API, not its UI.
# - VictoriaLogs: v1.52.2; app/victoria-logs embeds its web UI (vmui) and takes OTLP logs over
#   HTTP at /insert/opentelemetry/v1/logs. Its go.mod needs Go 1.26.5 or newer.
JAEGER_MOD=github.com/jaegertracing/jaeger
JAEGER_VERSION=v1.75.0
JAEGER_CMD=github.com/jaegertracing/jaeger/cmd/jaeger
VICTORIALOGS_MOD=github.com/VictoriaMetrics/VictoriaLogs
VICTORIALOGS_VERSION=v1.52.2
VICTORIALOGS_CMD=github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs
PROMETHEUS_DEB=prometheus  # Debian's package (2.42 on bookworm); promtool ships in it too
ALERTMANAGER_DEB=prometheus-alertmanager  # Debian's package; amtool ships in it too

export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOTOOLCHAIN=local
export GOFLAGS="-trimpath -buildvcs=false"
mkdir -p "$cache/backends"

log() { echo "build-backends: $*" >&2; }

scratch=()  # work directories, removed on exit whatever happens
trap 'rm -rf "${scratch[@]}"' EXIT

# go_build NAME MODULE VERSION CMD_PACKAGE [EXTRA_REQUIRE...]
go_build() {
  local name=$1 mod=$2 version=$3 cmd=$4
  shift 4
  local out=$cache/backends/$name-$version bin
  bin=$out/$name
  if [ -x "$bin" ]; then
    echo "${name^^}_BIN=$bin"
    return
  fi
  local work start info gomod
  work=$(mktemp -d "$cache/backends/build-$name.XXXXXX")
  scratch+=("$work")
  start=$(date +%s)
  info=$(cd "$work" && go mod download -json "$mod@$version")
  gomod=$(jq -r .GoMod <<< "$info")
  (
    cd "$work"
    go mod init "genai-sidecar.local/backends/$name" >/dev/null 2>&1
    # The upstream's go.sum vouches for the same dependency versions: the checksum database
    # behind the proxy here lacks entries for some of them (404), and go.sum needs none.
    cp "$(jq -r .Dir <<< "$info")/go.sum" go.sum
    chmod u+w go.sum
    go mod edit -go="$(go mod edit -json "$gomod" | jq -r .Go)"
    # Upstream replace lines, except local paths (nested modules, which we require instead).
    go mod edit -json "$gomod" |
      jq -r '.Replace[]? | select(.New.Version != null)
             | "\(.Old.Path)\(if .Old.Version then "@" + .Old.Version else "" end)=\(.New.Path)@\(.New.Version)"' |
      while read -r rep; do go mod edit -replace="$rep"; done
    for req in "$@"; do go mod edit -require="$req"; done
    log "$name: resolving $cmd@$version"
    go get -tool "$cmd@$version" >&2
    log "$name: compiling"
    go build -ldflags='-s -w' -o "$work/$name" "$cmd" >&2
  )
  mkdir -p "$out"
  mv "$work/$name" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  log "$name: built $bin in $(( $(date +%s) - start ))s"
  echo "${name^^}_BIN=$bin"
}

# apt_install PACKAGE COMMAND...: Debian's package, when one of its commands is missing (no
# service starts: there is no systemd here, and the stack starts each process itself).
apt_install() {
  local pkg=$1 cmd missing=
  shift
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing=1; done
  [ -n "$missing" ] || return 0
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  log "$pkg: installing the Debian package"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$pkg" >&2
}

for name in "${wanted[@]}"; do
  case $name in
    jaeger) go_build jaeger "$JAEGER_MOD" "$JAEGER_VERSION" "$JAEGER_CMD" ;;
    victorialogs)
      go_build victorialogs "$VICTORIALOGS_MOD" "$VICTORIALOGS_VERSION" "$VICTORIALOGS_CMD" ;;
    prometheus)
      apt_install "$PROMETHEUS_DEB" prometheus promtool
      echo "PROMETHEUS_BIN=$(command -v prometheus)"
      echo "PROMTOOL_BIN=$(command -v promtool)" ;;
    alertmanager)
      apt_install "$ALERTMANAGER_DEB" prometheus-alertmanager amtool
      echo "ALERTMANAGER_BIN=$(command -v prometheus-alertmanager)"
      echo "AMTOOL_BIN=$(command -v amtool)" ;;
    *) echo "unknown backend: $name" >&2; exit 2 ;;
  esac
done
