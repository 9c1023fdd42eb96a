# test/e2e/lib.sh: helpers of the end-to-end harness (sourced by run.sh).
#
# The harness owns a private pcscd (started with its own reader configuration,
# never through systemd), one vpcd reader with two slots on a non-default
# CHANNELID, and mnap-vcard processes on those slots.  Every process it starts
# is recorded by PID and stopped by PID; every wait is bounded.  Logs of pcscd
# and of each mnap-vcard stay in $E2E_TMP and are printed when a test fails.
#
# Variables set here: E2E_TMP, E2E_PORT (slot 0; slot 1 is +1), READER0,
# READER1, PCSCD_PID, VCARD_PID (slot 0), VCARD1_PID (slot 1), IMG (slot 0's
# image), and the tools' paths.

E2E_NAME="mnap-e2e"
READER0="$E2E_NAME 00 00"
READER1="$E2E_NAME 00 01"
PCSCD_PID=
VCARD_PID=
VCARD1_PID=
E2E_PIDS=

log() { printf '%s\n' "$*" >&2; }
die() { log "e2e: $*"; exit 1; }

# Test failure: prints the reason; the test function returns 1 after it.
fail() { log "    FAIL: $*"; return 1; }

# --- process bookkeeping ------------------------------------------------------

track_pid() { E2E_PIDS="$E2E_PIDS $1"; }
untrack_pid() {
    local p out=
    for p in $E2E_PIDS; do [ "$p" = "$1" ] || out="$out $p"; done
    E2E_PIDS=$out
}

# stop_pid PID [SIGNAL]: sends SIGNAL (TERM) to PID, waits up to 5 s, then KILL.
stop_pid() {
    local pid=$1 sig=${2:-TERM} i
    [ -n "$pid" ] || return 0
    # Forget the job first: the shell still reaps it, but prints no
    # "Killed" notice into the test output.
    disown "$pid" 2>/dev/null
    if kill -0 "$pid" 2>/dev/null; then
        kill -"$sig" "$pid" 2>/dev/null
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "e2e: pid $pid ignored SIG$sig for 5 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    untrack_pid "$pid"
    return 0
}

# Stops everything the harness started, by PID: vcards first, pcscd last.
e2e_cleanup() {
    local p
    for p in $E2E_PIDS; do
        [ "$p" = "$PCSCD_PID" ] || stop_pid "$p"
    done
    stop_pid "$PCSCD_PID"
    PCSCD_PID=
}

# --- preflight ----------------------------------------------------------------

VPCD_DRIVER=${VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}

e2e_preflight() {
    local t missing=
    for t in pcscd opensc-tool scriptor pcsc_scan timeout; do
        command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
    done
    [ -z "$missing" ] || die "missing programs:$missing (run 'make deps': pcscd opensc pcsc-tools)"
    [ -r "$VPCD_DRIVER" ] || die "no vpcd driver at $VPCD_DRIVER (Debian package vsmartcard-vpcd; 'make deps')"
    [ -x "$VCARD" ] || die "$VCARD not built (make BUILD=$BUILD tools)"
    [ -x "$E2E_PCSC" ] || die "$E2E_PCSC not built (make BUILD=$BUILD test-e2e builds it)"
    [ "$(id -u)" = 0 ] || die "pcscd needs root here (its socket is /run/pcscd/pcscd.comm): run as root"
    # pcscd's socket path is fixed: a second daemon cannot run beside another one.
    local p
    for p in /proc/[0-9]*; do
        if [ "$(cat "$p/comm" 2>/dev/null)" = pcscd ]; then
            die "another pcscd is running (pid ${p#/proc/}); the harness needs its own pcscd on /run/pcscd/pcscd.comm. Stop it first (e.g. 'systemctl stop pcscd.socket pcscd' or kill ${p#/proc/})."
        fi
    done
    if [ -S /run/pcscd/pcscd.comm ] && [ ! -e /run/pcscd/pcscd.pid ]; then
        die "/run/pcscd/pcscd.comm exists without a pcscd process (systemd's pcscd.socket?). Stop it ('systemctl stop pcscd.socket') or remove the stale socket."
    fi
}

# --- ports --------------------------------------------------------------------

# port_in_use PORT: true when a TCP socket listens on PORT (any address).
port_in_use() {
    local hex f
    hex=$(printf '%04X' "$1")
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        # column 2 is local address:port, column 4 the state (0A = LISTEN)
        awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { found = 1 } END { exit !found }' "$f" && return 0
    done
    return 1
}

# Picks a free pair of ports for the two slots, away from Debian's 0x8C7B.
e2e_pick_port() {
    local base=${MNAP_E2E_PORT:-40510} i p
    for i in $(seq 0 2 40); do
        p=$((base + i))
        if ! port_in_use "$p" && ! port_in_use $((p + 1)); then
            E2E_PORT=$p
            return 0
        fi
    done
    die "no free TCP port pair for vpcd from $base to $((base + 41))"
}

