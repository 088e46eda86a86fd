#!/usr/bin/env bash
# Timeline build time and memory, one markdown row per trace, for
# docs/performance.md. Run on an otherwise idle machine.
#
# usage: scripts/bench-timeline.sh TRACE...
#
# Each row comes from one run of the `load` example (crates/timeline/
# examples/load.rs): `timeline::build` as the viewer runs it (thread tracks
# left out), then the thread tracks on their own as the viewer builds them
# when the thread rows are first shown. Peak memory is the peak anonymous
# RSS sampled every 5 ms (the memory-mapped trace is not counted).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 TRACE..." >&2; exit 2; }
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
cargo build --release -q -p timeline --example load
LOAD=$REPO/target/release/examples/load

echo "| trace | MiB | events | spans | goroutines | build wall s | CPU s | heap MiB | peak anon MiB (x file) | thread tracks: spans, s, MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for t in "$@"; do
  bytes=$(stat -c %s "$t")
  out=$(/usr/bin/time -f "CPU %U %S" "$LOAD" "$t" --threads 2>&1)
  first=$(grep -m1 ' gens, ' <<<"$out")
  wall=$(sed -n 's/.* in \([0-9.]*\)s .*/\1/p' <<<"$first")
  events=$(sed -n 's/.*; \([0-9]*\) events.*/\1/p' <<<"$first")
  gs=$(sed -n 's/.* \([0-9]*\) goroutines.*/\1/p' <<<"$first")
  spans=$(sed -n 's/.* \([0-9]*\) spans;.*/\1/p' <<<"$first")
  heap=$(sed -n 's/.*heap_bytes \([0-9]*\) MB.*/\1/p' <<<"$first")
  peak=$(sed -n 's/.*peak RssAnon \([0-9]*\) MB.*/\1/p' <<<"$first")
  thr=$(grep -m1 '^thread tracks' <<<"$out")
  tspans=$(sed -n 's/.*threads, \([0-9]*\) spans.*/\1/p' <<<"$thr")
  tmb=$(sed -n 's/.* spans, \([0-9]*\) MB.*/\1/p' <<<"$thr")
  tsec=$(sed -n 's/.*built in \([0-9.]*\)s.*/\1/p' <<<"$thr")
  cpu=$(awk '/^CPU /{printf "%.1f", $2+$3}' <<<"$out")
  # The CPU time covers the thread-track pass too; the build's own share is
  # what the wall time shows.
  awk -v n="$(basename "$t")" -v b="$bytes" -v ev="$events" -v sp="$spans" -v g="$gs" -v w="$wall" \
      -v c="$cpu" -v h="$heap" -v p="$peak" -v ts="$tspans" -v tsec="$tsec" -v tmb="$tmb" 'BEGIN{
    mib=b/1048576;
    printf "| %s | %.1f | %.1f M | %.1f M | %.2f M | %.2f | %s (both passes) | %d | %d (%.1fx) | %.1f M, %.2f s, %d |\n",
      n, mib, ev/1e6, sp/1e6, g/1e6, w, c, h/1.048576, p, p/mib, ts/1e6, tsec, tmb/1.048576 }'
done
