# test/e2e/suite_lifecycle.sh: the whole life of an area through the host
# library and real PC/SC: area setup with the transport keys, two APs loaded,
# listed, the kiosk flow on each, PIN lockout and unblock, suspend and resume,
# delete, lock, the security log; then the card image served again by a new
# process.  The tests run in order on one card: each one starts where the
# previous one left it.  Sourced by run.sh, once per transport (t1, t0,
# contactless: lifecycle:MODE): AP 2's image (over 3000 bytes) goes in blocks
# of the card's 2048 bytes, chained in 255-byte segments over T=0, and its
# 3000-byte file is read whole (256-byte pieces over T=0).

SUITE_TESTS="t_lc_area_setup t_lc_load_two_aps t_lc_list t_lc_kiosk_each_ap t_lc_empty_verify_by_scriptor t_lc_pin_lockout_and_unblock t_lc_suspend_and_resume t_lc_delete t_lc_lock_area t_lc_security_log t_lc_wire_matches_transport t_lc_state_survives_restart"

t_lc_area_setup() {
    need_host || return 77
    fresh_card 0 || return 1
    step setup 00000000000E2E00 || return 1
}

t_lc_load_two_aps() {
    need_host || return 77
    # AP 1 in 64-byte blocks (several LOAD AP commands), AP 2 in one block.
    step load 1 64 || return 1
    step load 2 0 || return 1
}

t_lc_list() {
    need_host || return 77
    local out
    out=$(host list) || fail "list failed: $out" || return 1
    # AID, state ACTIVE (07), PIN tries 3, in load order.
    expect_eq "AP list" "$(printf '%s' "$out" | tr '\n' '|')" "D39210E201 07 3|D39210E202 07 3" || return 1
}

t_lc_kiosk_each_ap() {
    need_host || return 77
    step kiosk 1 || return 1
    step kiosk 2 || return 1
}

# A third-party client sees the AP and its PIN counter through the empty
# VERIFY form, allowed without a channel (PROTOCOL.md §5).
t_lc_empty_verify_by_scriptor() {
    need_host || return 77
    local script="$E2E_TMP/scriptor-ap.txt" out sws
    cat > "$script" <<EOF
reset
00 A4 04 0C 05 D3 92 10 E2 01
00 20 00 81
00 A4 04 0C 05 D3 92 10 E2 09
EOF
    out=$(timeout 20 scriptor -r "$READER0" "$script" 2>&1)
    printf '%s\n' "$out" >> "$E2E_TMP/client.log"
    sws=$(printf '%s\n' "$out" | sed -n 's/^< \(.*\) : .*/\1/p' | awk '{ print $(NF-1) " " $NF }' | tr '\n' '|')
    # SELECT AP 1; empty VERIFY: 3 tries left (63C3); an AP that is not there: 6A82.
    expect_eq "scriptor status words" "$sws" "90 00|63 C3|6A 82|" || return 1
}

t_lc_pin_lockout_and_unblock() {
    need_host || return 77
    step lockout 1 || return 1
}

t_lc_suspend_and_resume() {
    need_host || return 77
    step suspend 2 || return 1
}

t_lc_delete() {
    need_host || return 77
    step delete 1 || return 1
    expect_eq "AP list after delete" "$(host list | tr '\n' '|')" "D39210E202 07 3|" || return 1
}

t_lc_lock_area() {
    need_host || return 77
    step lock 2 || return 1
}

# Every event above, newest first, the same over every transport.
t_lc_security_log() {
    need_host || return 77
    local out
    out=$(host log) || fail "log failed: $out" || return 1
    # Set-up (key change, area ACTIVE), two loads, the lockout (two wrong
    # PINs merged, the blocking try, the reset, the old PIN refused),
    # suspend and resume, delete, lock.
    expect_eq "security log" "$(printf '%s' "$out" | tr '\n' '|')" \
"12 AREA_STATE - 1|11 AP_DELETED D39210E201 1|10 AP_STATE D39210E202 1|9 AP_STATE D39210E202 1|\
8 PIN_FAIL D39210E201 1|7 PIN_RESET D39210E201 1|6 PIN_BLOCKED D39210E201 1|5 PIN_FAIL D39210E201 2|\
4 AP_LOADED D39210E202 1|3 AP_LOADED D39210E201 1|2 AREA_STATE - 1|1 KEY_CHANGED - 1" || return 1
}

# What went on the wire, from the card's APDU log (-vv: header and length of
# every command): over T=0 no command longer than a short case 4 (5 + 255 +
# 1 bytes) and LOAD AP segments with the chaining bit (CLA 90/94); over T=1
# and contactless, LOAD AP blocks as single extended commands.
t_lc_wire_matches_transport() {
    need_host || return 77
    local log="$E2E_TMP/vcard0-this-card.log" longest chained
    # This suite's card only: the log after the last start of a vcard.
    awk '/^=== mnap-vcard start/ { n = 0; delete l } { l[++n] = $0 }
         END { for (i = 1; i <= n; i++) print l[i] }' "$E2E_TMP/vcard0.log" > "$log"
    longest=$(sed -n 's/.*: APDU .. .. .. .. (\([0-9]*\) bytes).*/\1/p' "$log" | sort -n | tail -1)
    chained=$(grep -c ': APDU 9[0-9A-F] E8 ' "$log")
    case $E2E_TRANSPORT in
    t0)
        [ "${longest:-0}" -le 261 ] || fail "T=0: a command of $longest bytes on the wire" || return 1
        [ "$chained" -gt 0 ] || fail "T=0: no chained LOAD AP segment" || return 1 ;;
    *)
        [ "${longest:-0}" -gt 2048 ] || fail "$E2E_TRANSPORT: longest command $longest bytes" || return 1
        expect_eq "$E2E_TRANSPORT: chained segments" "$chained" 0 || return 1 ;;
    esac
}

# Everything above is in the image: a new mnap-vcard process serves the same
# locked area with the same AP.
t_lc_state_survives_restart() {
    need_host || return 77
    stop_vcard 0
    start_vcard 0 "$IMG"
    wait_card 0 present 10000 || fail "restarted card not in the reader" || return 1
    expect_eq "AP list after restart" "$(host list | tr '\n' '|')" "D39210E202 07 3|" || return 1
    local out
    out=$("$E2E_PCSC" apdu "$READER0" "00A4040C07F04D4E4150414D" "80CADF2000" 2>&1)
    printf '%s\n' "$out" >> "$E2E_TMP/client.log"
    # DF20 outside a channel: state LOCKED (7F).
    expect_match "GET DATA DF20 after restart" "$(printf '%s\n' "$out" | sed -n 2p)" \
        "^DF 20 12 80 01 7F 83 01 10 " || return 1
}