# --- pcscd --------------------------------------------------------------------

# Writes the reader configuration: one vpcd reader (two slots: E2E_PORT and
# E2E_PORT+1), in server mode ("/dev/null:PORT", vpcd listens and the card
# connects; vpcd's reverse mode crashes Debian's pcscd, see ARCHITECTURE.md).
e2e_write_conf() {
    mkdir -p "$E2E_TMP/reader.conf.d"
    cat > "$E2E_TMP/reader.conf.d/vpcd" <<EOF
# written by test/e2e/run.sh
FRIENDLYNAME "$E2E_NAME"
DEVICENAME   /dev/null:$(printf '0x%04X' "$E2E_PORT")
LIBPATH      $VPCD_DRIVER
CHANNELID    $(printf '0x%04X' "$E2E_PORT")
EOF
}

start_pcscd() {
    [ -z "$PCSCD_PID" ] || die "start_pcscd: pcscd already started (pid $PCSCD_PID)"
    echo "=== pcscd start $(date +%T.%N)" >> "$E2E_TMP/pcscd.log"
    pcscd --foreground --info -c "$E2E_TMP/reader.conf.d" >> "$E2E_TMP/pcscd.log" 2>&1 &
    PCSCD_PID=$!
    track_pid "$PCSCD_PID"
    # Ready when the daemon answers and lists our reader, and vpcd listens.
    local i
    for i in $(seq 100); do
        kill -0 "$PCSCD_PID" 2>/dev/null || { tail -20 "$E2E_TMP/pcscd.log" >&2; die "pcscd exited at start (log above)"; }
        if "$E2E_PCSC" list 2>/dev/null | grep -qx "$READER0" && port_in_use "$E2E_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    tail -20 "$E2E_TMP/pcscd.log" >&2
    die "pcscd did not list reader '$READER0' within 10 s"
}

stop_pcscd() {
    stop_pid "$PCSCD_PID"
    PCSCD_PID=
    # pcscd removes its socket on exit; wait for it so a restart does not
    # find "another pcscd".
    local i
    for i in $(seq 50); do
        [ -e /run/pcscd/pcscd.comm ] || return 0
        sleep 0.1
    done
    log "e2e: /run/pcscd/pcscd.comm still there after pcscd stopped"
}

# --- mnap-vcard ---------------------------------------------------------------

# start_vcard SLOT IMAGE [ARGS...]: starts mnap-vcard on slot 0 or 1; with
# --new in ARGS it fabricates the image.  Sets VCARD_PID or VCARD1_PID.  The
# card is served over E2E_TRANSPORT (t1, t0 or contactless: the suite's
# transport, run.sh) unless ARGS name one.
E2E_TRANSPORT=t1
start_vcard() {
    local slot=$1 image=$2 pid tr
    shift 2
    tr="--transport $E2E_TRANSPORT"
    case " $* " in *" --transport "*) tr= ;; esac
    echo "=== mnap-vcard start $(date +%T.%N): $tr $*" >> "$E2E_TMP/vcard$slot.log"
    # shellcheck disable=SC2086  # $tr is empty or two words
    "$VCARD" --image "$image" --connect "127.0.0.1:$((E2E_PORT + slot))" -vv $tr "$@" \
        >> "$E2E_TMP/vcard$slot.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    if [ "$slot" = 0 ]; then VCARD_PID=$pid; else VCARD1_PID=$pid; fi
}

# stop_vcard SLOT [SIGNAL]: stops the slot's vcard and waits until pcscd has
# seen the card leave (vpcd notices at its next presence poll, ~0.4 s), so
# that a card started next is not mistaken for the old one.
stop_vcard() {
    local pid
    if [ "$1" = 0 ]; then pid=$VCARD_PID; VCARD_PID=; else pid=$VCARD1_PID; VCARD1_PID=; fi
    [ -n "$pid" ] || return 0
    stop_pid "$pid" "${2:-TERM}"
    if [ -n "$PCSCD_PID" ]; then
        wait_card "$1" absent 5000 || log "e2e: slot $1 still shows a card 5 s after its vcard stopped"
    fi
    return 0
}

