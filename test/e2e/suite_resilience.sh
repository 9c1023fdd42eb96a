# test/e2e/suite_resilience.sh: the card and the host library when things go
# wrong on the way: mnap-vcard killed in the middle of a multi-block AP load,
# a power cut torn into the install's NVM writes, the card pulled out during
# a session, pcscd restarted between two sessions.  Sourced by run.sh.

SUITE_TESTS="t_kill_vcard_during_multiblock_load t_power_cut_during_load_install t_power_cut_in_the_reader_recovers t_pull_card_during_session t_restart_pcscd_between_sessions"

t_kill_vcard_during_multiblock_load() {
    need_host || return 77
    active_card || return 1
    local d rc out
    d=$(markers kill)
    # 48-byte blocks: the image (about 300 bytes with its key set) takes
    # several LOAD AP commands; the client pauses after the first one.
    host_bg "$d/out" load-killed 3 48 "$d"
    wait_file "$d/ready" 20 || return 1
    stop_vcard 0 KILL
    touch "$d/go"
    wait_client 30
    rc=$CLIENT_RC
    out=$(cat "$d/out")
    expect_eq "load-killed exit status" "$rc" 0 || return 1
    expect_eq "error the host saw" "$out" MNAP_E_CARD_REMOVED || return 1
    # The same image in a new process: the AP is absent (the install happens
    # only with the last block), the card works, and the AP loads in full.
    start_vcard 0 "$IMG"
    wait_card 0 present 10000 || fail "restarted card not in the reader" || return 1
    expect_eq "AP after the kill" "$(host check-ap 3)" absent || return 1
    step load 3 48 || return 1
    expect_eq "AP loaded after restart" "$(host check-ap 3)" complete || return 1
}

t_power_cut_during_load_install() {
    need_host || return 77
    active_card || return 1
    # One LOAD AP block (the whole image).  First learn how many NVM writes
    # its install makes (mnap-vcard logs it per APDU), on a copy of the card.
    local backup="$E2E_TMP/active.img" n w ws rc out st seen_absent=0 seen_complete=0
    stop_vcard 0
    cp "$IMG" "$backup"
    start_vcard 0 "$IMG"
    wait_card 0 present 10000 || fail "card not in the reader" || return 1
    step load 4 0 || return 1
    n=$(sed -n 's/.*APDU 84 E8 80 00 .* -> 9000 (.* data bytes, \([0-9]*\) NVM writes)$/\1/p' \
        "$E2E_TMP/vcard0.log" | tail -n 1)
    [ -n "$n" ] && [ "$n" -gt 0 ] || fail "no NVM write count for the LOAD AP in the vcard log" || return 1
    log "    (the install makes $n NVM writes)"
    # Then tear the Wth of them (one byte in), exit as if killed, restart on
    # the same image: the AP is absent or complete, never anything between.
    ws=$(printf '%s\n' 1 2 $((n / 2)) $((n - 1)) "$n" | awk '$1 >= 1 && !seen[$1]++')
    for w in $ws; do
        stop_vcard 0
        cp "$backup" "$IMG"
        start_vcard 0 "$IMG" --die-at "E8:1:$w"
        wait_card 0 present 10000 || fail "W=$w: card not in the reader" || return 1
        out=$(host load-dies 4 0); rc=$?
        vcard_wait_exit 0 5
        st=$VCARD_STATUS
        expect_eq "W=$w: vcard exit status (--die-at fired)" "$st" 3 || return 1
        expect_eq "W=$w: host step status" "$rc" 0 || return 1
        # The card vanished in the middle of a command.  vpcd hands pcscd an
        # empty response in that case (it cannot tell), so the host may see
        # a malformed response rather than the removal.
        expect_match "W=$w: named error" "$out" "^MNAP_E_(CARD_REMOVED|CARD_MUTE)$" || return 1
        start_vcard 0 "$IMG"
        wait_card 0 present 10000 || fail "W=$w: restarted card not in the reader" || return 1
        out=$(host check-ap 4) || fail "W=$w: check-ap failed: '$out'" || return 1
        case $out in
        absent) seen_absent=1 ;;
        complete) seen_complete=1 ;;
        *) fail "W=$w: AP is '$out', want absent or complete"; return 1 ;;
        esac
        log "    (W=$w: $out after restart)"
    done
    [ "$seen_absent" = 1 ] || fail "no tear left the AP absent: the tears never hit the install" || return 1
}

