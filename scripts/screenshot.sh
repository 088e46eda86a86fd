#!/usr/bin/env bash
# Screenshot of the gotv window under a virtual X server.
#
#   scripts/screenshot.sh TRACE OUT.png     # gotv with TRACE loaded
#   scripts/screenshot.sh - OUT.png         # the start page
#
# Needs xvfb-run (Debian: xvfb) and ImageMagick's `import` (Debian:
# imagemagick); builds gotv (release) if GOTV_BIN is not set. Settings go to
# a temporary config dir, so the real ones are neither read nor changed.
# With xdotool (Debian: xdotool) the pointer is moved off the window first,
# so no tooltip shows where Xvfb's pointer starts (mid-screen); with
# xwininfo (x11-utils) only the gotv window is captured, not the screen.
#
# Environment:
#   GOTV_BIN        gotv binary to run (default: target/release/gotv, built)
#   SCREEN_SIZE     virtual screen, WxHxDEPTH (default 1600x1000x24)
#   WAIT_SECS       most seconds to wait for the window (default 20)
#   SETTLE_SECS     seconds to let it render after it appears (default 3)
#   GOTV_CONFIG_DIR config dir to use instead of a fresh temporary one
#   GOTV_ARGS       extra gotv arguments, e.g. "--goroutine 21 --at 30ms"
#                   (opens with that goroutine's span at that time selected)
#   BEFORE_CAPTURE  shell command run once the window is up, before the
#                   settle time (DISPLAY set), e.g. xdotool input
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 TRACE|- OUT.png" >&2
  exit 2
fi
TRACE=$1
OUT=$2
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCREEN_SIZE=${SCREEN_SIZE:-1600x1000x24}
WAIT_SECS=${WAIT_SECS:-20}
SETTLE_SECS=${SETTLE_SECS:-3}

for tool in xvfb-run import; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$0: $tool not found; install it with: apt-get install -y xvfb imagemagick x11-utils" >&2
    exit 1
  fi
done

if [[ -z ${GOTV_BIN:-} ]]; then
  (cd "$REPO" && cargo build --release -p gotv --quiet)
  GOTV_BIN=$REPO/target/release/gotv
fi

ARGS=()
if [[ -n ${GOTV_ARGS:-} ]]; then
  read -r -a ARGS <<<"$GOTV_ARGS"
fi
if [[ $TRACE != - ]]; then
  [[ -e $TRACE ]] || { echo "$0: no such file: $TRACE" >&2; exit 1; }
  ARGS+=("$(cd "$(dirname "$TRACE")" && pwd)/$(basename "$TRACE")")
fi
OUT_ABS=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export GOTV_CONFIG_DIR=${GOTV_CONFIG_DIR:-$TMP/config}

# Runs inside the X server: start gotv, wait for its window, capture, stop.
cat >"$TMP/inner.sh" <<'EOF'
set -u
# xvfb-run may start us before the server accepts connections (seen now
# and then): wait until it answers.
if command -v xwininfo >/dev/null 2>&1; then
  for _ in $(seq 50); do
    xwininfo -root >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
"$GOTV_BIN" "$@" >"$TMP/gotv.log" 2>&1 &
pid=$!
found=
for _ in $(seq $((WAIT_SECS * 4))); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "gotv exited early:" >&2
    cat "$TMP/gotv.log" >&2
    exit 1
  fi
  # The window exists once it has a name (xwininfo, from x11-utils, if present).
  if ! command -v xwininfo >/dev/null 2>&1 || xwininfo -root -tree 2>/dev/null | grep -q '"[^"]*gotv"'; then
    found=1
    break
  fi
  sleep 0.25
done
[[ -n $found ]] || echo "warning: no gotv window seen after ${WAIT_SECS}s; capturing anyway" >&2
sleep 1
if [[ -n ${BEFORE_CAPTURE:-} ]]; then
  bash -c "$BEFORE_CAPTURE" || echo "warning: BEFORE_CAPTURE failed" >&2
fi
# The pointer starts mid-screen, over the window: park it in the screen's
# far corner, past the window (SETTLE_SECS lets the window repaint).
if command -v xdotool >/dev/null 2>&1; then
  IFS=x read -r screen_w screen_h _ <<<"$SCREEN_SIZE"
  xdotool mousemove $((screen_w - 1)) $((screen_h - 1)) 2>/dev/null || true
fi
sleep "$SETTLE_SECS"
win=root
if command -v xwininfo >/dev/null 2>&1; then
  id=$(xwininfo -root -tree 2>/dev/null | grep '"[^"]*gotv"' | grep -o '0x[0-9a-f]*' | head -n 1)
  [[ -n $id ]] && win=$id
fi
import -window "$win" "$OUT_ABS"
status=$?
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit $status
EOF

export GOTV_BIN TMP OUT_ABS WAIT_SECS SETTLE_SECS SCREEN_SIZE BEFORE_CAPTURE=${BEFORE_CAPTURE:-}
# Software OpenGL: Xvfb has no GPU.
export LIBGL_ALWAYS_SOFTWARE=1
xvfb-run -a -s "-screen 0 $SCREEN_SIZE" bash "$TMP/inner.sh" ${ARGS[@]+"${ARGS[@]}"}
echo "wrote $OUT"
if [[ -s $TMP/gotv.log ]]; then
  echo "gotv said:" >&2
  cat "$TMP/gotv.log" >&2
fi
