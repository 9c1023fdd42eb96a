#!/bin/sh
# The crypto self-test that `make demo` runs until the full demo exists:
# every public vector (RFC 4493 / SP 800-38B CMAC, SP 800-108 KDF, the kaoh and
# pySim SCP03 transcripts) through the shared common/ core, host side and card
# side, plus the differential test against OpenSSL.
set -eu
B=${BUILD:-build}
echo "mnap crypto self-test (common/: AES-CMAC, SP 800-108 KDF, GlobalPlatform SCP03 S8)"
for t in test_cmac_kdf test_scp03_vectors test_ct_diff test_tlv; do
    if "$B/test/common/$t" > "$B/selftest-$t.log" 2>&1; then
        printf '  %-22s passed (%s tests)\n' "$t" "$(grep -c '\[       OK \]' "$B/selftest-$t.log")"
    else
        echo "  $t FAILED; log:"; cat "$B/selftest-$t.log"; exit 1
    fi
done
grep -h 'SCP03 transcripts:' "$B/selftest-test_scp03_vectors.log" | sed 's/^ */  /'
cat <<'MSG'
The full demo will start pcscd with the vpcd driver and the mnap-vcard virtual
card, set up the area with the region key, load the library-card AP, run the
kiosk flow with a PIN, block and unblock the PIN, list and delete the AP, and
verify the operator audit log.
MSG
