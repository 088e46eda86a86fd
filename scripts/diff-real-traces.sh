#!/usr/bin/env bash
# Differential check against Go on real-world traces: the traces `go test
# -trace` writes for standard-library packages, in every installed Go
# version, compared with Go's own reader.
#
# For each trace:
#   dump   `gotv dump` against `go tool trace -d=parsed`, byte for byte;
#   pprof  `gotv pprof --kind K` against `go tool trace -pprof=K`, for the
#          four kinds: every sample's count and delay, summed by stack of
#          (function, file, line) frames. Go keeps apart stacks whose
#          program counters differ on one line; gotv's stacks are frames
#          and have none, so the sums by frames are what must agree;
#   mmu    at the end, for every trace under 20 MB: Go's MMU
#          (internal/trace.MutatorUtilizationV2, through
#          testdata/analysis/gen-oracle.sh) against gotv's, as
#          crates/timeline/tests/analysis.rs compares them on the committed
#          traces (`mmu_matches_go_for_stw_assists_and_sweeps`: pauses,
#          assists and sweeps at seven window lengths, in v2 traces also
#          pauses alone). Background mark workers are left out: Go counts
#          one again each time it is rescheduled, so its series sticks at 0
#          and, on most real traces, ends long before the trace does.
#
# A damaged trace (`gotv dump` fails) has its dump compared only: Go's
# analyses keep just the generations before the damage, gotv's every event
# it decoded, so their profiles and MMU differ by design.
#
# The oracle is always Go $ORACLE_VERSION's cmd/trace, whichever Go wrote
# the trace. Prints one line per trace and check, then a summary; exits 1
# if any check differs. Nothing here runs in CI: the traces are tens of MB
# and need every toolchain. The committed corpus (testdata/traces) is what
# the tests compare; this is the wider net, for changes to the decoder.
#
# usage: scripts/diff-real-traces.sh [OUTDIR]
#
# Environment:
#   GO_ROOT_DIR  toolchains as scripts/gen-testdata.sh installs them
#                (default /opt/go); versions that are missing are skipped
#   GO119_BIN    Go 1.19 (default /usr/lib/go-1.19/bin/go), skipped if missing
#   PACKAGES     packages to trace (default below)
#   KEEP=1       keep traces already in OUTDIR instead of making them again
#   GOTV_BIN     gotv binary to check (default: target/release/gotv, built)
#   GODEBUG      reaches the traced tests: traceallocfree=1 adds Go 1.23+'s
#                experimental heap, stack and goroutine alloc/free events
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-${TMPDIR:-/tmp}/gotv-real-traces}
GO_ROOT_DIR=${GO_ROOT_DIR:-/opt/go}
GO119_BIN=${GO119_BIN:-/usr/lib/go-1.19/bin/go}
ORACLE_VERSION=1.27.3
ORACLE=$GO_ROOT_DIR/v$ORACLE_VERSION/bin/go
VERSIONS=(1.21.13 1.22.10 1.23.9 1.24.11 1.25.5 1.26.6 1.27.3)
PACKAGES=${PACKAGES:-sync context time net net/http encoding/json os/exec}
KINDS=(net sync syscall sched)

export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=''

[[ -x $ORACLE ]] || { echo "diff-real-traces: no oracle at $ORACLE (scripts/gen-testdata.sh installs it)" >&2; exit 2; }
if [[ -z ${GOTV_BIN:-} ]]; then
  cargo build --release -q -p gotv --manifest-path "$ROOT/Cargo.toml" || exit 2
fi
GOTV=${GOTV_BIN:-$ROOT/target/release/gotv}
mkdir -p "$OUT"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# Every (go binary, directory name) pair installed.
toolchains() {
  [[ -x $GO119_BIN ]] && printf '%s go1.19\n' "$GO119_BIN"
  local v
  for v in "${VERSIONS[@]}"; do
    [[ -x $GO_ROOT_DIR/v$v/bin/go ]] && printf '%s go%s\n' "$GO_ROOT_DIR/v$v/bin/go" "$v"
  done
}

# A raw profile (`go tool pprof -raw`) as "count delay stack" lines, summed
# by stack of frames and sorted.
by_frames() {
  "$ORACLE" tool pprof -raw "$1" 2>/dev/null | awk '
    /^Samples:/ { sec = "s"; next }
    /^Locations/ { sec = "l"; next }
    /^Mappings/ { sec = ""; next }
    sec == "s" && $0 ~ /^ +[0-9]+ +[0-9]+:/ {
      n++; count[n] = $1; delay[n] = $2 + 0; sub(/^ +[0-9]+ +[0-9]+: */, ""); ids[n] = $0; next
    }
    sec == "l" && $0 ~ /^ +[0-9]+: 0x/ {
      id = $1; sub(/:$/, "", id); line = $0; sub(/^ +[0-9]+: 0x[0-9a-f]+ M=[0-9]+ /, "", line); loc[id] = line; next
    }
    sec == "l" && NF > 0 { loc[id] = loc[id] " ; " $0 }
    END {
      for (i = 1; i <= n; i++) {
        k = split(ids[i], parts, " "); key = ""
        for (j = 1; j <= k; j++) key = key " | " loc[parts[j]]
        c[key] += count[i]; d[key] += delay[i]
      }
      for (key in c) printf "%d %d%s\n", c[key], d[key], key
    }' | LC_ALL=C sort
}

