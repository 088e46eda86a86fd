#!/bin/sh
# Regenerates testdata/analysis/oracle.txt: MMU values, blocking profiles and
# task and region summaries computed by Go's own code (internal/trace's
# MutatorUtilizationV2/MMUCurve and Summarizer, cmd/trace's pprof functions) for committed traces, the expected values of
# crates/timeline/tests/analysis.rs.
#
#   testdata/analysis/gen-oracle.sh            # uses /opt/go/v1.27.3/bin/go
#   GOTV_GO=/path/to/go testdata/analysis/gen-oracle.sh
#
# For other traces (scripts/diff-real-traces.sh uses this), set all of:
#   GOTV_ORACLE_ROOT    directory the trace names are relative to
#   GOTV_ORACLE_TRACES  comma-separated traces: profiles and MMU are printed
#   GOTV_ORACLE_OUT     file to write instead of oracle.txt
# (no task or region lines then).
#
# GOROOT is never modified: it is copied to a scratch directory, this
# directory's gotv_oracle_test.go is added to the copy's src/cmd/trace and run
# there with `go test` (GOTOOLCHAIN=local, no network).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
go=${GOTV_GO:-/opt/go/v1.27.3/bin/go}
goroot=$(GOTOOLCHAIN=local "$go" env GOROOT)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r "$goroot" "$scratch/goroot"
chmod -R u+w "$scratch/goroot"
cp "$here/gotv_oracle_test.go" "$scratch/goroot/src/cmd/trace/"
traces=""
for v in go1.21 go1.22 go1.25 go1.27; do
  for p in chan sync syscalls net gc gomaxprocs; do
    traces="$traces,$v/$p.trace"
  done
done
mmu=""
for v in go1.21 go1.22 go1.25 go1.27; do
  for p in gc gomaxprocs chan; do
    mmu="$mmu,$v/$p.trace"
  done
done
tasks=""
for v in go1.21 go1.22 go1.25 go1.27; do
  for p in annotations multigen; do
    tasks="$tasks,$v/$p.trace"
  done
done
# Regions of one type begun in several places (a Go 1.27 program only).
tasks="$tasks,go1.27/regionsites.trace"
root="$here/../traces"
out="$here/oracle.txt"
if [ -n "${GOTV_ORACLE_TRACES:-}" ]; then
  root=$GOTV_ORACLE_ROOT
  traces=",$GOTV_ORACLE_TRACES"
  mmu=$traces
  tasks=""
  out=$GOTV_ORACLE_OUT
fi
cd "$scratch/goroot/src/cmd/trace"
GOTOOLCHAIN=local GOROOT="$scratch/goroot" GOFLAGS=-mod=vendor GOPROXY=off \
  "$scratch/goroot/bin/go" test -count=1 -run '^TestGotvOracle$' . -args \
  -gotv.root="$root" -gotv.traces="${traces#,}" -gotv.mmu="${mmu#,}" -gotv.tasks="${tasks#,}" \
  -gotv.out="$out" ${GOTV_UTILDIR:+-gotv.utildir="$GOTV_UTILDIR"}
echo "wrote $out ($(wc -l < "$out") lines)"
