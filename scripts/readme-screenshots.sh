#!/usr/bin/env bash
# Regenerates the README's screenshots (assets/*.png) from committed traces,
# in the real window under Xvfb (scripts/screenshot.sh).
#
#   scripts/readme-screenshots.sh            # all of them
#   scripts/readme-screenshots.sh gaps mmu   # only assets/panel-gaps.png, assets/panel-mmu.png
#
# Each shot gets its own settings (open panel, window size) in a temporary
# config dir. Needs what screenshot.sh needs, and xdotool (Debian: xdotool)
# for the time selection's Shift+drag and to move the pointer off the
# window. Builds gotv (release) unless GOTV_BIN is set.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T=$REPO/testdata/traces/go1.27
# The window fills the virtual screen.
W=1600
H=1000
command -v xdotool >/dev/null 2>&1 || {
  echo "$0: xdotool not found; install it with: apt-get install -y xdotool" >&2
  exit 1
}
if [[ -z ${GOTV_BIN:-} ]]; then
  (cd "$REPO" && cargo build --release -p gotv --quiet)
  GOTV_BIN=$REPO/target/release/gotv
fi
export GOTV_BIN

# shot NAME TRACE VIEW [GOTV_ARGS] [BEFORE_CAPTURE]: VIEW is the body of
# the view settings (RON fields of TraceViewState).
shot() {
  local name=$1 trace=$2 view=$3 args=${4:-} before=${5:-}
  local dir
  dir=$(mktemp -d)
  printf '(window_size: Some((%s.0, %s.0)), view: (%s))\n' "$W" "$H" "$view" >"$dir/settings.ron"
  # Twice if need be: xvfb-run -a now and then hands out a display whose
  # server is not up yet, and the window cannot connect.
  local try
  for try in 1 2; do
    if GOTV_CONFIG_DIR=$dir SCREEN_SIZE=${W}x${H}x24 SETTLE_SECS=3 GOTV_ARGS=$args BEFORE_CAPTURE=$before \
      "$REPO/scripts/screenshot.sh" "$trace" "$REPO/assets/$name.png"; then
      break
    fi
    [[ $try == 2 ]] && { rm -rf "$dir"; return 1; }
  done
  rm -rf "$dir"
}

# Shift+drag across the goroutine rows, from x=$1 to x=$2 (window pixels),
# with pauses so that the window sees each step in a frame of its own.
select_range() {
  local p="sleep 0.3"
  echo "xdotool search --name gotv windowfocus --sync $p mousemove $1 450 $p keydown shift $p mousedown 1 $p mousemove $(($1 + 40)) 450 $p" \
    "mousemove $2 450 $p mouseup 1 $p keyup shift"
}

want() {
  [[ $# -eq 0 ]] && return 0
  local w
  for w in "${WANTED[@]}"; do [[ $w == "$1" ]] && return 0; done
  return 1
}
WANTED=("$@")

want main && shot screenshot "$T/chan.trace" "" "--goroutine 21 --at 30ms"
want goroutines && shot panel-goroutines "$T/gc.trace" "panels: (tab: Goroutines)"
want grouped && shot panel-goroutines-grouped "$T/manyg.trace" "panels: (tab: Goroutines, goroutines: (grouped: true))"
want gaps && shot panel-gaps "$T/gc.trace" "panels: (tab: Gaps)"
want flame && shot panel-flame "$T/cpuprof.trace" "panels: (tab: Flame)"
want mmu && shot panel-mmu "$T/gc.trace" "panels: (tab: Mmu)"
want selection && shot panel-selection "$T/gc.trace" "panels: (tab: Selection)" "" "$(select_range 430 1100)"
want tasks && shot panel-tasks "$T/annotations.trace" \
  'panels: (tab: Tasks, tasks: (chosen: Some((region: true, name: "inner"))))'
echo "done"
