#!/usr/bin/env bash
# CPU of the panel left open and idle, drawn with software GL (Mesa's llvmpipe, as on
# Xvfb and on laptops without a GPU driver): the release `samspill` in a window on a
# private Xvfb display, no sound card (host none), nothing playing. Measured as a share
# of one core from /proc (utime + stime) over SECONDS after it has settled. The target is
# at most 3 %.
#
# Usage: benches/panel_idle_cpu.sh [SECONDS]   (default 20)
# Needs: Xvfb (xvfb), the GL packages .ci/install brings; cargo.
set -euo pipefail

SECS="${1:-20}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/samspill"
WORK="$(mktemp -d -t samspill-panel-bench.XXXXXX)"
HZ="$(getconf CLK_TCK)"
XVFB_PID=""
APP_PID=""
cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v Xvfb >/dev/null || { echo "panel_idle_cpu: Xvfb is missing (apt-get install xvfb)" >&2; exit 1; }
echo "building the release binary..." >&2
(cd "$ROOT" && cargo build --release --quiet)

# A display number nobody uses.
for n in $(seq 90 120); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { DISP=":$n"; break; }
done
Xvfb "$DISP" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
sleep 1

mkdir -p "$WORK/data"
printf '[audio]\nhost = "none"\n' >"$WORK/data/settings.toml"
DISPLAY="$DISP" LIBGL_ALWAYS_SOFTWARE=1 SAMSPILL_DATA_DIR="$WORK/data" \
    "$BIN" >"$WORK/app.log" 2>&1 &
APP_PID=$!
# The window opens, the looper's memory is built, the meters fall to silence.
sleep 8
kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log" >&2; echo "panel_idle_cpu: the panel did not start" >&2; exit 1; }

ticks() { set -- $(sed 's/.*) //' "/proc/$1/stat"); echo $(("${12}" + "${13}")); }
measure() {
    local a0 a1 t0 t1
    a0="$(ticks "$APP_PID")"; t0="$(date +%s.%N)"
    sleep "$SECS"
    a1="$(ticks "$APP_PID")"; t1="$(date +%s.%N)"
    awk -v t=$((a1 - a0)) -v hz="$HZ" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", 100 * t / hz / (b - a) }'
}

idle="$(measure)"
echo "panel open and idle (software GL): $idle % of one core (target: at most 3 %)"
