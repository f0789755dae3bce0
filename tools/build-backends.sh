#!/usr/bin/env bash
# Builds or installs the pinned telemetry backends the local stack and tests/e2e run against:
# Jaeger v2, Grafana Tempo and Grafana Loki built with Go, Prometheus from Debian's package.
#
# Usage: tools/build-backends.sh [CACHE_DIR] [jaeger|tempo|loki|prometheus ...]
# Prints one NAME_BIN=path line per binary (eval-able). Everything lands in
# CACHE_DIR/backends/<name>-<version>/ and is reused when present; Go's module and build caches
# live in CACHE_DIR/go/, so a version bump rebuilds incrementally.
#
# Tempo, Loki and Jaeger carry `replace` directives in their go.mod, so `go install mod@ver`
# refuses them. For each one we generate a throw-away wrapper module that copies the upstream's
# (non-local) replace lines, requires the command as a tool and builds it.
set -euo pipefail
cache=${1:-${CACHE_DIR:-$HOME/.cache/genai-sidecar}}
shift || true
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(jaeger tempo loki prometheus)

# Pinned versions. The Go module proxy reachable here serves only some versions (others answer
# 403), so each pin is the newest release we could fetch with every dependency:
# - Jaeger: v1.76.0 is the same release commit as v2.13.0 (Jaeger tags every release twice; the
#   v2 tags are not valid for the module path without /v2, and the proxy has no pseudo-version
#   for v2.14+). cmd/jaeger is the v2 binary (a collector distribution with jaeger_query).
# - Tempo: v2.9.0, as the pseudo-version of its tag commit (the module path has no /v2 suffix);
#   v2.9.1, v2.10.x and v3.0.x answer 403.
# - Loki: v3.7.6. Its nested module pkg/push is replaced by ./pkg/push upstream; the proxy has no
#   pseudo-version for v3.7.6's commit, so we pin ac76b402773c (main, 2026-06-11), whose pkg/push
#   differs from v3.7.6's only by two MarshalJSON methods of the deprecated /api/prom/query
#   encoder. (v3.7.8 exists on the proxy but is absent from the source mirror we checked against.)
JAEGER_MOD=github.com/jaegertracing/jaeger
JAEGER_VERSION=v1.76.0
JAEGER_CMD=github.com/jaegertracing/jaeger/cmd/jaeger
TEMPO_MOD=github.com/grafana/tempo
TEMPO_VERSION=v1.5.1-0.20251008140505-607c7fb69662  # tag v2.9.0
TEMPO_CMD=github.com/grafana/tempo/cmd/tempo
LOKI_MOD=github.com/grafana/loki/v3
LOKI_VERSION=v3.7.6
LOKI_CMD=github.com/grafana/loki/v3/cmd/loki
LOKI_PUSH=github.com/grafana/loki/pkg/push@v0.0.0-20260611205623-ac76b402773c
PROMETHEUS_DEB=prometheus  # Debian's package (2.42 on bookworm); promtool ships in it too

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

# Prometheus: Debian's package (installs promtool too; no service starts without systemd).
install_prometheus() {
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    log "prometheus: installing the Debian package $PROMETHEUS_DEB"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
      "$PROMETHEUS_DEB" >&2
  fi
  echo "PROMETHEUS_BIN=$(command -v prometheus)"
  echo "PROMTOOL_BIN=$(command -v promtool)"
}

for name in "${wanted[@]}"; do
  case $name in
    jaeger) go_build jaeger "$JAEGER_MOD" "$JAEGER_VERSION" "$JAEGER_CMD" ;;
    tempo) go_build tempo "$TEMPO_MOD" "$TEMPO_VERSION" "$TEMPO_CMD" ;;
    loki) go_build loki "$LOKI_MOD" "$LOKI_VERSION" "$LOKI_CMD" "$LOKI_PUSH" ;;
    prometheus) install_prometheus ;;
    *) echo "unknown backend: $name" >&2; exit 2 ;;
  esac
done
