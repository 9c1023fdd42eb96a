# test/interop/test_vectors.py: the peer's own SCP03 host against published
# vectors (no card): AES-CMAC (RFC 4493, SP 800-38B), the SP 800-108 KDF
# (NIST CAVP), SCP03 transcripts of two other host implementations (kaoh
# globalplatform, osmocom pySim) and the extended-Lc vectors of issue #14.

import json
import os
import unittest

import gp

VEC = os.environ.get("MNAP_VECTORS") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "vectors")


def load(name):
    with open(os.path.join(VEC, name)) as f:
        return json.load(f)


def h(s):
    return bytes.fromhex(s)


class CmacVectors(unittest.TestCase):
    def test_cmac(self):
        d = load("cmac_aes.json")
        self.assertGreaterEqual(len(d["vectors"]), 12)
        for v in d["vectors"]:
            with self.subTest(v["name"]):
                self.assertEqual(gp.aes_cmac(h(v["key"]), h(v["message"])).hex(), v["mac"])


class KdfVectors(unittest.TestCase):
    def test_kdf(self):
        d = load("kdf_sp800_108_cmac.json")
        n_mid = 0
        for v in d["vectors"]:
            with self.subTest(prf=v["prf"], count=v["count"], loc=v["ctr_location"]):
                if v["ctr_location"] == "BEFORE_FIXED":
                    ko = gp.kdf_ctr_cmac(h(v["ki"]), v["l_bits"], b"", h(v["fixed_input_data"]))
                else:
                    n_mid += 1
                    ko = gp.kdf_ctr_cmac(h(v["ki"]), v["l_bits"], h(v["data_before_ctr"]), h(v["data_after_ctr"]))
                self.assertEqual(ko.hex(), v["ko"])
        self.assertGreaterEqual(n_mid, 2)


def _transcript(test, v, aid):
    """Replays one host-side SCP03 session transcript with our host."""
    s = gp.Scp03(h(v["key_enc"]), h(v["key_mac"]), h(v["key_dek"]), h(v["host_challenge"]))
    kvn = int(v.get("kvn_requested", v["kvn"]), 16)
    test.assertEqual(s.initialize_update_apdu(kvn).hex(), v["initialize_update_command"])
    resp = h(v["initialize_update_response"])
    test.assertEqual(resp[-2:], b"\x90\x00")
    s.parse_init_response(resp[:-2], aid)
    test.assertEqual(s.card_challenge.hex(), v["card_challenge"])
    keys = v.get("derived") or v
    if "s_enc" in keys:
        test.assertEqual(s.s_enc.hex(), keys["s_enc"])
        test.assertEqual(s.s_mac.hex(), keys["s_mac"])
        test.assertEqual(s.s_rmac.hex(), keys["s_rmac"])
    test.assertEqual(s.host_cryptogram().hex(), v["host_cryptogram"])
    test.assertEqual(s.external_authenticate_apdu(int(v["security_level"], 16)).hex(),
                     v["external_authenticate_command"])
    s.authenticated()
    for st in v["steps"]:
        cla, ins, p1, p2, data, ne, ext = gp.parse_apdu(h(st["plain_command"]))
        test.assertEqual(s.wrap(cla, ins, p1, p2, data, ne, ext).hex(), st["wrapped_command"], st["label"])
        test.assertEqual(s.chain.hex(), st["mac_chaining_value_after_command"])
        if "enc_counter_used" in st:
            test.assertEqual(s.counter, st["enc_counter_used"])
        if "wrapped_response" in st:
            r = h(st["wrapped_response"])
            plain = s.unwrap(r[:-2], int.from_bytes(r[-2:], "big"))
            test.assertEqual((plain + r[-2:]).hex(), st["plain_response"], st["label"])


