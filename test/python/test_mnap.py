"""test/python/test_mnap.py: the mnap Python binding against a virtual card
through a real pcscd (test/python/run.sh sets it up: area set up, the library
example AP loaded, its PIN 1234, key store $MNAP_KEYSTORE with passphrase
"pw").  Every error is checked by its exception class and name."""
import os
import unittest

import mnap

LIB = "D392F000014C4942"
READER = os.environ["MNAP_TEST_READER"]
KS_PATH = os.environ["MNAP_KEYSTORE"]


class Binding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ks = mnap.KeyStore.load(KS_PATH, "pw")

    @classmethod
    def tearDownClass(cls):
        cls.ks.close()

    def test_version_and_readers(self):
        self.assertEqual(mnap.version(), "1.0.0")
        self.assertIn(READER, mnap.Reader.list())

    def test_errors_are_named_exceptions(self):
        with self.assertRaises(mnap.KsPassphraseError) as cm:
            mnap.KeyStore.load(KS_PATH, "wrong")
        self.assertEqual(cm.exception.name, "MNAP_E_KS_PASSPHRASE")
        self.assertEqual(cm.exception.code, -60)
        self.assertEqual(str(cm.exception),
                         "key store %s: wrong key store passphrase [MNAP_E_KS_PASSPHRASE]" % KS_PATH)
        with self.assertRaises(mnap.KsNotFoundError):
            self.ks.get("no-such-set")
        with self.assertRaises(mnap.NoReaderError):
            mnap.Reader.connect("No Such Reader")
        self.assertTrue(issubclass(mnap.PinWrongError, mnap.MnapError))

    def test_area_info(self):
        with mnap.Reader.connect(READER) as card:
            info = card.area_info()
            self.assertEqual(info.state, "ACTIVE")
            self.assertEqual(card.reader, READER)

    def test_session_pin_and_files(self):
        keys = self.ks.get("library")
        self.assertTrue(keys.master)
        with mnap.Reader.connect(READER) as card:
            with card.ap_session(LIB, keys) as s:
                st = s.pin_status()
                self.assertFalse(st.verified)
                self.assertEqual(st.tries_left, 3)
                # the PIN file before the PIN: 6982
                with self.assertRaises(mnap.SecurityError) as cm:
                    s.read_records(0x0102)
                self.assertEqual(cm.exception.sw, 0x6982)
                with self.assertRaises(mnap.PinWrongError) as cm:
                    s.verify_pin("9999")
                self.assertEqual(cm.exception.tries_left, 2)
                with self.assertRaises(mnap.PinPolicyError):
                    s.verify_pin("12")
                s.verify_pin("1234")
                self.assertTrue(s.pin_status().verified)
                # transparent: write, read back, part of it
                s.update_binary(0x0101, b"PATRON-0042".ljust(32, b"\0"))
                self.assertEqual(s.read_binary(0x0101), b"PATRON-0042".ljust(32, b"\0"))
                self.assertEqual(s.read_binary(0x0101, offset=7, length=4), b"0042")
                self.assertEqual(s.read_binary(0x0103)[:21].decode(), "市立中央図書館")
                info = s.select_ef(0x0102)
                self.assertEqual((info.type, info.record_length, info.record_count), ("cyclic", 48, 20))
                # records: exactly their length
                s.append_record(0x0102, b"2026-12-07 BOOK-1".ljust(48))
                s.append_record(0x0102, b"2026-12-07 BOOK-2".ljust(48))
                with self.assertRaises(ValueError) as cm:
                    s.append_record(0x0102, b"short")
                self.assertIn("records are written at exactly their length", str(cm.exception))
                recs = s.read_records(0x0102)
                self.assertEqual(recs[:2], [b"2026-12-07 BOOK-2".ljust(48), b"2026-12-07 BOOK-1".ljust(48)])
                with self.assertRaises(mnap.NotFoundError):
                    s.select_ef(0x0999)
                # the write-NEVER file
                with self.assertRaises(mnap.SecurityError):
                    s.update_binary(0x0103, b"x")
            # a new session: the PIN must be given again
            with card.ap_session(LIB, keys) as s:
                self.assertFalse(s.pin_status().verified)
                self.assertEqual(s.pin_status().tries_left, 3)

    def test_wrong_keys_and_no_ap(self):
        with mnap.Reader.connect(READER) as card:
            wrong = mnap.KeySet(bytes(range(16)), kvn=1)
            with self.assertRaises(mnap.CardAuthError):
                card.ap_session(LIB, wrong)
            with self.assertRaises(mnap.NotFoundError):
                card.ap_session("D392F00001FFFF", self.ks.get("library"))

    def test_exclusive(self):
        with mnap.Reader.connect(READER, exclusive=True) as card:
            with self.assertRaises(mnap.CardBusyError):
                mnap.Reader.connect(READER)
            self.assertEqual(card.area_info().state, "ACTIVE")
        with mnap.Reader.connect(READER) as again:
            self.assertEqual(again.area_info().state, "ACTIVE")

    def test_keyset_kcv(self):
        k = mnap.KeySet(bytes.fromhex("404142434445464748494A4B4C4D4E4F"), kvn=0xFF)
        kcv = k.kcv()
        self.assertEqual(len(kcv), 3)
        self.assertEqual(k.kvn, 0xFF)
        k.wipe()


if __name__ == "__main__":
    unittest.main(verbosity=2)