# vcard_wait_exit SLOT TIMEOUT_S: waits for the slot's vcard to exit by itself
# and sets VCARD_STATUS to its exit status, or "running" on timeout.  (Not to
# be called in $(...): only this shell can wait for its children.)
VCARD_STATUS=
vcard_wait_exit() {
    local pid i
    if [ "$1" = 0 ]; then pid=$VCARD_PID; else pid=$VCARD1_PID; fi
    for i in $(seq $(($2 * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then VCARD_STATUS=running; return; fi
    wait "$pid"; VCARD_STATUS=$?
    untrack_pid "$pid"
    if [ "$1" = 0 ]; then VCARD_PID=; else VCARD1_PID=; fi
    if [ -n "$PCSCD_PID" ]; then
        wait_card "$1" absent 5000 || log "e2e: slot $1 still shows a card 5 s after its vcard exited"
    fi
}

reader_of() { if [ "$1" = 0 ]; then echo "$READER0"; else echo "$READER1"; fi; }

# wait_card SLOT present|absent [TIMEOUT_MS]
wait_card() {
    "$E2E_PCSC" wait "$(reader_of "$1")" "$2" "${3:-10000}"
}

# fresh_card SLOT [ARGS...]: a new blank card on the slot, in the reader.
fresh_card() {
    local slot=$1
    shift
    stop_vcard "$slot"
    local img="$E2E_TMP/card$slot.img"
    rm -f "$img"
    start_vcard "$slot" "$img" --new --serial "00000000000E2E0$slot" "$@"
    [ "$slot" = 0 ] && IMG=$img
    wait_card "$slot" present 10000 || fail "slot $slot: card not in the reader after 10 s"
}

# --- the host library client (test/e2e/e2e_host.c) ----------------------------

# The end-to-end client of the host library; tests that need it skip (77)
# with a reason when it was not built.
need_host() {
    if [ ! -x "$E2E_HOST" ]; then
        SKIP_REASON="$E2E_HOST not built (host library not linkable yet)"
        return 1
    fi
}

# host ARGS...: runs one e2e_host step on slot 0; stdout is the result,
# stderr goes to the client log.
host() {
    echo "--- e2e_host $*" >> "$E2E_TMP/client.log"
    timeout 60 "$E2E_HOST" "$READER0" "$@" 2>> "$E2E_TMP/client.log"
}

# step ARGS...: a host step that must print "ok".
step() {
    local out
    out=$(host "$@") || fail "e2e_host $* failed (exit $?): $out" || return 1
    [ "$out" = ok ] || fail "e2e_host $*: printed '$out', want 'ok'" || return 1
}

# host_bg OUT ARGS...: a host step in the background, output to OUT.
CLIENT_PID=
host_bg() {
    local out=$1
    shift
    echo "--- e2e_host (background) $*" >> "$E2E_TMP/client.log"
    timeout 60 "$E2E_HOST" "$READER0" "$@" > "$out" 2>> "$E2E_TMP/client.log" &
    CLIENT_PID=$!
    track_pid "$CLIENT_PID"
}

# wait_client TIMEOUT_S: waits for the background client and sets CLIENT_RC
# to its exit status ("timeout" when it had to be stopped).  Not in $(...).
CLIENT_RC=
wait_client() {
    local i
    for i in $(seq $(($1 * 10))); do
        kill -0 "$CLIENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$CLIENT_PID" 2>/dev/null; then
        stop_pid "$CLIENT_PID"
        CLIENT_RC=timeout
        return
    fi
    wait "$CLIENT_PID"; CLIENT_RC=$?
    untrack_pid "$CLIENT_PID"
}

# wait_file PATH TIMEOUT_S
wait_file() {
    local i
    for i in $(seq $(($2 * 20))); do
        [ -e "$1" ] && return 0
        kill -0 "$CLIENT_PID" 2>/dev/null || { [ -e "$1" ] && return 0; fail "client exited before $1"; return 1; }
        sleep 0.05
    done
    fail "no $1 within $2 s"
}

markers() {
    local d="$E2E_TMP/markers.$1"
    rm -rf "$d"
    mkdir -p "$d"
    echo "$d"
}

# A blank card, set up with the region keys.
active_card() {
    fresh_card 0 || return 1
    step setup 00000000000E2E00 || return 1
}

# --- helpers for checks ---------------------------------------------------------

# opensc_responses < opensc-tool output: one line per response, its bytes
# in hex then SW1 SW2 ("DF 20 12 .. 90 00").  opensc-tool prints 16 bytes per
# line (48 columns of hex, then ASCII).
opensc_responses() {
    awk '
        function flush() { if (have) print (data == "" ? sw : data " " sw); have = 0; data = "" }
        /^Sending:/ { flush(); next }
        /^Received \(SW1=0x/ {
            flush()
            sw = toupper(substr($0, index($0, "SW1=0x") + 6, 2) " " substr($0, index($0, "SW2=0x") + 6, 2))
            have = 1
            next
        }
        have && /^[0-9A-F][0-9A-F] / {
            line = substr($0, 1, 48); sub(/ +$/, "", line)
            data = (data == "" ? line : data " " line)
            next
        }
        END { flush() }
    '
}

# expect_eq WHAT GOT WANT
expect_eq() {
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# expect_match WHAT GOT REGEX (extended)
expect_match() {
    printf '%s\n' "$2" | grep -Eq -- "$3" || fail "$1: got '$2', want /$3/"
}
