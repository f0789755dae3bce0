#!/usr/bin/env bash
# Builds the collector distribution of collector-config/builder.yaml into the cache directory.
#
# Usage: tools/build-collector.sh CACHE_DIR
# Prints the path of the binary. The output directory is keyed by the builder version and a
# hash of the manifest, so an unchanged manifest reuses the binary and an edited one rebuilds.
# Go's module and build caches live under CACHE_DIR too, so later builds are incremental.
set -euo pipefail
cache=${1:?usage: build-collector.sh CACHE_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
manifest=$root/collector-config/builder.yaml
ocb_version=$(awk '$1 == "version:" {print $2; exit}' "$manifest")
key=$(sha256sum "$manifest" | cut -c1-12)
out=$cache/collector/otelcol-genai-$ocb_version-$key
bin=$out/otelcol-genai
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-trimpath
ocb=$cache/tools/ocb-v$ocb_version/builder
if [ ! -x "$ocb" ]; then
  GOBIN=$(dirname "$ocb") go install "go.opentelemetry.io/collector/cmd/builder@v$ocb_version" >&2
fi
mkdir -p "$cache/collector"
work=$(mktemp -d "$cache/collector/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
sed "s#output_path: .*#output_path: $work/src#" "$manifest" > "$work/builder.yaml"
start=$(date +%s)
"$ocb" --config "$work/builder.yaml" --ldflags='-s -w' >&2
mkdir -p "$out"
mv "$work/src/otelcol-genai" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "built $bin in $(( $(date +%s) - start ))s" >&2
echo "$bin"