# The same power cut without killing the process (--cut-at): the card goes
# mute in the reader, leaves it, gets its power back and is inserted again;
# start-up recovery leaves the AP absent or complete.  Write 8 of the load's
# 15 (written once, docs/nvm.md) is one of its journaled step's records.
t_power_cut_in_the_reader_recovers() {
    need_host || return 77
    active_card || return 1
    local out rc
    stop_vcard 0
    start_vcard 0 "$IMG" --cut-at E8:1:8
    wait_card 0 present 10000 || fail "card not in the reader" || return 1
    out=$(host load-dies 5 0); rc=$?
    expect_eq "host step status" "$rc" 0 || return 1
    expect_match "named error" "$out" "^MNAP_E_(CARD_REMOVED|CARD_MUTE)$" || return 1
    grep -q "card went mute" "$E2E_TMP/vcard0.log" || fail "no mute in the vcard log" || return 1
    wait_card 0 absent 3000 || fail "the mute card did not leave the reader" || return 1
    wait_card 0 present 5000 || fail "the card did not come back" || return 1
    kill -0 "$VCARD_PID" 2>/dev/null || fail "mnap-vcard exited" || return 1
    out=$(host check-ap 5) || fail "check-ap failed: '$out'" || return 1
    expect_match "AP after the cut" "$out" "^(absent|complete)$" || return 1
    log "    (cut at write 8: $out after recovery)"
    # The card works on: the load goes through now.
    step load 5 0 || return 1
    expect_eq "AP loaded after recovery" "$(host check-ap 5)" complete || return 1
}

t_pull_card_during_session() {
    need_host || return 77
    active_card || return 1
    local d rc out
    d=$(markers pull)
    host_bg "$d/out" session-removed "$d"
    wait_file "$d/ready" 20 || return 1
    kill -USR1 "$VCARD_PID"
    wait_card 0 absent 5000 || fail "card still present after SIGUSR1" || return 1
    touch "$d/go"
    wait_file "$d/removed" 20 || return 1
    kill -USR2 "$VCARD_PID"
    wait_card 0 present 5000 || fail "card not back after SIGUSR2" || return 1
    touch "$d/go2"
    wait_client 30
    rc=$CLIENT_RC
    out=$(cat "$d/out")
    expect_eq "session-removed exit status" "$rc" 0 || return 1
    expect_eq "session-removed result" "$out" ok || return 1
}

t_restart_pcscd_between_sessions() {
    need_host || return 77
    active_card || return 1
    local d rc out
    d=$(markers pcscd)
    host_bg "$d/out" session-nosvc "$d"
    wait_file "$d/ready" 20 || return 1
    stop_pcscd
    touch "$d/go"
    wait_file "$d/nosvc" 20 || return 1
    start_pcscd
    # mnap-vcard reconnects by itself (it retries every second at most).
    wait_card 0 present 10000 || fail "card not back after pcscd restart" || return 1
    touch "$d/go2"
    wait_client 30
    rc=$CLIENT_RC
    out=$(cat "$d/out")
    expect_eq "session-nosvc exit status" "$rc" 0 || return 1
    expect_eq "session-nosvc result" "$out" ok || return 1
    grep -q "vpcd closed the connection" "$E2E_TMP/vcard0.log" ||
        fail "mnap-vcard did not log the lost vpcd connection" || return 1
}

