#!/usr/bin/env bash
# CPU cost of the live looper: `samspill headless` as a user starts it (the default
# SoundFont, OSC on, default loop memory) on its own JACK dummy server (48 kHz, 64 frames
# a period) with 4 stereo loops playing for 20 s, as a share of one core, read from
# /proc/PID/stat (utime + stime) before and after. Beside it, in the same run: a stripped
# Samspill (--soundfont none --no-osc), the feeding jack_metro (a trivial JACK client)
# and jackd, and the private memory of each. The target is at most half of what
# SooperLooper needs for the same work.
#
# If `sooperlooper` is installed (Debian: `apt-get install sooperlooper`), it is measured
# the same way on its own fresh server and both figures are printed.
#
# Usage: benches/headless_cpu.sh [SECONDS]   (default 20)
# Needs: jackd (jackd2) with jack_metro, jack_connect, jack_lsp, jack_wait; cargo.
# Python 3 only for sending SooperLooper its OSC.
set -euo pipefail

SECS="${1:-20}"
RATE=48000
PERIOD=64
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release/samspill"
WORK="$(mktemp -d -t samspill-bench.XXXXXX)"
HZ="$(getconf CLK_TCK)"
export JACK_NO_AUDIO_RESERVATION=1

JACKD_PID=""
APP_PID=""
METRO_PID=""
SERVER=""

die() {
    echo "headless_cpu: $*" >&2
    exit 1
}

