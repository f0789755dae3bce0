#!/usr/bin/env bash
# Runs .ci/run as a brand-new machine would: a fresh clone of the committed HEAD, an empty cache
# directory (Go module and build caches, the collector, helm and backend builds), an empty pip
# cache and a fresh venv. Prints the wall time of the whole run.
#
# Usage: tools/ci-cold.sh [WORK_DIR]   (default: a new directory under ${TMPDIR:-/tmp})
# The work directory is removed when the run passes and kept, with its log, when it fails.
# Debian packages (prometheus, prometheus-alertmanager) are installed system-wide by apt-get
# and so are only installed when missing; `apt-get remove` them first for a colder run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/genai-ci-cold.XXXXXX")}
mkdir -p "$work"
[ -z "$(git -C "$root" status --porcelain)" ] ||
  echo "ci-cold: note: uncommitted changes are not part of the run (it clones HEAD)" >&2
git clone -q "$root" "$work/src"
export CACHE_DIR=$work/cache PIP_CACHE_DIR=$work/pip-cache
mkdir -p "$CACHE_DIR"
start=$(date +%s)
echo "ci-cold: $(git -C "$work/src" log -1 --format='%h %s'), cache $CACHE_DIR (empty)"
if (cd "$work/src" && CI=true bash .ci/run) 2>&1 | tee "$work/ci.log"; then
  echo "ci-cold: passed in $(( $(date +%s) - start ))s"
  rm -rf "$work"
else
  echo "ci-cold: FAILED after $(( $(date +%s) - start ))s; log and tree kept in $work" >&2
  exit 1
fi
