#!/usr/bin/env bash
# Builds the pinned helm CLI into the cache directory and prints its path.
#
# Usage: tools/build-helm.sh CACHE_DIR
# Helm v4 with `go install` from the Go module proxy (the release binaries are not reachable
# here). Pinned to v4.3.1, the newest release listed by the proxy: every module of its graph is
# served (some versions of other modules answer 403 here, none of these), and v4 is the line
# that gets fixes (v3 is in maintenance). The build takes ~4 minutes on 2 shared cores.
# The Kubernetes version behind .Capabilities.KubeVersion needs no ldflags in v4: helm
# reads the k8s.io/client-go version from the binary's build info at run time (v3 needed
# -X .../chartutil.k8sVersionMajor/Minor, or it reports 1.20). The only ldflags set are the
# ones helm's Makefile sets for a tagged release build (version, clean metadata), so
# `helm version` names the pinned release. The tests pass --kube-version explicitly anyway.
set -euo pipefail
cache=${1:?usage: build-helm.sh CACHE_DIR}
version=v4.3.1
major=${version%%.*}
out=$cache/tools/helm-$version
bin=$out/helm
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-trimpath CGO_ENABLED=0
mkdir -p "$out"
work=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg=helm.sh/helm/$major
start=$(date +%s)
GOBIN=$work go install \
  -ldflags "-s -w -X $pkg/internal/version.version=$version -X $pkg/internal/version.metadata= -X $pkg/internal/version.gitTreeState=clean" \
  "$pkg/cmd/helm@$version" >&2
mv "$work/helm" "$bin"
echo "built $bin in $(( $(date +%s) - start ))s" >&2
echo "$bin"
