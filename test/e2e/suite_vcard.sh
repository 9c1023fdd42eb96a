# test/e2e/suite_vcard.sh: mnap-vcard itself in a real reader: reset and
# power cycles clear the card's RAM state, signals, --help, image refusal and
# corrupt images, and the harness's own refusal to share pcscd.  Sourced by
# run.sh; raw APDUs go through test/e2e/e2e_pcsc (plain PC/SC).

SUITE_TESTS="t_vcard_speaks_the_vpcd_protocol t_vcard_reset_and_power_cycle_clear_ram_state t_vcard_exits_cleanly_on_term_and_int t_vcard_starts_removed_and_is_inserted_by_sigusr2 t_two_slots_serve_two_cards t_vcard_help_documents_every_option t_vcard_transports t_vcard_refuses_bad_image t_corrupt_image_answers_6581 t_harness_refuses_a_second_pcscd"

AM="00A4040C07F04D4E4150414D"
IU="8050FF0008010203040506070800"
EA="8482330010000102030405060708090A0B0C0D0E0F"

# apdus OUTVAR ARGS...: e2e_pcsc apdu on slot 0, responses joined with "|".
apdus() {
    local var=$1 out
    shift
    out=$("$E2E_PCSC" apdu "$READER0" "$@" 2>&1)
    printf '%s\n' "$out" >> "$E2E_TMP/client.log"
    printf -v "$var" '%s' "$(printf '%s\n' "$out" | sed 's/.*\(.. ..\)$/\1/' | tr '\n' '|')"
}

# mnap-vcard against a stand-in for vpcd (test/e2e/e2e_vpcd.c), no pcscd:
# ATR polls, ignored odd messages, an APDU before power-on, reset and power
# cycles clearing RAM state, an oversized APDU, and a reconnect after the
# "driver" closed the connection.
t_vcard_speaks_the_vpcd_protocol() {
    local port=$((E2E_PORT + 2)) atr pid vpid i rc
    port_in_use "$port" && { SKIP_REASON="port $port busy"; return 77; }
    atr=$("$VCARD" --print-atr) || fail "--print-atr" || return 1
    "$E2E_VPCD" "$port" "$atr" > "$E2E_TMP/vpcd-fake.out" 2>> "$E2E_TMP/client.log" &
    vpid=$!
    track_pid "$vpid"
    for i in $(seq 50); do
        grep -q listening "$E2E_TMP/vpcd-fake.out" && break
        sleep 0.1
    done
    rm -f "$E2E_TMP/fake.img"
    "$VCARD" --image "$E2E_TMP/fake.img" --new --connect "127.0.0.1:$port" -vvv \
        >> "$E2E_TMP/vcard-fake.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    for i in $(seq 300); do
        kill -0 "$vpid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$vpid" 2>/dev/null; then
        stop_pid "$vpid"
        rc=timeout
    else
        wait "$vpid"; rc=$?
        untrack_pid "$vpid"
    fi
    stop_pid "$pid"
    cat "$E2E_TMP/vpcd-fake.out" >> "$E2E_TMP/client.log"
    tail -n 30 "$E2E_TMP/vcard-fake.log" >> "$E2E_TMP/client.log"
    expect_eq "e2e_vpcd exit status" "$rc" 0 || return 1
    grep -q "unknown vpcd control message 03 ignored" "$E2E_TMP/vcard-fake.log" ||
        fail "no warning for the unknown control byte" || return 1
    grep -q "APDU to an unpowered card" "$E2E_TMP/vcard-fake.log" ||
        fail "no warning for the APDU before power-on" || return 1
}

# A pending INITIALIZE UPDATE is RAM state: EXTERNAL AUTHENTICATE with a wrong
# cryptogram gives 6300 while it is pending, 6985 once a reset or a power
# cycle has cleared it (PROTOCOL.md §3, §9).
t_vcard_reset_and_power_cycle_clear_ram_state() {
    fresh_card 0 || return 1
    local got
    apdus got "$AM" "$IU" "$EA"
    expect_match "IU then EA (control)" "$got" "^90 00\|(90 00|61 20)\|63 00\|$" || return 1
    apdus got "$AM" "$IU" RESET "$AM" "$EA"
    expect_match "IU, warm reset, EA" "$got" "^90 00\|(90 00|61 20)\|RESET\|90 00\|69 85\|$" || return 1
    apdus got "$AM" "$IU" UNPOWER "$AM" "$EA"
    expect_match "IU, power cycle, EA" "$got" "^90 00\|(90 00|61 20)\|UNPOWER\|90 00\|69 85\|$" || return 1
    grep -q "card reset" "$E2E_TMP/vcard0.log" || fail "no reset in the vcard log" || return 1
}