fails=0 checks=0
while read -r go dir; do
  mkdir -p "$OUT/$dir"
  for pkg in $PACKAGES; do
    trace=$OUT/$dir/${pkg//\//_}.trace
    if [[ ${KEEP:-} != 1 || ! -s $trace ]]; then
      # A failing test still leaves its trace; only a missing one is skipped.
      (cd "$SCRATCH" && timeout 600 "$go" test -short -count=1 -trace "$trace" "$pkg" > /dev/null 2>&1)
    fi
    [[ -s $trace ]] || { echo "$dir $pkg: no trace written (skipped)"; continue; }
    size=$(stat -c %s "$trace")
    "$ORACLE" tool trace -d=parsed "$trace" > "$SCRATCH/go.txt" 2> /dev/null
    "$GOTV" dump "$trace" > "$SCRATCH/gotv.txt" 2> "$SCRATCH/gotv.err"
    damaged=$?
    checks=$((checks + 1))
    if cmp -s "$SCRATCH/go.txt" "$SCRATCH/gotv.txt"; then
      echo "$dir $pkg ($size bytes): dump same ($(wc -l < "$SCRATCH/go.txt") lines)"
    else
      fails=$((fails + 1))
      echo "$dir $pkg ($size bytes): dump DIFFERS: $(cmp "$SCRATCH/go.txt" "$SCRATCH/gotv.txt" 2>&1 | head -1)"
    fi
    if [[ $damaged != 0 ]]; then
      echo "$dir $pkg: damaged ($(tail -c 120 "$SCRATCH/gotv.err")): profiles and MMU not compared"
      echo "${trace#"$OUT"/}" >> "$SCRATCH/damaged"
      continue
    fi
    for kind in "${KINDS[@]}"; do
      checks=$((checks + 1))
      if ! "$ORACLE" tool trace -pprof="$kind" "$trace" > "$SCRATCH/go.pb" 2> /dev/null; then
        echo "$dir $pkg: go tool trace -pprof=$kind failed (not compared)"
        continue
      fi
      if ! "$GOTV" pprof --kind "$kind" --output "$SCRATCH/gotv.pb" "$trace" 2> /dev/null; then
        fails=$((fails + 1))
        echo "$dir $pkg: pprof $kind FAILED in gotv"
        continue
      fi
      by_frames "$SCRATCH/go.pb" > "$SCRATCH/go.prof"
      by_frames "$SCRATCH/gotv.pb" > "$SCRATCH/gotv.prof"
      if cmp -s "$SCRATCH/go.prof" "$SCRATCH/gotv.prof"; then
        echo "$dir $pkg: pprof $kind same ($(wc -l < "$SCRATCH/go.prof") stacks)"
      else
        fails=$((fails + 1))
        echo "$dir $pkg: pprof $kind DIFFERS ($(diff "$SCRATCH/go.prof" "$SCRATCH/gotv.prof" | grep -c '^[<>]') lines)"
      fi
    done
  done
done < <(toolchains)
# MMU, in one run of Go's harness and one of gotv's test.
touch "$SCRATCH/damaged"
mmu_traces=$(cd "$OUT" && find . -name '*.trace' -size -20M | sed 's|^\./||' | LC_ALL=C sort |
  grep -vxF -f "$SCRATCH/damaged" | paste -sd, -)
if [[ -n $mmu_traces ]]; then
  checks=$((checks + 1))
  if GOTV_GO=$ORACLE GOTV_ORACLE_ROOT=$OUT GOTV_ORACLE_TRACES=$mmu_traces GOTV_ORACLE_OUT=$OUT/mmu-oracle.txt \
    "$ROOT/testdata/analysis/gen-oracle.sh" > "$SCRATCH/oracle.log" 2>&1; then
    n=$(tr ',' '\n' <<< "$mmu_traces" | wc -l)
    if GOTV_ANALYSIS_ORACLE=$OUT/mmu-oracle.txt GOTV_ANALYSIS_TRACES=$OUT \
      cargo test --release -q -p timeline --manifest-path "$ROOT/Cargo.toml" --test analysis -- \
      --exact mmu_matches_go_for_stw_assists_and_sweeps > "$SCRATCH/mmu.log" 2>&1; then
      echo "mmu: same on $n traces ($(grep -c '^mmu ' "$OUT/mmu-oracle.txt") oracle lines, background left out)"
    else
      fails=$((fails + 1))
      echo "mmu DIFFERS: $(grep -m1 -A1 panicked "$SCRATCH/mmu.log" | tail -1)"
    fi
  else
    fails=$((fails + 1))
    echo "mmu: Go's harness failed: $(tail -3 "$SCRATCH/oracle.log")"
  fi
fi
echo "diff-real-traces: $checks checks, $fails differ (traces in $OUT)"
[[ $fails -eq 0 ]]