stop_pid() {
    local pid="$1"
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# Stops what this script started, in order: the program, the feeder, the server.
stop_all() {
    exec 3>&- || true
    stop_pid "$APP_PID"
    stop_pid "$METRO_PID"
    stop_pid "$JACKD_PID"
    wait 2>/dev/null || true
    if [ -n "$SERVER" ]; then
        # Semaphores a killed client may leave behind.
        rm -f /dev/shm/*_"${SERVER}"_* 2>/dev/null || true
    fi
    APP_PID="" METRO_PID="" JACKD_PID="" SERVER=""
}
trap 'stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

for tool in jackd jack_metro jack_connect jack_lsp jack_wait; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install jackd2)"
done

# utime + stime of a process in clock ticks.
cpu_ticks() {
    local stat
    stat="$(cat "/proc/$1/stat")" || die "process $1 is gone"
    # Fields after the command name (which may hold spaces): state is field 3, utime 14.
    set -- ${stat##*) }
    echo $(("${12}" + "${13}"))
}

now() { date +%s.%N; }

# Private resident memory of a process, in MB (without the ~100 MB of JACK's shared
# segments every JACK client maps, and without the mapped program files).
rss_mb() { awk '/^RssAnon:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# Share of one core: ticks over wall seconds.
share() { awk -v t="$1" -v hz="$HZ" -v s="$2" 'BEGIN { printf "%.2f", 100 * t / hz / s }'; }

# Starts a private dummy server named $1.
start_jackd() {
    SERVER="$1"
    export JACK_DEFAULT_SERVER="$SERVER"
    jackd -n "$SERVER" -r -d dummy -r "$RATE" -p "$PERIOD" >"$WORK/jackd-$SERVER.log" 2>&1 &
    JACKD_PID=$!
    jack_wait -s "$SERVER" -w -t 10 >/dev/null 2>&1 || {
        cat "$WORK/jackd-$SERVER.log" >&2
        die "jackd did not start"
    }
    # Something to loop: a metronome (a 50 ms tone twice a second), into both inputs.
    jack_metro -n metro -b 120 -f 440 -D 50 >"$WORK/metro.log" 2>&1 &
    METRO_PID=$!
    for _ in $(seq 50); do
        METRO_PORT="$(jack_lsp 2>/dev/null | grep '^metro:' | head -n1 || true)"
        [ -n "$METRO_PORT" ] && break
        sleep 0.1
    done
    [ -n "$METRO_PORT" ] || die "jack_metro did not start"
}

wait_port() {
    for _ in $(seq 100); do
        jack_lsp 2>/dev/null | grep -qx "$1" && return 0
        sleep 0.1
    done
    die "the port $1 did not appear"
}

# Measures $APP_PID and $JACKD_PID for $SECS seconds; prints "app_share jackd_share".
measure() {
    local a0 j0 t0 a1 j1 t1 wall
    a0="$(cpu_ticks "$APP_PID")"
    j0="$(cpu_ticks "$JACKD_PID")"
    t0="$(now)"
    sleep "$SECS"
    a1="$(cpu_ticks "$APP_PID")"
    j1="$(cpu_ticks "$JACKD_PID")"
    t1="$(now)"
    wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    echo "$(share $((a1 - a0)) "$wall") $(share $((j1 - j0)) "$wall")"
}

# ---- Samspill --------------------------------------------------------------------
echo "building the release binary..." >&2
(cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
[ -x "$BIN" ] || die "no binary at $BIN"

# Measures samspill started with "$@" on a fresh server; sets RESULT="app jackd metro".
run_samspill() {
    start_jackd "samspill-bench-$$"
    rm -f "$WORK/in"
    mkfifo "$WORK/in"
    SAMSPILL_DATA_DIR="$WORK/data" "$BIN" headless --host jack --jack-name samspill "$@" \
        <"$WORK/in" >"$WORK/samspill.out" 2>&1 &
    APP_PID=$!
    exec 3>"$WORK/in"
    wait_port samspill:in_2
    jack_connect "$METRO_PORT" samspill:in_1
    jack_connect "$METRO_PORT" samspill:in_2

    # The looper's memory is built in the background; wait until it answers.
    for _ in $(seq 150); do
        echo loops >&3
        sleep 0.2
        grep -aq '^loop 4: ' "$WORK/samspill.out" && break
    done
    grep -aq '^loop 4: ' "$WORK/samspill.out" || die "the looper did not get ready: $(cat "$WORK/samspill.out")"

    # Four stereo loops of 2 s, recorded together.
    echo "loop all record" >&3
    sleep 2
    echo "loop all record" >&3
    sleep 0.5
    : >"$WORK/samspill.out"
    echo loops >&3
    sleep 0.5
    playing="$(grep -ac 'state=4 ' "$WORK/samspill.out" || true)"
    [ "$playing" = 4 ] || die "not 4 loops playing: $(cat "$WORK/samspill.out")"
    # The SoundFont (if any) has had time to load and its tail to die away.
    sleep 2

    local app jackd metro m0 m1
    m0="$(cpu_ticks "$METRO_PID")"
    read -r app jackd <<<"$(measure)"
    m1="$(cpu_ticks "$METRO_PID")"
    metro="$(share $((m1 - m0)) "$SECS")"
    local rss
    rss="$(rss_mb "$APP_PID")"
    echo "samspill $* $(echo status >&3; sleep 0.3; grep -ao 'xruns=[0-9]*' "$WORK/samspill.out" | tail -n1) (whole run)" >&2
    echo "quit" >&3
    exec 3>&-
    wait "$APP_PID" 2>/dev/null || true
    APP_PID=""
    stop_all
    RESULT="$app $jackd $metro $rss"
}

# As a user starts it: the default SoundFont, OSC on, the default loop memory.
run_samspill
read -r ss_app ss_jackd metro_share ss_rss <<<"$RESULT"
# Stripped: the built-in synth and no OSC, reported beside the default, never instead.
run_samspill --soundfont none --no-osc
read -r ss_bare _ _ bare_rss <<<"$RESULT"

echo "samspill (default setup): $ss_app % of one core for 4 stereo loops at $((RATE / 1000)) kHz / $PERIOD frames; private memory $ss_rss MB (stripped: $bare_rss MB)"
echo "samspill (--soundfont none --no-osc): $ss_bare % of one core"
echo "jack_metro (a trivial JACK client, same run): $metro_share % of one core"
echo "jackd (with samspill): $ss_jackd % of one core"
awk -v a="$ss_app" -v m="$metro_share" 'BEGIN {
    if (m > 0) printf "samspill needs %.1fx what a trivial client needs (aim: within 1.5x)\n", a / m
}'

# ---- SooperLooper, the same work -------------------------------------------------
if ! command -v sooperlooper >/dev/null; then
    echo "sooperlooper: not installed here (apt-get install sooperlooper), not measured"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "sooperlooper: installed, but python3 (to send its OSC) is missing; not measured"
    exit 0
fi

osc() {
    # osc PORT ADDRESS STRING-ARG...
    python3 - "$@" <<'PY'
import socket, sys
def pad(b):
    return b + b"\0" * (4 - len(b) % 4)
port, addr, *args = sys.argv[1:]
msg = pad(addr.encode()) + pad(("," + "s" * len(args)).encode())
for a in args:
    msg += pad(a.encode())
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(msg, ("127.0.0.1", int(port)))
PY
}

SL_PORT="$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# SooperLooper opens ALSA's MIDI sequencer and, without /dev/snd/seq (a machine with no
# sound card, a container), asserts in libasound and dies. This shim gives its MIDI
# thread nothing to read and lets it sleep; the audio work is untouched.
SL_PRELOAD=""
if [ ! -e /dev/snd/seq ]; then
    command -v cc >/dev/null || {
        echo "sooperlooper: needs /dev/snd/seq or a C compiler for a shim; not measured"
        exit 0
    }
    cat >"$WORK/noseq.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>
struct pollfd;
typedef struct _snd_seq snd_seq_t;
typedef struct snd_seq_event snd_seq_event_t;
int snd_seq_poll_descriptors_count(snd_seq_t *seq, short events) {
    int (*real)(snd_seq_t *, short) = dlsym(RTLD_NEXT, "snd_seq_poll_descriptors_count");
    return seq ? real(seq, events) : 0;
}
int snd_seq_poll_descriptors(snd_seq_t *seq, struct pollfd *p, unsigned int n, short ev) {
    int (*real)(snd_seq_t *, struct pollfd *, unsigned int, short) =
        dlsym(RTLD_NEXT, "snd_seq_poll_descriptors");
    return seq ? real(seq, p, n, ev) : 0;
}
int snd_seq_event_input(snd_seq_t *seq, snd_seq_event_t **ev) {
    int (*real)(snd_seq_t *, snd_seq_event_t **) = dlsym(RTLD_NEXT, "snd_seq_event_input");
    if (!seq)
        for (;;)
            pause();
    return real(seq, ev);
}
C
    cc -shared -fPIC -O2 -o "$WORK/noseq.so" "$WORK/noseq.c" -ldl || die "could not build the shim"
    SL_PRELOAD="$WORK/noseq.so"
fi

start_jackd "samspill-bench-sl-$$"
LD_PRELOAD="$SL_PRELOAD" sooperlooper -l 4 -c 2 -t 10 -j sooperlooper -p "$SL_PORT" \
    >"$WORK/sl.out" 2>&1 &
APP_PID=$!
wait_port sooperlooper:common_in_2
jack_connect "$METRO_PORT" sooperlooper:common_in_1
jack_connect "$METRO_PORT" sooperlooper:common_in_2
sleep 1
osc "$SL_PORT" /sl/-1/hit record
sleep 2
osc "$SL_PORT" /sl/-1/hit record
sleep 0.5
sl_states="$(python3 - "$SL_PORT" <<'PY'
import socket, sys
def pad(b):
    return b + b"\0" * (4 - len(b) % 4)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(1.0)
url = "osc.udp://127.0.0.1:%d/" % s.getsockname()[1]
import struct
states = []
for i in range(4):
    addr = ("/sl/%d/get" % i).encode()
    msg = pad(addr) + pad(b",sss") + pad(b"state") + pad(url.encode()) + pad(b"/st")
    s.sendto(msg, ("127.0.0.1", int(sys.argv[1])))
    try:
        data = s.recv(1024)
        # /st ,isf: loop, "state", value (a big-endian float at the end)
        states.append(str(int(struct.unpack(">f", data[-4:])[0])))
    except OSError:
        states.append("?")
print(" ".join(states))
PY
)"
[ "$sl_states" = "4 4 4 4" ] || die "sooperlooper's loops are not all playing (states: $sl_states)"
read -r sl_app sl_jackd <<<"$(measure)"
sl_rss="$(rss_mb "$APP_PID")"
echo "sooperlooper xruns=$(grep -ac 'got xrun' "$WORK/sl.out" || true) (whole run)" >&2
stop_all

echo "sooperlooper: $sl_app % of one core for 4 stereo loops at $((RATE / 1000)) kHz / $PERIOD frames; private memory $sl_rss MB"
echo "jackd (with sooperlooper): $sl_jackd % of one core"
awk -v a="$ss_app" -v c="$ss_bare" -v b="$sl_app" 'BEGIN {
    if (b > 0) printf "samspill (default setup) needs %.0f %% of what sooperlooper needs (target: at most 50 %%); stripped: %.0f %%\n", 100 * a / b, 100 * c / b
}'