t_vcard_exits_cleanly_on_term_and_int() {
    local sig
    for sig in TERM INT; do
        fresh_card 0 || return 1
        kill -"$sig" "$VCARD_PID"
        vcard_wait_exit 0 5
        expect_eq "exit status after SIG$sig" "$VCARD_STATUS" 0 || return 1
        wait_card 0 absent 100 || fail "card still in the reader after SIG$sig" || return 1
    done
    grep -q "signal: exiting" "$E2E_TMP/vcard0.log" || fail "no exit message in the log" || return 1
}

t_vcard_starts_removed_and_is_inserted_by_sigusr2() {
    stop_vcard 0
    rm -f "$E2E_TMP/removed.img"
    start_vcard 0 "$E2E_TMP/removed.img" --new --removed
    # Out of the reader: pcscd polls every 0.4 s, so 1 s without a card says it.
    if wait_card 0 present 1000 2>/dev/null; then
        fail "--removed card is in the reader"
        return 1
    fi
    kill -USR2 "$VCARD_PID"
    wait_card 0 present 5000 || fail "no card after SIGUSR2" || return 1
    kill -USR1 "$VCARD_PID"
    wait_card 0 absent 5000 || fail "card still in after SIGUSR1" || return 1
    stop_vcard 0
}

# One process per slot: two cards at once, each its own image and serial.
t_two_slots_serve_two_cards() {
    fresh_card 0 || return 1
    fresh_card 1 || return 1
    local out
    if [ -x "$E2E_HOST" ]; then
        out=$(timeout 60 "$E2E_HOST" "$READER1" setup 00000000000E2E01 2>> "$E2E_TMP/client.log") ||
            fail "slot 1 setup: '$out'" || return 1
        out=$(timeout 60 "$E2E_HOST" "$READER0" setup 00000000000E2E00 2>> "$E2E_TMP/client.log") ||
            fail "slot 0 setup: '$out'" || return 1
    fi
    # Both answer at once; slot 1 stays set up after slot 0 is replaced.
    fresh_card 0 || return 1
    # DF20 is the AM's: SELECT it first (PROTOCOL.md §4).
    expect_match "slot 0 DF20 (blank again)" \
        "$("$E2E_PCSC" apdu "$READER0" 00A4040C07F04D4E4150414D 80CADF2000 | sed -n 2p)" \
        "^DF 20 12 80 01 01 " || return 1
    if [ -x "$E2E_HOST" ]; then
        expect_match "slot 1 DF20 (active)" \
            "$("$E2E_PCSC" apdu "$READER1" 00A4040C07F04D4E4150414D 80CADF2000 | sed -n 2p)" \
            "^DF 20 12 80 01 0F " || return 1
    fi
    stop_vcard 1
}

t_vcard_help_documents_every_option() {
    local help opt rc
    help=$("$VCARD" --help); rc=$?
    expect_eq "--help exit status" "$rc" 0 || return 1
    for opt in --image --new --serial --nvm-size --force --connect --removed --print-atr \
               --verbose --die-at --cut-at --help --transport t1 t0 contactless \
               SIGUSR1 SIGUSR2 SIGTERM; do
        printf '%s\n' "$help" | grep -q -- "$opt" || fail "--help does not mention $opt" || return 1
    done
    "$VCARD" --bogus > /dev/null 2>&1; rc=$?
    expect_eq "unknown option exit status" "$rc" 2 || return 1
    "$VCARD" --image x --serial 0102 > /dev/null 2>&1; rc=$?
    expect_eq "--serial without --new exit status" "$rc" 2 || return 1
    "$VCARD" --image x --transport t2 > /dev/null 2>&1; rc=$?
    expect_eq "--transport t2 exit status" "$rc" 2 || return 1
}

# --transport (PROTOCOL.md §10): each mode's ATR (printed, and as pcscd
# shows it), the protocol pcscd and vpcd agree on when T=0 and T=1 are both
# acceptable to the client, and the APDU rules: a case-4 SELECT answered at
# once in T=1 and contactless, 61 11 in T=0; an extended GET DATA answered
# in T=1 and contactless, 6700 in T=0.
t_vcard_transports() {
    local mode want_atr want_proto want_sw got
    for mode in t1 t0 contactless; do
        case $mode in
        t1) want_atr="3B 86 01 4D 4E 41 50 01 00 94"; want_proto="T=1"; want_sw="90 00|90 00|" ;;
        t0) want_atr="3B 06 4D 4E 41 50 01 00"; want_proto="T=0"; want_sw="61 11|67 00|" ;;
        contactless) want_atr="3B 88 80 01 00 00 00 00 B3 81 81 00 BA"; want_proto="T=1"
                     want_sw="90 00|90 00|" ;;
        esac
        expect_eq "--transport $mode --print-atr" "$("$VCARD" --transport "$mode" --print-atr)" \
            "$want_atr" || return 1
        fresh_card 0 --transport "$mode" || return 1
        expect_eq "$mode: ATR through pcscd" "$("$E2E_PCSC" atr "$READER0" 2>&1)" "$want_atr" || return 1
        expect_eq "$mode: active protocol" "$("$E2E_PCSC" proto "$READER0" 2>&1)" "$want_proto" || return 1
        apdus got "00A4040007F04D4E4150414D00" "80CADF20000000"
        expect_eq "$mode: case-4 SELECT, extended GET DATA" "$got" "$want_sw" || return 1
    done
    expect_eq "default --print-atr" "$("$VCARD" --print-atr)" "3B 86 01 4D 4E 41 50 01 00 94" || return 1
}

