# test/e2e/suite_sharing.sh: another program on the same reader (issue #21,
# item 2).  libmnap holds the card (a PC/SC transaction) for the length of a
# session or a multi-command operation, so a second PC/SC client's commands
# (e2e_pcsc: a SELECT of the AM and a GET DATA, or a reset) that come in the
# middle wait until it ends or are refused, and the session goes on as if
# alone; a reset between sessions is reported by name (MNAP_E_CARD_RESET),
# never as a status word; several threads with their own contexts on the one
# reader all complete their flows.  Before the transactions: 6982 in the
# session, a failed load, and most thread flows lost.

SUITE_TESTS="t_sh_setup t_sh_load_interleaved t_sh_session_interleaved t_sh_reset_between_sessions t_sh_exclusive t_sh_threads_one_reader"

# other_bg OUT: the other program's commands, in the background (they may
# have to wait for the session to end).
other_bg() {
    timeout 30 "$E2E_PCSC" apdu "$READER0" 00A4040C07F04D4E4150414D 80CADF2000 > "$1" 2>&1 &
    OTHER_PID=$!
    track_pid "$OTHER_PID"
}

# other_wait OUT: the other program either ran after the session (its SELECT
# answered 9000) or was refused by pcscd while the card was held.
other_wait() {
    local rc
    wait "$OTHER_PID"; rc=$?
    untrack_pid "$OTHER_PID"
    echo "--- other program (exit $rc): $(tr '\n' ' ' < "$1")" >> "$E2E_TMP/client.log"
    case $rc in
    0) [ "$(sed -n 1p "$1")" = "90 00" ] || fail "other program's SELECT: $(cat "$1")" ;;
    2) grep -q SCARD_E_SHARING_VIOLATION "$1" || grep -qi "sharing violation" "$1" ||
           fail "other program failed otherwise: $(cat "$1")" ;;
    *) fail "other program: exit $rc: $(cat "$1")" ;;
    esac
}

t_sh_setup() {
    need_host || return 77
    active_card || return 1
    step load 2 0 || return 1
}

t_sh_load_interleaved() {
    need_host || return 77
    local d
    d=$(markers shload)
    host_bg "$d/out" load-interleave 1 64 "$d"
    wait_file "$d/ready" 20 || return 1
    other_bg "$d/other"
    sleep 1
    touch "$d/go"
    wait_client 60
    expect_eq "load-interleave exit status" "$CLIENT_RC" 0 || return 1
    expect_eq "load-interleave result" "$(cat "$d/out")" ok || return 1
    other_wait "$d/other" || return 1
    expect_eq "AP 1 after the interleaved load" "$(host check-ap 1)" complete || return 1
}

t_sh_session_interleaved() {
    need_host || return 77
    local d
    d=$(markers shsession)
    host_bg "$d/out" interleave 2 "$d"
    wait_file "$d/ready" 20 || return 1
    other_bg "$d/other"
    sleep 1
    touch "$d/go"
    wait_client 60
    expect_eq "interleave exit status" "$CLIENT_RC" 0 || return 1
    expect_eq "interleave result" "$(cat "$d/out")" ok || return 1
    other_wait "$d/other" || return 1
}

t_sh_reset_between_sessions() {
    need_host || return 77
    local d out
    d=$(markers shreset)
    host_bg "$d/out" reset-between 2 "$d"
    wait_file "$d/ready" 20 || return 1
    out=$(timeout 20 "$E2E_PCSC" apdu "$READER0" RESET 2>&1) ||
        fail "the other program's reset: $out" || return 1
    touch "$d/go"
    wait_client 60
    expect_eq "reset-between exit status" "$CLIENT_RC" 0 || return 1
    expect_eq "reset-between result" "$(cat "$d/out")" ok || return 1
}

t_sh_exclusive() {
    need_host || return 77
    local d out rc
    d=$(markers shexcl)
    host_bg "$d/out" exclusive 2 "$d"
    wait_file "$d/ready" 20 || return 1
    out=$(timeout 20 "$E2E_PCSC" apdu "$READER0" 00A4040C07F04D4E4150414D 2>&1); rc=$?
    touch "$d/go"
    wait_client 60
    expect_eq "exclusive exit status" "$CLIENT_RC" 0 || return 1
    expect_eq "exclusive result" "$(cat "$d/out")" ok || return 1
    expect_eq "other program beside an exclusive one: exit" "$rc" 2 || return 1
    expect_match "other program beside an exclusive one" "$out" "SCARD_E_SHARING_VIOLATION|[Ss]haring violation" || return 1
}

t_sh_threads_one_reader() {
    need_host || return 77
    local out
    out=$(host threads 3 10 2) || fail "threads: exit $?: $out" || return 1
    expect_eq "3 threads x 10 flows on one reader" "$out" "30 ok, 0 named, 0 wrong" || return 1
}