class Scp03Transcripts(unittest.TestCase):
    def test_kaoh(self):
        d = load("scp03_kaoh.json")
        for v in d["vectors"]:
            with self.subTest(v["name"]):
                aid = h(v["invoking_aid"])
                if "known_discrepancies" in v:
                    # the stated AID does not reproduce the challenge; its 7-byte
                    # prefix does (noted in the vector file)
                    aid = aid[:7]
                _transcript(self, v, aid)

    def test_pysim(self):
        d = load("scp03_pysim.json")
        self.assertEqual(len(d["vectors"]), 9)
        for v in d["vectors"]:
            with self.subTest(v["name"]):
                _transcript(self, v, h(v["invoking_aid_inferred"]))

    def test_extended_lc(self):
        """Our host produces exactly the wrapped APDUs of scp03_extended_lc.json."""
        d = load("scp03_extended_lc.json")
        key = h(d["static_key_enc_mac_dek"])
        ctx = h(d["host_challenge"]) + h(d["card_challenge"])
        self.assertEqual(gp.scp03_kdf(key, gp.DC_S_ENC, ctx, 128).hex(), d["s_enc"])
        self.assertEqual(gp.scp03_kdf(key, gp.DC_S_MAC, ctx, 128).hex(), d["s_mac"])
        self.assertEqual(gp.scp03_kdf(key, gp.DC_S_RMAC, ctx, 128).hex(), d["s_rmac"])
        s = gp.Scp03(key, key, key, h(d["host_challenge"]))
        s.set_session_keys(h(d["s_enc"]), h(d["s_mac"]), h(d["s_rmac"]), h(d["chaining_value_before_first_step"]))
        s.level = int(d["security_level"], 16)
        for st in d["steps"]:
            p = st["plain"]
            w = s.wrap(int(p["cla"], 16), int(p["ins"], 16), int(p["p1"], 16), int(p["p2"], 16),
                       h(p["data"]), p["ne"], st["extended"])
            with self.subTest(st["name"]):
                self.assertEqual(s.last_mac_input.hex(), st["cmac_input"])
                self.assertEqual(w.hex(), st["wrapped_apdu"])
                self.assertEqual(s.chain.hex(), st["chaining_value_after"])
                if st["encryption_counter_used"] is not None:
                    self.assertEqual(s.counter, st["encryption_counter_used"])
        self.assertEqual(len(d["steps"]), 6)


class Encodings(unittest.TestCase):
    def test_apdu_forms(self):
        self.assertEqual(gp.apdu(0x00, 0xA4, 0x04, 0x00, ne=256).hex(), "00a4040000")
        self.assertEqual(gp.apdu(0x80, 0xF2, 0x40, 0x02, b"\x4f\x00", 65536).hex(), "80f24002000002" + "4f00" + "0000")
        self.assertEqual(gp.apdu(0x00, 0xB0, 0, 0, ne=1500).hex(), "00b000000005dc")
        for a in ("00a4040000", "80f24002024f0000", "80f240020000024f000000", "00b000000005dc", "00d60000020102"):
            self.assertEqual(gp.apdu(*gp.parse_apdu(h(a))).hex(), a)

    def test_kcv_and_key_block(self):
        k = bytes(range(16))
        self.assertEqual(gp.kcv(k), gp.aes_ecb_encrypt(k, b"\x01" * 16)[:3])
        for n in (16, 24, 32):
            kb = gp.key_block(gp.TRANSPORT_KEY, bytes(n))
            elen = 32 if n > 16 else 16
            self.assertEqual(kb[:3], bytes([0x88, elen + 1, n]))
            self.assertEqual(len(kb), 3 + elen + 4)
            self.assertEqual(kb[-4], 3)

    def test_diversify_layout(self):
        # §7: KDF(master, 11/12/13, L = key bits, context = 10 bytes of div data)
        m = bytes(range(32))
        dd = bytes(range(10))
        k = gp.diversify(m, gp.DC_DIV_ENC, dd)
        self.assertEqual(len(k), 32)
        self.assertEqual(k[:16], gp.aes_cmac(m, bytes(11) + b"\x11\x00\x01\x00\x01" + dd))
        self.assertEqual(k[16:], gp.aes_cmac(m, bytes(11) + b"\x11\x00\x01\x00\x02" + dd))


if __name__ == "__main__":
    unittest.main()