t_vcard_refuses_bad_image() {
    local bad="$E2E_TMP/bad.img" out rc
    # Bad magic.
    head -c 65552 /dev/zero > "$bad"
    out=$(timeout 5 "$VCARD" --image "$bad" --connect "127.0.0.1:$((E2E_PORT + 1))" 2>&1); rc=$?
    expect_eq "exit status, bad magic" "$rc" 2 || return 1
    expect_match "message, bad magic" "$out" "bad magic" || return 1
    # A good image truncated: the size in the header no longer matches.
    local good="$E2E_TMP/good.img"
    rm -f "$good"
    start_vcard 1 "$good" --new --serial 00000000000E2EFF
    wait_card 1 present 10000 || fail "slot 1 card not present" || return 1
    stop_vcard 1
    head -c 1000 "$good" > "$bad"
    out=$(timeout 5 "$VCARD" --image "$bad" --connect "127.0.0.1:$((E2E_PORT + 1))" 2>&1); rc=$?
    expect_eq "exit status, truncated" "$rc" 2 || return 1
    expect_match "message, truncated" "$out" "size" || return 1
    # Unsupported version (header bytes 8..11, little-endian 1 today).
    cp "$good" "$bad"
    printf '\x09' | dd of="$bad" bs=1 seek=8 conv=notrunc status=none
    out=$(timeout 5 "$VCARD" --image "$bad" --connect "127.0.0.1:$((E2E_PORT + 1))" 2>&1); rc=$?
    expect_eq "exit status, version" "$rc" 2 || return 1
    expect_match "message, version" "$out" "version" || return 1
    # Missing file: a clear message, no image created.
    out=$(timeout 5 "$VCARD" --image "$E2E_TMP/none.img" 2>&1); rc=$?
    expect_eq "exit status, missing" "$rc" 2 || return 1
    expect_match "message, missing" "$out" "use --new" || return 1
    [ ! -e "$E2E_TMP/none.img" ] || fail "a missing image was created" || return 1
    # An image in use by another mnap-vcard is refused (slot 0 serves $IMG).
    fresh_card 0 || return 1
    out=$(timeout 5 "$VCARD" --image "$IMG" --connect "127.0.0.1:$((E2E_PORT + 1))" 2>&1); rc=$?
    expect_eq "exit status, image in use" "$rc" 2 || return 1
    expect_match "message, image in use" "$out" "in use" || return 1
}

# Corrupt NVM behind a good header: the image is served and the card answers
# 6581 to everything but SELECT and GET DATA DF20 (PROTOCOL.md §8).
t_corrupt_image_answers_6581() {
    fresh_card 0 || return 1
    stop_vcard 0
    # Flip every byte of the first 4 KiB of NVM (after the 16-byte header):
    # the store's headers and checksums live at the start.
    perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!";
             binmode $f; seek($f, 16, 0); read($f, my $b, 4096) == 4096 or die "short image";
             $b ^= "\xFF" x 4096; seek($f, 16, 0); print $f $b; close $f or die' "$IMG" ||
        fail "could not corrupt $IMG" || return 1
    start_vcard 0 "$IMG"
    wait_card 0 present 10000 || fail "corrupt image not served" || return 1
    grep -q "answers 6581" "$E2E_TMP/vcard0.log" || fail "mnap-vcard did not warn about corrupt NVM" || return 1
    local out
    out=$("$E2E_PCSC" apdu "$READER0" "00A4040C07F04D4E4150414D" "80CADF2000" \
        "8050FF0008010203040506070800" 2>&1)
    printf '%s\n' "$out" >> "$E2E_TMP/client.log"
    expect_eq "SELECT AM" "$(printf '%s\n' "$out" | sed -n 1p)" "90 00" || return 1
    expect_match "GET DATA DF20" "$(printf '%s\n' "$out" | sed -n 2p)" "^DF 20 .* 90 00$" || return 1
    expect_eq "INITIALIZE UPDATE" "$(printf '%s\n' "$out" | sed -n 3p)" "65 81" || return 1
}

# pcscd's socket path is fixed: a second harness must refuse to start, with
# a message, while this one's pcscd runs.
t_harness_refuses_a_second_pcscd() {
    local out rc
    out=$(BUILD="$BUILD" timeout 20 "$HERE/run.sh" thirdparty 2>&1); rc=$?
    expect_eq "second harness exit status" "$rc" 1 || return 1
    expect_match "second harness message" "$out" "another pcscd is running \(pid $PCSCD_PID\)" || return 1
}
