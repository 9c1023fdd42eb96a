# test/e2e/suite_thirdparty.sh: the card through PC/SC clients nobody in
# this project wrote (opensc-tool, scriptor, pcsc_scan), on a blank card.
# Sourced by run.sh; each t_* returns 0 (pass) or 1 (fail).

SUITE_TESTS="t_pcsc_scan_sees_reader_and_atr t_opensc_select_am_and_get_data t_scriptor_unknown_aid_and_empty_verify"

AM_AID="F0 4D 4E 41 50 41 4D"

t_pcsc_scan_sees_reader_and_atr() {
    fresh_card 0 || return 1
    local atr out
    atr=$("$VCARD" --print-atr) || fail "mnap-vcard --print-atr failed" || return 1
    expect_match "ATR historical bytes" "$atr" "4D 4E 41 50" || return 1
    # pcsc_scan runs until stopped: its first scan prints at once.
    out=$(timeout 1.5 pcsc_scan -n 2>&1)
    printf '%s\n' "$out" >> "$E2E_TMP/client.log"
    printf '%s\n' "$out" | grep -Fq "$READER0" || fail "pcsc_scan does not list '$READER0'" || return 1
    printf '%s\n' "$out" | grep -Fq "$READER1" || fail "pcsc_scan does not list '$READER1'" || return 1
    printf '%s\n' "$out" | grep -Fq "Card inserted" || fail "pcsc_scan sees no card inserted" || return 1
    printf '%s\n' "$out" | grep -Fq "ATR: $atr" || fail "pcsc_scan does not show the ATR '$atr'" || return 1
    # The raw PC/SC view agrees (slot 1 is empty).
    expect_eq "ATR by SCardStatus" "$("$E2E_PCSC" atr "$READER0")" "$atr" || return 1
    wait_card 1 absent 100 || fail "slot 1 should be empty" || return 1
}

t_opensc_select_am_and_get_data() {
    fresh_card 0 || return 1
    local out rsp
    out=$(timeout 20 opensc-tool -c default -r "$READER0" \
        -s "00 A4 04 0C 07 $AM_AID" \
        -s "00 A4 04 00 07 $AM_AID 00" \
        -s "80 CA DF 20 00" \
        -s "00 A4 04 0C 07 F0 4D 4E 41 50 41 4E" 2>&1)
    printf '%s\n' "$out" >> "$E2E_TMP/client.log"
    rsp=$(printf '%s\n' "$out" | opensc_responses)
    [ "$(printf '%s\n' "$rsp" | wc -l)" = 4 ] || fail "want 4 responses from opensc-tool, got: $rsp" || return 1
    # SELECT AM, P2 0C: no data.
    expect_eq "SELECT AM (P2 0C)" "$(printf '%s\n' "$rsp" | sed -n 1p)" "90 00" || return 1
    # SELECT AM, P2 00: FCI 6F { 84 AID, A5 { 9F70 state } }, state BLANK 01.
    expect_eq "SELECT AM (P2 00) FCI" "$(printf '%s\n' "$rsp" | sed -n 2p)" \
        "6F 0F 84 07 $AM_AID A5 04 9F 70 01 01 90 00" || return 1
    # GET DATA DF20 outside a channel: state BLANK, 16 APs, runtime version,
    # max response and command data 2048 (PROTOCOL.md §4, §11).
    expect_match "GET DATA DF20" "$(printf '%s\n' "$rsp" | sed -n 3p)" \
        "^DF 20 12 80 01 01 83 01 10 84 02 [0-9A-F]{2} [0-9A-F]{2} 87 02 08 00 88 02 08 00 90 00$" || return 1
    # A SELECT of an AID one byte off: 6A82, exact match only.
    expect_eq "SELECT near-AM AID" "$(printf '%s\n' "$rsp" | sed -n 4p)" "6A 82" || return 1
}

t_scriptor_unknown_aid_and_empty_verify() {
    fresh_card 0 || return 1
    local script="$E2E_TMP/scriptor.txt" out
    cat > "$script" <<EOF
reset
00 A4 04 00 05 D3 92 10 FF 01 00
00 20 00 81
00 A4 04 0C 07 $AM_AID
00 A4 04 00 05 D3 92 10 FF 01 00
00 20 00 81
EOF
    out=$(timeout 20 scriptor -r "$READER0" "$script" 2>&1)
    printf '%s\n' "$out" >> "$E2E_TMP/client.log"
    # scriptor prints each response as "< SW1 SW2 : text" (data bytes first).
    local sws
    sws=$(printf '%s\n' "$out" | sed -n 's/^< \(.*\) : .*/\1/p' | awk '{ print $(NF-1) " " $NF }' | tr '\n' '|')
    # 1 unknown AID: 6A82.  2 empty VERIFY with nothing selected: 6986
    # (selection comes before the command's checks, PROTOCOL.md §9).
    # 3 SELECT AM.  4 unknown AID again: 6A82, the AM stays selected.
    # 5 empty VERIFY to the AM: 6986 (VERIFY is an AP command).
    expect_eq "scriptor status words" "$sws" "6A 82|69 86|90 00|6A 82|69 86|" || return 1
}

