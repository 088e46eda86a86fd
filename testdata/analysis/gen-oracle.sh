#!/bin/sh
# Regenerates testdata/analysis/oracle.txt: MMU values, blocking profiles and
# task and region summaries computed by Go's own code (internal/trace's
# MutatorUtilizationV2/MMUCurve and Summarizer, cmd/trace's pprof functions) for committed traces, the expected values of
# crates/timeline/tests/analysis.rs.
#
#   testdata/analysis/gen-oracle.sh            # uses /opt/go/v1.27.3/bin/go
#   GOTV_GO=/path/to/go testdata/analysis/gen-oracle.sh
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
cd "$scratch/goroot/src/cmd/trace"
GOTOOLCHAIN=local GOROOT="$scratch/goroot" GOFLAGS=-mod=vendor GOPROXY=off \
  "$scratch/goroot/bin/go" test -count=1 -run '^TestGotvOracle$' . -args \
  -gotv.root="$here/../traces" -gotv.traces="${traces#,}" -gotv.mmu="${mmu#,}" -gotv.tasks="${tasks#,}" \
  -gotv.out="$here/oracle.txt" ${GOTV_UTILDIR:+-gotv.utildir="$GOTV_UTILDIR"}
echo "wrote $here/oracle.txt ($(wc -l < "$here/oracle.txt") lines)"
