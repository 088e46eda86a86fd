#!/usr/bin/env bash
# Decode throughput and memory: gotv against Go's own parser, same trace,
# same run. Prints one markdown table for docs/performance.md.
#
# usage: scripts/bench-decode.sh TRACE...
#
# For each trace it runs, one after another on an otherwise idle machine:
#   go      Go's internal/trace reader counting events and touching stacks
#           (scripts/bench-go-reader.sh count)
#   gotv 1  gotv stats --decode-only --sequential (one thread)
#   gotv N  gotv stats --decode-only (generations decoded in parallel)
# Throughput is file size / wall time of the whole process. For gotv the
# peak is anonymous RSS (the memory-mapped file is not counted); for Go it
# is the process's peak RSS (it reads through a buffer, no mapping).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 TRACE..." >&2; exit 2; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
cargo build --release -q -p gotv
GOTV=$REPO/target/release/gotv

mib() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1048576}'; }
echo "| trace | MiB | decoder | events | wall s | MiB/s | vs Go | peak MiB (% of file) |"
echo "|---|---:|---|---:|---:|---:|---:|---:|"
for t in "$@"; do
  bytes=$(stat -c %s "$t")
  row=$(scripts/bench-go-reader.sh "$t" count 2>/dev/null | grep '^ROW ' || true)
  go_events=$(awk -F'|' '{gsub(/ /,"",$5); print $5}' <<<"$row")
  go_wall=$(awk -F'|' '{gsub(/ /,"",$6); print $6}' <<<"$row")
  go_rss=$(awk -F'|' '{gsub(/ /,"",$8); print $8}' <<<"$row")
  go_tput=$(awk -v b="$bytes" -v w="$go_wall" 'BEGIN{printf "%.1f", b/1048576/w}')
  go_pct=$(awk -v r="$go_rss" -v b="$bytes" 'BEGIN{printf "%.1f", r*1048576*100/b}')
  echo "| $(basename "$t") | $(mib "$bytes") | Go internal/trace | $go_events | $go_wall | $go_tput | 1.0x | $go_rss ($go_pct%) |"
  for mode in --sequential ""; do
    start=$(date +%s.%N)
    json=$("$GOTV" stats --decode-only --json $mode "$t")
    end=$(date +%s.%N)
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", e-s}')
    events=$(sed -n 's/.*"events": \([0-9]*\).*/\1/p' <<<"$json")
    peak=$(sed -n 's/.*"peak_anon_rss_bytes": \([0-9]*\).*/\1/p' <<<"$json")
    tput=$(awk -v b="$bytes" -v w="$wall" 'BEGIN{printf "%.1f", b/1048576/w}')
    ratio=$(awk -v a="$go_wall" -v w="$wall" 'BEGIN{printf "%.1fx", a/w}')
    pct=$(awk -v p="$peak" -v b="$bytes" 'BEGIN{printf "%.1f", p*100/b}')
    name="gotv, 1 thread"; [[ -z $mode ]] && name="gotv, parallel"
    echo "| $(basename "$t") | $(mib "$bytes") | $name | $events | $wall | $tput | $ratio | $(mib "$peak") ($pct%) |"
  done
done
