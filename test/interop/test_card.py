# test/interop/test_card.py: the independent peer against mnap-vcard through
# pcscd, in the transport mode of MNAP_TRANSPORT (t1, t0, contactless).
#
# Every expectation is PROTOCOL.md's (section numbers in the comments), with
# exact status words and bytes.  Each test class gets its own fresh card.

import os
import unittest

import gp
from card import MODE, Card, CardError
from gp import AM_AID, tlv

T0 = MODE == "t0"
EXT_OK = not T0            # extended APDUs reach the card (T=1, contactless)

REGION_MASTER = (bytes(range(0xA0, 0xB0)), bytes(range(0xB0, 0xC0)), bytes(range(0xC0, 0xD0)))
REGION_KVN = 0x01
TRANSPORT = (gp.TRANSPORT_KEY,) * 3
CONTENT = bytes((i * 7 + 3) & 0xFF for i in range(3000))
PIN = b"1234"

AID_128 = bytes.fromhex("D392F000260101")
AID_192 = bytes.fromhex("D392F000260102")
AID_256 = bytes.fromhex("D392F000260103")


def ap_keys(n, salt):
    return tuple(bytes(((i * 13 + salt + k * 0x40) & 0xFF) for i in range(n)) for k in range(3))


def sw_hex(sw):
    return "%04X" % sw


def fci(aid, state):
    return tlv(0x6F, tlv(0x84, aid) + tlv(0xA5, tlv(0x9F70, bytes([state]))))


def std_efs(size=512, content_len=100):
    return [gp.ef_transparent(0x0101, size, sfi=1, content=CONTENT[:content_len]),
            gp.ef_transparent(0x0102, 64, sfi=2, read=gp.RULE_PIN, write=gp.RULE_PIN),
            gp.ef_records(0x0201, gp.EF_LINEAR, 32, 5, sfi=3),
            gp.ef_records(0x0202, gp.EF_CYCLIC, 16, 3, sfi=4, read=gp.RULE_PIN),
            gp.ef_transparent(0x0301, 16, sfi=5, read=gp.RULE_NEVER, write=gp.RULE_NEVER)]


# ---- fixtures -------------------------------------------------------------

def region_keys(card):
    return gp.diversify_set(*REGION_MASTER, card.div_data)


def setup_area(card):
    """AREA SETUP (§6): PUT KEY FF -> 01 in a channel opened with KVN FF."""
    _, sw = card.select(AM_AID)
    assert sw == 0x9000, sw_hex(sw)
    s = card.open_channel(TRANSPORT, 0xFF, 0x33, AM_AID)
    keys = region_keys(card)
    d, sw = s.cmd(0x80, 0xD8, 0xFF, 0x81, gp.key_set_data(REGION_KVN, gp.TRANSPORT_KEY, *keys), 256)
    if sw != 0x9000 or d != gp.put_key_response(REGION_KVN, *keys):
        raise CardError("AREA SETUP: %s %s" % (d.hex(), sw_hex(sw)))
    card.region = keys
    return s


def am_channel(card, level=0x33, kvn=REGION_KVN, keys=None):
    _, sw = card.select(AM_AID)
    assert sw == 0x9000, sw_hex(sw)
    return card.open_channel(keys or card.region, kvn, level, AM_AID)


def load_ap(s, image, block=200, chained=False):
    """LOAD AP in blocks (P2 numbers them, P1 80 on the last); with chained,
    each block goes as one command cut into ISO-chained segments."""
    blocks = [image[i:i + block] for i in range(0, len(image), block)]
    for n, b in enumerate(blocks):
        p1 = 0x80 if n == len(blocks) - 1 else 0x00
        if chained:
            segs = s.scp.wrap_chained(0x80, 0xE8, p1, n, b)
            for k, seg in enumerate(segs):
                d, sw, _ = s.card.xchg(seg)
                if k < len(segs) - 1:
                    if (d, sw) != (b"", 0x9000):
                        return "segment %d: %s %s" % (k, d.hex(), sw_hex(sw))
            d = s.scp.unwrap(d, sw)
        else:
            d, sw = s.cmd(0x80, 0xE8, p1, n, b)
        if (d, sw) != (b"", 0x9000):
            return "block %d: %s %s" % (n, d.hex(), sw_hex(sw))
    return None


def make_image(card, aid, keys, kvn=0x30, **kw):
    efs = kw.pop("efs", None) or std_efs()
    return gp.ap_image(aid, card.region[2], keys, kvn, efs, **kw)


class CardCase(unittest.TestCase):
    NAME = None
    SETUP = True

    @classmethod
    def setUpClass(cls):
        cls.card = Card(cls.NAME)
        try:
            cls.card.start()
            if cls.SETUP:
                setup_area(cls.card)
            cls.prepare()
        except BaseException:
            cls.card.stop()
            raise

    @classmethod
    def prepare(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        cls.card.stop()

    def assertSW(self, got, want, what=""):
        self.assertEqual(sw_hex(got), sw_hex(want), what)

    def assertResp(self, got, data, sw, what=""):
        d, s = got[0], got[1]
        self.assertEqual((d.hex().upper(), sw_hex(s)), (data.hex().upper(), sw_hex(sw)), what)


# ---- transport -------------------------------------------------------------

class Transport(CardCase):
    NAME = "atr"
    SETUP = False

    def test_atr_and_protocol(self):
        from smartcard import scard
        atr = self.card.atr
        if MODE == "contactless":
            # §10: the PC/SC Type B ATR: 3B 88 80 01, ATQB app data (4),
            # protocol info (3), MBLI/CID, TCK (XOR of T0..last = 0)
            self.assertEqual(len(atr), 13, atr.hex())
            self.assertEqual(atr[:4], bytes.fromhex("3B888001"))
            x = 0
            for b in atr[1:]:
                x ^= b
            self.assertEqual(x, 0, "TCK")
        else:
            self.assertEqual(atr[0], 0x3B)
            self.assertIn(b"MNAP", atr, "historical bytes name the runtime")
        want = scard.SCARD_PROTOCOL_T0 if T0 else scard.SCARD_PROTOCOL_T1
        self.assertEqual(self.card.protocol, want)

    def test_extended_apdu(self):
        # §10: T=0 carries short APDUs only: an extended APDU gives 6700.
        self.assertSW(self.card.select(AM_AID)[1], 0x9000)
        d, sw = self.card.send(0x80, 0xCA, 0xDF, 0x20, ne=65536)
        if T0:
            self.assertResp((d, sw), b"", 0x6700)
        else:
            self.assertSW(sw, 0x9000)
            self.assertEqual(d[:2], b"\xDF\x20")


# ---- area set-up -------------------------------------------------------------

class AreaSetup(CardCase):
    NAME = "setup"
    SETUP = False

    def test_1_select_no_aid(self):
        # §2: SELECT with no AID selects the AM, FCI as for P2 00.
        want = fci(AM_AID, 0x01)
        for cmd, resp in (("00A4040000", want), ("00A40400", want), ("00A4040C", b"")):
            with self.subTest(cmd):
                self.assertResp(self.card.xchg(bytes.fromhex(cmd))[:2], resp, 0x9000, cmd)
        self.assertResp(self.card.select(AM_AID), want, 0x9000, "SELECT AM by AID")
        self.assertResp(self.card.select(AID_128), b"", 0x6A82, "unknown AID")

    def test_2_blank_area(self):
        self.card.select(AM_AID)
        d, sw = self.card.send(0x80, 0xCA, 0xDF, 0x20, ne=256)
        self.assertSW(sw, 0x9000)
        t = gp.parse_tlv(d)
        self.assertEqual([x[0] for x in t], [0xDF20])
        inner = gp.parse_tlv(t[0][1])
        self.assertEqual([x[0] for x in inner], [0x80, 0x83, 0x84, 0x87, 0x88], "open DF20 fields")
        v = dict(inner)
        self.assertEqual(v[0x80], b"\x01")
        self.assertEqual(v[0x83], b"\x10")
        self.assertEqual(len(v[0x84]), 2)
        self.assertEqual(v[0x87], b"\x08\x00")
        self.assertEqual(v[0x88], b"\x08\x00")
        # §6: in BLANK every other AM command gives 6985 (area state before channel)
        self.assertSW(self.card.send(0x80, 0xCA, 0xDF, 0x21, ne=256)[1], 0x6985, "GET DATA DF21")
        self.assertSW(self.card.send(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256)[1], 0x6985, "GET STATUS")
        self.assertSW(self.card.send(0x80, 0xE4, 0x00, 0x00, b"\x4F\x07" + AID_128)[1], 0x6985, "DELETE")
        self.assertSW(self.card.send(0x80, 0xF0, 0x80, 0x7F)[1], 0x6985, "SET STATUS")
        # unknown KVN
        s = gp.Scp03(*TRANSPORT, os.urandom(8))
        self.assertSW(self.card.send_raw_init(s, 0x01)[1], 0x6A88, "INITIALIZE UPDATE KVN 01")

    def test_3_levels(self):
        # §3: the AM needs 33; a level without every bit of it: 6982; a level
        # not in the list: 6A86; wrong cryptogram: 6300; no initiation: 6985
        self.card.select(AM_AID)
        for level in (0x01, 0x03, 0x11, 0x13):
            s = gp.Scp03(*TRANSPORT, os.urandom(8))
            d, sw = self.card.send_raw_init(s, 0xFF)
            self.assertSW(sw, 0x9000)
            s.parse_init_response(d, AM_AID)
            self.assertEqual(s.key_info, b"\xFF\x03\x70")
            self.assertEqual(s.div_data, self.card.div_data)
            self.assertResp(self.card.xchg(s.external_authenticate_apdu(level))[:2], b"", 0x6982, "level %02X" % level)
        s = gp.Scp03(*TRANSPORT, os.urandom(8))
        s.parse_init_response(self.card.send_raw_init(s, 0xFF)[0], AM_AID)
        self.assertSW(self.card.xchg(s.external_authenticate_apdu(0x02))[1], 0x6A86, "level 02")
        s = gp.Scp03(*TRANSPORT, os.urandom(8))
        s.parse_init_response(self.card.send_raw_init(s, 0xFF)[0], AM_AID)
        ea = s.external_authenticate_apdu(0x33, cryptogram=bytes(8))
        self.assertSW(self.card.xchg(ea)[1], 0x6300, "wrong host cryptogram")
        self.assertSW(self.card.xchg(ea)[1], 0x6985, "EXTERNAL AUTHENTICATE without initiation")
        s = gp.Scp03(*TRANSPORT, os.urandom(8))
        s.parse_init_response(self.card.send_raw_init(s, 0xFF)[0], AM_AID)
        self.assertSW(self.card.xchg(s.external_authenticate_apdu(0x33, tamper=True))[1], 0x6300, "bad C-MAC")
        # a successful one, then its replay
        s = gp.Scp03(*TRANSPORT, os.urandom(8))
        s.parse_init_response(self.card.send_raw_init(s, 0xFF)[0], AM_AID)
        ea = s.external_authenticate_apdu(0x33)
        self.assertResp(self.card.xchg(ea)[:2], b"", 0x9000)
        self.assertSW(self.card.xchg(ea)[1], 0x6985, "replayed EXTERNAL AUTHENTICATE")

    def test_4_setup(self):
        self.card.select(AM_AID)
        s = self.card.open_channel(TRANSPORT, 0xFF, 0x33, AM_AID)
        keys = region_keys(self.card)
        # PUT KEY whose old KVN is not FF in BLANK: 6985, changes nothing
        d, sw = s.cmd(0x80, 0xD8, 0x01, 0x81, gp.key_set_data(REGION_KVN, gp.TRANSPORT_KEY, *keys), 256)
        self.assertResp((d, sw), b"", 0x6985, "PUT KEY old KVN 01 in BLANK")
        # a wrong KCV: 6A80
        bad = bytearray(gp.key_set_data(REGION_KVN, gp.TRANSPORT_KEY, *keys))
        bad[-1] ^= 1
        self.assertResp(s.cmd(0x80, 0xD8, 0xFF, 0x81, bytes(bad), 256), b"", 0x6A80, "wrong KCV")
        d, sw = s.cmd(0x80, 0xD8, 0xFF, 0x81, gp.key_set_data(REGION_KVN, gp.TRANSPORT_KEY, *keys), 256)
        self.assertResp((d, sw), gp.put_key_response(REGION_KVN, *keys), 0x9000, "AREA SETUP")
        self.card.region = keys
        # the channel keeps its session keys: DF20 in it shows ACTIVE
        d, sw = s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256)
        self.assertSW(sw, 0x9000)
        inner = gp.parse_tlv(gp.parse_tlv(d)[0][1])
        self.assertEqual([x[0] for x in inner], [0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88])
        v = dict(inner)
        self.assertEqual(v[0x80], b"\x0F")
        self.assertEqual(len(v[0x81]), 4)
        self.assertEqual(v[0x82], b"\x00")
        self.assertEqual(v[0x85], self.card.serial)
        self.assertEqual(v[0x86], self.card.div_data)

    def test_5_after_setup(self):
        with self.subTest("SELECT with no AID"):
            self.assertResp(self.card.xchg(bytes.fromhex("00A4040000"))[:2], fci(AM_AID, 0x0F), 0x9000)
        self.card.select(AM_AID)
        s = gp.Scp03(*TRANSPORT, os.urandom(8))
        self.assertSW(self.card.send_raw_init(s, 0xFF)[1], 0x6A88, "transport key set erased")
        s = self.card.open_channel(region_keys(self.card), 0x00, 0x33, AM_AID)
        self.assertEqual(s.scp.key_info, b"\x01\x03\x70")
        self.assertEqual(s.scp.div_data, self.card.div_data)
        self.assertSW(s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256)[1], 0x9000)


# ---- area manager commands ----------------------------------------------------

class AreaManager(CardCase):
    NAME = "am"

    def test_01_lower_levels_refused(self):
        for level in (0x01, 0x03, 0x11, 0x13):
            with self.assertRaises(CardError) as e:
                am_channel(self.card, level)
            self.assertTrue(str(e.exception).endswith("level %02X:  6982" % level), str(e.exception))

    def test_02_no_channel(self):
        # §4/§9: AM commands but GET DATA DF20 need the channel: 6982
        self.card.select(AM_AID)
        for cmd, what in ((gp.apdu(0x80, 0xCA, 0xDF, 0x21, ne=256), "DF21"),
                          (gp.apdu(0x80, 0xCA, 0x00, 0xE0, ne=256), "00E0"),
                          (gp.apdu(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256), "GET STATUS"),
                          (gp.apdu(0x80, 0xF0, 0x80, 0x7F), "SET STATUS")):
            self.assertResp(self.card.xchg(cmd)[:2], b"", 0x6982, what)

    def test_03_get_data(self):
        s = am_channel(self.card)
        d, sw = s.cmd(0x80, 0xCA, 0x00, 0xE0, ne=256)
        kb = b"".join(tlv(0xC0, bytes([kid, REGION_KVN, 0x88, 0x10])) for kid in (1, 2, 3))
        self.assertResp((d, sw), tlv(0xE0, kb), 0x9000, "GET DATA 00E0")
        self.assertResp(s.cmd(0x80, 0xCA, 0x9F, 0x7F, ne=256), b"", 0x6A88, "CPLC")
        self.assertResp(s.cmd(0x80, 0xCA, 0x00, 0x66, ne=256), b"", 0x6A88, "card data")
        d, sw = s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256)
        self.assertSW(sw, 0x9000)

    def test_04_get_status_empty(self):
        s = am_channel(self.card)
        isd = tlv(0xE3, tlv(0x4F, AM_AID) + tlv(0x9F70, b"\x0F") + tlv(0xC5, b"\x9C\x00\x00"))
        for p1, p2, want, sw, what in ((0x80, 0x02, isd, 0x9000, "P1 80"), (0x40, 0x02, b"", 0x6A88, "P1 40 no AP"),
                                       (0x20, 0x02, b"", 0x6A88, "P1 20"), (0x10, 0x02, b"", 0x6A88, "P1 10"),
                                       (0x80, 0x03, b"", 0x6A86, "P1 80 P2 03"), (0x80, 0x00, b"", 0x6A86, "P1 80 P2 00"),
                                       (0x40, 0x03, b"", 0x6A88, "P2 03 no continuation"), (0x01, 0x02, b"", 0x6A86, "P1 01")):
            with self.subTest(what):
                self.assertResp(s.cmd(0x80, 0xF2, p1, p2, b"\x4F\x00", 256), want, sw, what)

    def test_05_ap_life(self):
        s = am_channel(self.card)
        keys = ap_keys(16, 1)
        self.assertIsNone(load_ap(s, make_image(self.card, AID_128, keys, min_level=0x01)))
        d, sw = s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256)
        self.assertSW(sw, 0x9000)
        e = gp.parse_tlv(d)
        self.assertEqual([x[0] for x in e], [0xE3])
        f = gp.parse_tlv(e[0][1])
        self.assertEqual([x[0] for x in f], [0x4F, 0x9F70, 0xDF30, 0xDF31])
        self.assertEqual(f[0][1], AID_128)
        self.assertEqual(f[1][1], b"\x07")
        self.assertEqual(len(f[2][1]), 4)
        self.assertEqual(f[3][1], b"\x03", "max tries while the PIN was never set")
        # loading it again: 6A89
        self.assertIn("6A89", load_ap(s, make_image(self.card, AID_128, keys)) or "")
        # suspend: the AP refuses a channel (6A81); resume
        aidf = tlv(0x4F, AID_128)
        self.assertResp(s.cmd(0x80, 0xF0, 0x40, 0x83, aidf), b"", 0x9000, "suspend")
        d, sw = s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256)
        self.assertEqual(dict(gp.parse_tlv(gp.parse_tlv(d)[0][1]))[0x9F70], b"\x83")
        self.assertResp(self.card.select(AID_128), fci(AID_128, 0x83), 0x9000)
        self.assertSW(self.card.send_raw_init(gp.Scp03(*keys, os.urandom(8)), 0x00)[1], 0x6A81, "suspended AP")
        s = am_channel(self.card)
        self.assertResp(s.cmd(0x80, 0xF0, 0x40, 0x07, aidf), b"", 0x9000, "resume")
        # RESET RETRY COUNTER sets the PIN
        self.assertResp(s.cmd(0x80, 0x2C, 0x00, 0x81, aidf + tlv(0xDF02, b"5678")), b"", 0x9000, "RESET RETRY COUNTER")
        self.card.select(AID_128)
        a = self.card.open_channel(keys, 0x00, 0x33, AID_128)
        self.assertResp(a.cmd(0x00, 0x20, 0x00, 0x81, b"5678"), b"", 0x9000, "VERIFY the PIN set by the AM")
        # DELETE
        s = am_channel(self.card)
        self.assertResp(s.cmd(0x80, 0xE4, 0x00, 0x00, aidf), b"", 0x9000, "DELETE")
        self.assertResp(s.cmd(0x80, 0xE4, 0x00, 0x00, aidf), b"", 0x6A88, "DELETE unknown")
        self.assertResp(s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256), b"", 0x6A88, "no AP left")
        self.assertResp(self.card.select(AID_128), b"", 0x6A82)

    def test_06_lock(self):
        s = am_channel(self.card)
        self.assertResp(s.cmd(0x80, 0xF0, 0x80, 0x7F), b"", 0x9000, "LOCK")
        d, sw = s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256)
        self.assertEqual(dict(gp.parse_tlv(gp.parse_tlv(d)[0][1]))[0x80], b"\x7F")
        # §9: in LOCKED the AM's other commands give 6985
        self.assertResp(s.cmd(0x80, 0xE8, 0x80, 0x00, b"\x4F\x00"), b"", 0x6985, "LOAD AP when LOCKED")
        self.assertResp(s.cmd(0x80, 0xF0, 0x80, 0x0F), b"", 0x9000, "unlock")

    def test_07_put_key_rotation(self):
        s = am_channel(self.card)
        new = ap_keys(32, 0x55)
        d, sw = s.cmd(0x80, 0xD8, 0x05, 0x81, gp.key_set_data(0x02, self.card.region[2], *new), 256)
        self.assertResp((d, sw), b"", 0x6A88, "old KVN not the current one")
        d, sw = s.cmd(0x80, 0xD8, REGION_KVN, 0x81, gp.key_set_data(0x02, self.card.region[2], *new), 256)
        self.assertResp((d, sw), gp.put_key_response(0x02, *new), 0x9000, "PUT KEY 01 -> 02 (AES-256)")
        # the channel goes on with its session keys
        kb = b"".join(tlv(0xC0, bytes([kid, 0x02, 0x88, 0x20])) for kid in (1, 2, 3))
        self.assertResp(s.cmd(0x80, 0xCA, 0x00, 0xE0, ne=256), tlv(0xE0, kb), 0x9000, "00E0 after PUT KEY")
        s = am_channel(self.card, kvn=0x02, keys=new)
        self.assertEqual(s.scp.key_info, b"\x02\x03\x70")
        # and back, with the new Key-DEK
        d, sw = s.cmd(0x80, 0xD8, 0x02, 0x81, gp.key_set_data(REGION_KVN, new[2], *self.card.region), 256)
        self.assertResp((d, sw), gp.put_key_response(REGION_KVN, *self.card.region), 0x9000, "PUT KEY 02 -> 01")
        am_channel(self.card)


# ---- the security log -----------------------------------------------------------

def log_entries(d):
    t = gp.parse_tlv(d)
    assert [x[0] for x in t] == [0xDF21], d.hex()
    out = []
    for tag, v in gp.parse_tlv(t[0][1]):
        assert tag == 0xDF22, hex(tag)
        f = gp.parse_tlv(v)
        tags = [x[0] for x in f]
        assert tags in ([0x80, 0x81, 0x83], [0x80, 0x81, 0x82, 0x83]), tags
        f = dict(f)
        assert len(f[0x80]) == 4 and len(f[0x81]) == 1 and len(f[0x83]) == 1
        out.append((int.from_bytes(f[0x80], "big"), f[0x81][0], f.get(0x82), f[0x83][0]))
    return out


class SecurityLog(CardCase):
    NAME = "log"

    def read_log(self, s):
        d, sw = s.cmd(0x80, 0xCA, 0xDF, 0x21, ne=256)
        self.assertSW(sw, 0x9000)
        return log_entries(d)

    def test_log(self):
        s = am_channel(self.card)
        before = self.read_log(s)
        top = before[0][0] if before else 0
        seqs = [e[0] for e in before]
        self.assertEqual(seqs, sorted(seqs, reverse=True), "newest first")
        keys = ap_keys(16, 9)
        self.assertIsNone(load_ap(s, make_image(self.card, AID_128, keys, pin=PIN, min_level=0x01)))
        # two failed authentications on the AM: one AUTH_FAIL entry, repeat 2
        for _ in range(2):
            self.card.select(AM_AID)
            x = gp.Scp03(*self.card.region, os.urandom(8))
            x.parse_init_response(self.card.send_raw_init(x, 0x00)[0], AM_AID)
            self.assertSW(self.card.xchg(x.external_authenticate_apdu(0x33, cryptogram=bytes(8)))[1], 0x6300)
        # a wrong PIN on the AP: PIN_FAIL with the AP's AID
        self.card.select(AID_128)
        a = self.card.open_channel(keys, 0x00, 0x01, AID_128)
        self.assertResp(a.cmd(0x00, 0x20, 0x00, 0x81, b"9999"), b"", 0x63C2, "wrong PIN")
        s = am_channel(self.card)
        log = self.read_log(s)
        self.assertEqual(log[0], (top + 3, 0x01, AID_128, 1), "PIN_FAIL")
        self.assertEqual(log[1], (top + 2, 0x04, None, 2), "AUTH_FAIL x2")
        self.assertEqual(log[2], (top + 1, 0x05, AID_128, 1), "AP_LOADED")
        self.assertEqual(log[3:], before)
        # more entries than 256 bytes: AUTH_FAIL of the AM and PIN_FAIL of
        # the AP alternate, so none merges
        for i in range(6):
            self.card.select(AM_AID)
            x = gp.Scp03(*self.card.region, os.urandom(8))
            x.parse_init_response(self.card.send_raw_init(x, 0x00)[0], AM_AID)
            self.assertSW(self.card.xchg(x.external_authenticate_apdu(0x33, cryptogram=bytes(8)))[1], 0x6300)
            self.card.select(AID_128)
            a = self.card.open_channel(keys, 0x00, 0x01, AID_128)
            self.assertSW(a.cmd(0x00, 0x20, 0x00, 0x81, b"9999")[1], 0x63C1)
            self.assertSW(a.cmd(0x00, 0x20, 0x00, 0x81, PIN)[1], 0x9000)
            a.cmd(0x00, 0x20, 0x00, 0x81, b"9999")
        s = am_channel(self.card)
        full = self.read_log(s)
        self.assertEqual(full[12:], log)
        self.assertEqual([e[1] for e in full[:12]], [0x01, 0x04] * 6)
        # §3: an object longer than Ne (short Le 00) is not cut: 61xx, then
        # GET RESPONSE (unwrapped, outside the MAC chain) in parts
        d, sw, parts = s.send(0x80, 0xCA, 0xDF, 0x21, ne=256)
        self.assertSW(sw, 0x9000)
        self.assertEqual(parts[0] >> 8, 0x61, "61xx first")
        self.assertEqual(log_entries(d), full)
        # the chain goes on after GET RESPONSE
        self.assertSW(s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256)[1], 0x9000)
        if EXT_OK:
            # hosts SHOULD send extended Le 0000 for the log (§3): one part
            d, sw, parts = s.send(0x80, 0xCA, 0xDF, 0x21, ne=65536)
            self.assertEqual((sw_hex(sw), len(parts)), ("9000", 1), "DF21 with Le 0000")
            self.assertEqual(log_entries(d), full)


# ---- AP flows at every level and key length ---------------------------------------

class ApFlows(CardCase):
    NAME = "ap"
    APS = ((AID_128, ap_keys(16, 1)), (AID_192, ap_keys(24, 2)), (AID_256, ap_keys(32, 3)))

    @classmethod
    def prepare(cls):
        s = am_channel(cls.card)
        for aid, keys in cls.APS:
            err = load_ap(s, make_image(cls.card, aid, keys, kvn=0x30, pin=PIN, min_level=0x01))
            if err:
                raise CardError("LOAD AP %s: %s" % (aid.hex(), err))

    def flow(self, aid, keys, level):
        card = self.card
        self.assertResp(card.select(aid), fci(aid, 0x07), 0x9000)
        s = card.open_channel(keys, 0x30, level, aid)
        self.assertEqual(s.scp.key_info, b"\x30\x03\x70")
        n_mac = 8 if level & 0x10 else 0

        def raw(cla, ins, p1, p2, data=b"", ne=None):
            w = s.scp.wrap(cla, ins, p1, p2, data, ne)
            if level & 0x02 and data:
                self.assertNotIn(data, w, "C-DEC: the data is encrypted")
            d, sw, _ = card.xchg(w)
            return d, s.scp.unwrap(d, sw), sw

        # SELECT EF 0101 (P2 0C)
        d, p, sw = raw(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")
        self.assertEqual((p, sw_hex(sw)), (b"", "9000"))
        self.assertEqual(len(d), n_mac)
        # READ BINARY 16 bytes
        d, p, sw = raw(0x00, 0xB0, 0x00, 0x00, ne=16)
        self.assertEqual((p.hex(), sw_hex(sw)), (CONTENT[:16].hex(), "9000"))
        self.assertEqual(len(d), (32 if level & 0x20 else 16) + n_mac, "R-ENC pads to 32, R-MAC adds 8")
        if level & 0x20:
            self.assertNotEqual(d[:16], CONTENT[:16])
        # UPDATE BINARY by SFI and read back
        new = bytes([level]) * 8
        d, p, sw = raw(0x00, 0xD6, 0x81, 0x40, new)
        self.assertEqual((p, sw_hex(sw)), (b"", "9000"))
        d, p, sw = raw(0x00, 0xB0, 0x81, 0x40, ne=8)
        self.assertEqual((p, sw_hex(sw)), (new, "9000"))
        # records: APPEND to the linear EF (SFI 3), READ RECORD
        rec = bytes([level]) * 32
        d, p, sw = raw(0x00, 0xE2, 0x00, 3 << 3, rec)
        self.assertEqual((p, sw_hex(sw)), (b"", "9000"), "APPEND RECORD")
        d, p, sw = raw(0x00, 0xB2, 0x01, (3 << 3) | 4, ne=256)
        self.assertEqual(sw_hex(sw), "9000")
        self.assertEqual(len(p), 32)
        # NEVER rule: 6982; PIN rule before VERIFY: 6982
        d, p, sw = raw(0x00, 0xB0, 0x85, 0x00, ne=16)
        self.assertEqual((d, sw_hex(sw)), (b"", "6982"), "NEVER")
        d, p, sw = raw(0x00, 0xB0, 0x82, 0x00, ne=16)
        self.assertEqual((d, sw_hex(sw)), (b"", "6982"), "PIN rule, not verified")
        d, p, sw = raw(0x00, 0x20, 0x00, 0x81, PIN)
        self.assertEqual((p, sw_hex(sw)), (b"", "9000"), "VERIFY")
        d, p, sw = raw(0x00, 0xB0, 0x82, 0x00, ne=16)
        self.assertEqual((len(p), sw_hex(sw)), (16, "9000"), "PIN rule after VERIFY")
        # the channel still works after those refusals
        d, p, sw = raw(0x00, 0xB0, 0x81, 0x00, ne=4)
        self.assertEqual((p, sw_hex(sw)), (CONTENT[:4], "9000"))
        # the AM's commands are not reachable from an AP channel: 6986 (§4)
        d, p, sw = raw(0x80, 0xCA, 0xDF, 0x20, ne=256)
        self.assertEqual((d, sw_hex(sw)), (b"", "6986"), "GET DATA DF20 in an AP channel")

    def test_levels(self):
        for aid, keys in self.APS:
            for level in gp.LEVELS:
                with self.subTest(key_bits=len(keys[0]) * 8, level="%02X" % level):
                    self.flow(aid, keys, level)

    def test_no_channel(self):
        self.card.select(AID_128)
        self.assertResp(self.card.send(0x00, 0xB0, 0x81, 0x00, ne=16), b"", 0x6982, "READ BINARY without channel")
        # empty VERIFY is allowed without a channel
        self.assertResp(self.card.send(0x00, 0x20, 0x00, 0x81), b"", 0x63C3, "empty VERIFY")


# ---- LOAD AP -----------------------------------------------------------------------

class LoadAp(CardCase):
    NAME = "load"

    def check_ap(self, aid, keys, content_len):
        self.assertResp(self.card.select(aid), fci(aid, 0x07), 0x9000)
        a = self.card.open_channel(keys, 0x00, 0x33, aid)
        d, sw = a.cmd(0x00, 0xB0, 0x81, 0x00, ne=min(content_len, 256))
        self.assertResp((d, sw), CONTENT[:min(content_len, 256)], 0x9000)

    def test_blocks(self):
        s = am_channel(self.card)
        keys = ap_keys(16, 4)
        img = make_image(self.card, AID_128, keys, efs=std_efs(1200, 1000))
        self.assertGreater(len(img), 1000)
        self.assertIsNone(load_ap(s, img, block=200))
        self.check_ap(AID_128, keys, 1000)

    def test_chained(self):
        s = am_channel(self.card)
        keys = ap_keys(24, 5)
        img = make_image(self.card, AID_192, keys, efs=std_efs(1200, 1000))
        self.assertIsNone(load_ap(s, img, block=len(img), chained=True), "one block of %d bytes, chained" % len(img))
        self.check_ap(AID_192, keys, 1000)
        s = am_channel(self.card)
        keys = ap_keys(32, 6)
        img = make_image(self.card, AID_256, keys, efs=std_efs(1200, 1000))
        self.assertIsNone(load_ap(s, img, block=600, chained=True), "blocks of 600 bytes, chained")
        self.check_ap(AID_256, keys, 1000)

    def test_extended_block(self):
        s = am_channel(self.card)
        keys = ap_keys(16, 7)
        aid = bytes.fromhex("D392F000260199")
        img = make_image(self.card, aid, keys, efs=std_efs(1200, 1000))
        if not EXT_OK:
            # §10: T=0 has no extended APDU: 6700; the block goes chained instead
            self.assertResp(s.cmd(0x80, 0xE8, 0x80, 0x00, img), b"", 0x6700, "extended LOAD AP in T=0")
            return
        self.assertIsNone(load_ap(s, img, block=len(img)), "one block of %d bytes, extended APDU" % len(img))
        self.check_ap(aid, keys, 1000)

    def test_put_key_ap(self):
        # §5: an AP rotates its own key set from its own channel
        s = am_channel(self.card)
        keys = ap_keys(16, 0x61)
        aid = bytes.fromhex("D392F000260197")
        self.assertIsNone(load_ap(s, make_image(self.card, aid, keys, kvn=0x30)))
        self.card.select(aid)
        a = self.card.open_channel(keys, 0x30, 0x33, aid)
        new = ap_keys(24, 0x62)
        self.assertResp(a.cmd(0x80, 0xD8, 0x30, 0x81, gp.key_set_data(0x31, keys[2], *new), 256),
                        gp.put_key_response(0x31, *new), 0x9000, "PUT KEY 30 -> 31 in the AP's channel")
        self.card.select(aid)
        self.assertSW(self.card.send_raw_init(gp.Scp03(*keys, os.urandom(8)), 0x30)[1], 0x6A88, "old KVN gone")
        self.card.select(aid)
        a = self.card.open_channel(new, 0x31, 0x33, aid)
        self.assertEqual(a.scp.key_info, b"\x31\x03\x70")
        self.assertResp(a.cmd(0x00, 0xB0, 0x81, 0x00, ne=8), CONTENT[:8], 0x9000)

    def test_without_channel(self):
        # §4, §9: a block out of order is LOAD AP's own check, after the
        # channel: 6982; a chained LOAD AP with SM and no channel is joined
        # first (segments 9000) and refused 6982 on the last segment
        self.card.select(AM_AID)
        with self.subTest("block out of order"):
            self.assertResp(self.card.send(0x80, 0xE8, 0x80, 0x05, b"\x4F\x00"), b"", 0x6982, "block 5, no channel")
        x = gp.Scp03(*ap_keys(16, 0x71), os.urandom(8))
        k = bytes(16)
        x.set_session_keys(k, k, k)
        x.level = 0x33
        segs = x.wrap_chained(0x80, 0xE8, 0x80, 0x00, bytes(600))
        self.assertGreater(len(segs), 2)
        for n, seg in enumerate(segs[:-1]):
            self.assertResp(self.card.xchg(seg)[:2], b"", 0x9000, "segment %d" % n)
        self.assertResp(self.card.xchg(segs[-1])[:2], b"", 0x6982, "last segment")

    def test_out_of_order(self):
        s = am_channel(self.card)
        keys = ap_keys(16, 8)
        aid = bytes.fromhex("D392F000260198")
        img = make_image(self.card, aid, keys)
        self.assertResp(s.cmd(0x80, 0xE8, 0x00, 0x00, img[:100]), b"", 0x9000)
        self.assertResp(s.cmd(0x80, 0xE8, 0x80, 0x02, img[100:]), b"", 0x6A86, "block 2 after 0")
        self.assertResp(s.cmd(0x80, 0xE8, 0x80, 0x01, img[100:]), b"", 0x6A86, "the load was dropped")
        # a command between blocks drops the partial load
        self.assertResp(s.cmd(0x80, 0xE8, 0x00, 0x00, img[:100]), b"", 0x9000)
        self.assertSW(s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256)[1], 0x9000)
        self.assertResp(s.cmd(0x80, 0xE8, 0x80, 0x01, img[100:]), b"", 0x6A86, "dropped by GET DATA")
        self.assertResp(self.card.select(aid), b"", 0x6A82)


# ---- the kiosk flow -------------------------------------------------------------------

class Kiosk(CardCase):
    NAME = "kiosk"
    KEYS = ap_keys(16, 0x21)

    @classmethod
    def prepare(cls):
        s = am_channel(cls.card)
        err = load_ap(s, make_image(cls.card, AID_128, cls.KEYS, pin=PIN))   # min level default 33
        if err:
            raise CardError("LOAD AP: " + err)

    def test_kiosk(self):
        c = self.card
        self.assertResp(c.select(AID_128), fci(AID_128, 0x07), 0x9000)
        with self.assertRaises(CardError):
            c.open_channel(self.KEYS, 0x00, 0x13, AID_128)     # below the default 33
        c.select(AID_128)
        a = c.open_channel(self.KEYS, 0x00, 0x33, AID_128)
        self.assertResp(a.cmd(0x00, 0x20, 0x00, 0x81), b"", 0x63C3, "empty VERIFY: tries left")
        self.assertResp(a.cmd(0x00, 0x20, 0x00, 0x81, b"12"), b"", 0x6A80, "PIN too short: policy")
        self.assertResp(a.cmd(0x00, 0x20, 0x00, 0x81, b"0000"), b"", 0x63C2, "wrong PIN")
        self.assertResp(a.cmd(0x00, 0x20, 0x00, 0x81, PIN), b"", 0x9000, "VERIFY")
        self.assertResp(a.cmd(0x00, 0x20, 0x00, 0x81), b"", 0x9000, "already verified")
        # READ BINARY of the PIN file, READ RECORD, APPEND RECORD
        self.assertResp(a.cmd(0x00, 0xD6, 0x82, 0x00, b"resident-data"), b"", 0x9000)
        self.assertResp(a.cmd(0x00, 0xB0, 0x82, 0x00, ne=13), b"resident-data", 0x9000)
        self.assertResp(a.cmd(0x00, 0xB2, 0x01, (4 << 3) | 4, ne=256), b"", 0x6A83, "empty cyclic EF")
        for i in range(4):
            self.assertResp(a.cmd(0x00, 0xE2, 0x00, 4 << 3, bytes([i]) * 16), b"", 0x9000, "APPEND RECORD %d" % i)
        self.assertResp(a.cmd(0x00, 0xB2, 0x01, (4 << 3) | 4, ne=256), bytes([3]) * 16, 0x9000, "newest")
        self.assertResp(a.cmd(0x00, 0xB2, 0x03, (4 << 3) | 4, ne=256), bytes([1]) * 16, 0x9000, "oldest kept")
        self.assertResp(a.cmd(0x00, 0xB2, 0x00, (4 << 3) | 4, ne=256), b"", 0x6A86, "record 00")
        # a new SELECT ends the channel and the PIN state
        c.select(AID_128)
        self.assertResp(c.send(0x00, 0x20, 0x00, 0x81), b"", 0x63C3, "counter back at max, PIN state cleared")


# ---- reads beyond 256 bytes -----------------------------------------------------------

class LargeReads(CardCase):
    NAME = "large"
    KEYS = ap_keys(32, 0x31)

    @classmethod
    def prepare(cls):
        s = am_channel(cls.card)
        img = make_image(cls.card, AID_256, cls.KEYS, efs=std_efs(3000, 3000), min_level=0x01)
        err = load_ap(s, img, block=200)
        if err:
            raise CardError("LOAD AP: " + err)

    def chan(self, level=0x33):
        self.card.select(AID_256)
        a = self.card.open_channel(self.KEYS, 0x00, level, AID_256)
        self.assertResp(a.cmd(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01"), b"", 0x9000, "SELECT EF 0101")
        return a

    def test_extended_le(self):
        a = self.chan()
        if not EXT_OK:
            d, sw, parts = a.send(0x00, 0xB0, 0x81, 0x00, ne=65536)
            self.assertResp((d, sw), b"", 0x6700, "extended APDU in T=0")
            return
        # §5: min(Ne, to the end, 87 = 2048)
        self.assertResp(a.cmd(0x00, 0xB0, 0x81, 0x00, ne=65536), CONTENT[:2048], 0x9000, "Le 0000 at 0")
        self.assertResp(a.cmd(0x00, 0xB0, 0x08, 0x00, ne=65536), CONTENT[2048:], 0x9000, "Le 0000 at 2048")
        self.assertResp(a.cmd(0x00, 0xB0, 0x00, 0x00, ne=1500), CONTENT[:1500], 0x9000, "Ne 1500")
        self.assertResp(a.cmd(0x00, 0xB0, 0x00, 0x10, ne=300), CONTENT[16:316], 0x9000, "Ne 300")

    def test_piecewise(self):
        # 256-byte pieces with short Le 00: in T=0 each wrapped (case 4) read
        # is answered 61xx and the protected data comes by GET RESPONSE
        for level in (0x33, 0x11, 0x01):
            a = self.chan(level)
            got = b""
            for off in range(0, 3000, 256):
                d, sw, parts = a.send(0x00, 0xB0, off >> 8, off & 0xFF, ne=256)
                self.assertSW(sw, 0x9000, "offset %d" % off)
                if T0:
                    self.assertEqual(parts[0] >> 8, 0x61, "T=0: case 4 answered 61xx")
                else:
                    self.assertEqual(len(parts), 1, "no 61xx outside T=0")
                got += d
            self.assertEqual(got, CONTENT, "level %02X" % level)


# ---- GET STATUS continuation and the GP listing -------------------------------------

STATUS_AIDS = [bytes.fromhex("D392F0002602%02X" % i) + bytes(9) for i in range(8)]   # 16 bytes each


class GetStatus(CardCase):
    NAME = "status"
    KEYS = ap_keys(16, 0x41)

    @classmethod
    def prepare(cls):
        s = am_channel(cls.card)
        for aid in STATUS_AIDS:
            err = load_ap(s, make_image(cls.card, aid, cls.KEYS, efs=std_efs(32, 0)))
            if err:
                raise CardError("LOAD AP %s: %s" % (aid.hex(), err))

    def entries(self, d):
        out = []
        for tag, v in gp.parse_tlv(d):
            self.assertEqual(tag, 0xE3)
            f = gp.parse_tlv(v)
            self.assertEqual([x[0] for x in f], [0x4F, 0x9F70, 0xDF30, 0xDF31])
            out.append(f[0][1])
        return out

    def test_continuation(self):
        s = am_channel(self.card)
        d, sw = s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256)
        self.assertSW(sw, 0x6310, "first part")
        first = self.entries(d)
        self.assertLessEqual(len(d), 256)
        self.assertEqual(first, STATUS_AIDS[:len(first)])
        self.assertEqual(len(first), 256 // (len(d) // len(first)), "whole entries up to Ne")
        d, sw = s.cmd(0x80, 0xF2, 0x40, 0x03, b"\x4F\x00", 256)
        self.assertSW(sw, 0x9000, "80 F2 40 03")
        self.assertEqual(first + self.entries(d), STATUS_AIDS)
        with self.subTest("P2 03 after the last part"):
            self.assertResp(s.cmd(0x80, 0xF2, 0x40, 0x03, b"\x4F\x00", 256), b"", 0x6A88, "no continuation left")
        # another GET STATUS ends a pending continuation
        with self.subTest("continuation ended by P1 80"):
            self.assertSW(s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256)[1], 0x6310)
            self.assertSW(s.cmd(0x80, 0xF2, 0x80, 0x02, b"\x4F\x00", 256)[1], 0x9000)
            self.assertResp(s.cmd(0x80, 0xF2, 0x40, 0x03, b"\x4F\x00", 256), b"", 0x6A88, "ended by P1 80")
        if EXT_OK:
            with self.subTest("extended Le 0000"):
                d, sw = s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 65536)
                self.assertSW(sw, 0x9000, "extended Le 0000: all in one part")
                self.assertEqual(self.entries(d), STATUS_AIDS)

    def test_prefix(self):
        s = am_channel(self.card)
        with self.subTest("prefix of one AID"):
            d, sw = s.cmd(0x80, 0xF2, 0x40, 0x02, tlv(0x4F, STATUS_AIDS[3][:7]), 256)
            self.assertSW(sw, 0x9000)
            self.assertEqual(self.entries(d), [STATUS_AIDS[3]])
        s = am_channel(self.card)
        with self.subTest("prefix of all"):
            d, sw = s.cmd(0x80, 0xF2, 0x40, 0x02, tlv(0x4F, bytes.fromhex("D392F000")), 256)
            self.assertSW(sw, 0x6310)
        s = am_channel(self.card)
        with self.subTest("no match"):
            self.assertResp(s.cmd(0x80, 0xF2, 0x40, 0x02, tlv(0x4F, b"\xA0\x00\x00"), 256), b"", 0x6A88, "no match")

    def test_gp_listing(self):
        """GlobalPlatformPro's listing (`gp -l`), byte for byte: GPSession.discover,
        openSecureChannel, GPData (9F7F, 0066), key template, getStatus."""
        c = self.card
        want_isd = tlv(0xE3, tlv(0x4F, AM_AID) + tlv(0x9F70, b"\x0F") + tlv(0xC5, b"\x9C\x00\x00"))
        d, sw, _ = c.xchg(bytes.fromhex("00A4040000"))
        with self.subTest("SELECT with no AID"):
            self.assertResp((d, sw), fci(AM_AID, 0x0F), 0x9000, "SELECT with no AID")
        if sw != 0x9000:
            c.select(AM_AID)      # to see the rest of the sequence; a GP tool stops here
        hc = os.urandom(8)
        s = gp.Scp03(*c.region, hc)
        iu = bytes.fromhex("8050000008") + hc + b"\x00"
        self.assertEqual(s.initialize_update_apdu(0x00), iu)
        d, sw, _ = c.xchg(iu)
        self.assertSW(sw, 0x9000)
        s.parse_init_response(d, AM_AID)
        ea = s.external_authenticate_apdu(0x33)
        self.assertEqual(ea[:5], bytes.fromhex("8482330010"))
        self.assertResp(c.xchg(ea)[:2], b"", 0x9000, "EXTERNAL AUTHENTICATE 33")
        s.authenticated()
        from card import Session
        a = Session(c, s)

        def gpx(hexcmd):
            cla, ins, p1, p2, data, ne, ext = gp.parse_apdu(bytes.fromhex(hexcmd))
            return a.cmd(cla, ins, p1, p2, data, ne, ext)

        kb = b"".join(tlv(0xC0, bytes([kid, REGION_KVN, 0x88, 0x10])) for kid in (1, 2, 3))
        steps = [("80CA9F7F00", b"", 0x6A88, "GET DATA 9F7F (CPLC)"),
                 ("80CA006600", b"", 0x6A88, "GET DATA 0066 (card data)"),
                 ("80CA00E000", tlv(0xE0, kb), 0x9000, "GET DATA 00E0"),
                 ("80F28002024F0000", want_isd, 0x9000, "GET STATUS 80 02"),
                 ("80F24002024F0000", None, 0x6310, "GET STATUS 40 02"),
                 ("80F24003024F0000", None, 0x9000, "GET STATUS 40 03"),
                 ("80F22002024F0000", b"", 0x6A88, "GET STATUS 20 02"),
                 ("80F21002024F0000", b"", 0x6A88, "GET STATUS 10 02")]
        if EXT_OK:
            # the same with extended Le 0000 (a 3-byte Lc in the C-MAC, §3)
            steps += [("80F280020000024F000000", want_isd, 0x9000, "GET STATUS 80 02, Le 0000"),
                      ("80F240020000024F000000", "all", 0x9000, "GET STATUS 40 02, Le 0000"),
                      ("80F220020000024F000000", b"", 0x6A88, "GET STATUS 20 02, Le 0000"),
                      ("80F210020000024F000000", b"", 0x6A88, "GET STATUS 10 02, Le 0000")]
        apps = []
        for cmd, want, sw_want, what in steps:
            with self.subTest(what):
                d, sw = gpx(cmd)
                if sw in (0x6988, 0x6982):
                    # channel closed: open a new one to see the next step on its own
                    a = am_channel(c)
                if want is None:
                    self.assertSW(sw, sw_want, what)
                    apps += self.entries(d)
                    if sw == 0x9000:
                        self.assertEqual(apps, STATUS_AIDS)
                elif want == "all":
                    self.assertSW(sw, sw_want, what)
                    self.assertEqual(self.entries(d), STATUS_AIDS)
                else:
                    self.assertResp((d, sw), want, sw_want, what)


# ---- the extended-Lc vectors' commands in a real channel ------------------------------------

class ExtendedLc(CardCase):
    NAME = "extlc"
    KEYS = ap_keys(16, 0x51)

    @classmethod
    def prepare(cls):
        s = am_channel(cls.card)
        img = make_image(cls.card, AID_128, cls.KEYS, efs=std_efs(2000, 2000), min_level=0x01)
        err = load_ap(s, img, block=200)
        if err:
            raise CardError("LOAD AP: " + err)

    def test_replay_vector_commands(self):
        """The plain commands of scp03_extended_lc.json, in the same APDU forms,
        in a level-33 channel on an AP (its session keys and chain cannot be
        the vector's: the card's challenge is its own)."""
        import test_vectors
        steps = test_vectors.load("scp03_extended_lc.json")["steps"]
        self.card.select(AID_128)
        a = self.card.open_channel(self.KEYS, 0x00, 0x33, AID_128)
        want = {"a4": (b"", 0x9000), "f2": (b"", 0x6986), "ca": (b"", 0x6986), "d6": (b"", 0x9000)}
        expect_content = CONTENT[:2000]
        for st in steps:
            p = st["plain"]
            ins = p["ins"]
            args = (int(p["cla"], 16), int(p["ins"], 16), int(p["p1"], 16), int(p["p2"], 16), bytes.fromhex(p["data"]), p["ne"])
            with self.subTest(st["name"]):
                d, sw, _ = a.send(*args, extended=st["extended"])
                if sw in (0x6988, 0x6982) and EXT_OK:
                    # the channel is closed: reopen it so that the next step is seen on its own
                    self.card.select(AID_128)
                    a = self.card.open_channel(self.KEYS, 0x00, 0x33, AID_128)
                    a.cmd(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")
                if st["extended"] and not EXT_OK:
                    self.assertResp((d, sw), b"", 0x6700, "extended APDU in T=0")
                    self.card.select(AID_128)
                    a = self.card.open_channel(self.KEYS, 0x00, 0x33, AID_128)
                    if ins != "a4":
                        a.cmd(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")
                    continue
                if ins == "d6" and sw == 0x9000:
                    expect_content = bytes.fromhex(p["data"]) + expect_content[16:]
                if ins == "b0":
                    self.assertResp((d, sw), expect_content[:p["ne"]], 0x9000)
                else:
                    self.assertResp((d, sw), *want[ins])

    def test_am_extended(self):
        s = am_channel(self.card)
        if not EXT_OK:
            self.assertResp(s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 65536), b"", 0x6700, "extended in T=0")
            return
        d, sw = s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 65536)
        self.assertSW(sw, 0x9000, "GET STATUS 4F00 Le 0000")
        d, sw = s.cmd(0x80, 0xCA, 0xDF, 0x21, ne=65536)
        self.assertSW(sw, 0x9000, "GET DATA DF21 Le 0000")
        log_entries(d)
        # a command a short APDU could carry, sent extended (§3)
        d, sw = s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256, extended=True)
        self.assertSW(sw, 0x9000, "GET DATA DF20, extended Le 0100")

    def test_wrong_lc_coding_refused(self):
        # an extended APDU whose C-MAC covers a 1-byte Lc: 6988 (§3); in T=0
        # the extended APDU itself is refused first: 6700 (§10)
        s = am_channel(self.card)
        w = s.scp.wrap(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 65536, extended=True, mac_lc="short")
        self.assertResp(self.card.xchg(w)[:2], b"", 0x6988 if EXT_OK else 0x6700, "short Lc in the MAC of an extended APDU")
        # and a short APDU whose C-MAC covers a 3-byte Lc: 6988 as well
        s = am_channel(self.card)
        w = s.scp.wrap(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256, extended=False, mac_lc="ext")
        self.assertResp(self.card.xchg(w)[:2], b"", 0x6988, "3-byte Lc in the MAC of a short APDU")


# ---- refusals of §9 -------------------------------------------------------------------

class Refusals(CardCase):
    NAME = "refuse"

    def test_tampered_mac(self):
        s = am_channel(self.card)
        w = bytearray(s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256))
        w[-2] ^= 0x01       # last MAC byte (before Le)
        self.assertResp(self.card.xchg(bytes(w))[:2], b"", 0x6988, "tampered C-MAC")
        # the channel is closed: a well-formed wrapped command now gives 6982
        self.assertResp(self.card.xchg(s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256))[:2], b"", 0x6982, "after 6988")

    def test_tampered_data(self):
        s = am_channel(self.card)
        w = bytearray(s.scp.wrap(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256))
        w[6] ^= 0x80
        self.assertResp(self.card.xchg(bytes(w))[:2], b"", 0x6988, "tampered data")
        self.assertResp(self.card.xchg(s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256))[:2], b"", 0x6982)

    def test_replay(self):
        s = am_channel(self.card)
        w = s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256)
        d, sw, _ = self.card.xchg(w)
        self.assertSW(sw, 0x9000)
        s.scp.unwrap(d, sw)
        self.assertResp(self.card.xchg(w)[:2], b"", 0x6988, "replayed command")
        self.assertResp(self.card.xchg(s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256))[:2], b"", 0x6982, "channel closed")

    def test_plain_in_channel(self):
        s = am_channel(self.card)
        self.assertResp(self.card.send(0x80, 0xCA, 0xDF, 0x20, ne=256), b"", 0x6982, "plain command in a channel")
        self.assertResp(self.card.xchg(s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256))[:2], b"", 0x6982, "channel closed")

    def test_short_wrapped(self):
        am_channel(self.card)
        self.assertResp(self.card.xchg(bytes.fromhex("84CADF200401020304"))[:2], b"", 0x6988, "wrapped, Lc below 8")

    def test_mac_chain_advances_on_refusal(self):
        # §9: SM is checked first; a refused command still advances the chain
        s = am_channel(self.card)
        self.assertResp(s.cmd(0x80, 0xCA, 0x9F, 0x7F, ne=256), b"", 0x6A88)
        self.assertResp(s.cmd(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256), b"", 0x6A88)
        self.assertSW(s.cmd(0x80, 0xCA, 0xDF, 0x20, ne=256)[1], 0x9000)


    def test_sm_on_init_and_get_response(self):
        # §3: INITIALIZE UPDATE and GET RESPONSE sent with SM: 6882
        am_channel(self.card)
        self.assertResp(self.card.xchg(bytes.fromhex("8450010008") + os.urandom(8) + b"\x00")[:2], b"", 0x6882,
                        "INITIALIZE UPDATE with CLA 84")
        am_channel(self.card)
        self.assertResp(self.card.xchg(bytes.fromhex("04C0000000"))[:2], b"", 0x6882, "GET RESPONSE with CLA 04")

    def test_init_update_ends_channel(self):
        # §3: INITIALIZE UPDATE inside a channel ends it, whatever its outcome
        s = am_channel(self.card)
        x = gp.Scp03(*self.card.region, os.urandom(8))
        d, sw = self.card.send_raw_init(x, 0x00)
        self.assertSW(sw, 0x9000)
        self.assertResp(self.card.xchg(s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256))[:2], b"", 0x6982,
                        "the old channel's next command")

    def test_external_authenticate_cla_80(self):
        # §3: EXTERNAL AUTHENTICATE with CLA 80 is a command without SM: 6982;
        # it ends the pending initiation (a proper one next: 6985)
        self.card.select(AM_AID)
        x = gp.Scp03(*self.card.region, os.urandom(8))
        x.parse_init_response(self.card.send_raw_init(x, 0x00)[0], AM_AID)
        ea = x.external_authenticate_apdu(0x33)
        self.assertResp(self.card.xchg(b"\x80" + ea[1:])[:2], b"", 0x6982, "EXTERNAL AUTHENTICATE with CLA 80")
        self.assertResp(self.card.xchg(ea)[:2], b"", 0x6985, "initiation ended")
        self.assertResp(self.card.send(0x80, 0xCA, 0xDF, 0x21, ne=256), b"", 0x6982, "no channel was opened")


class Precedence(CardCase):
    """Plain commands whose answer §2 and §9 settle (issue #14 item 5)."""
    NAME = "prec"
    KEYS = ap_keys(16, 0x81)

    @classmethod
    def prepare(cls):
        s = am_channel(cls.card)
        err = load_ap(s, make_image(cls.card, AID_128, cls.KEYS, pin=PIN, min_level=0x01))
        if err:
            raise CardError("LOAD AP: " + err)

    def check(self, select, cases):
        for cmd, sw, what in cases:
            with self.subTest(what):
                if select is None:
                    self.card.reset()
                else:
                    self.card.select(select)
                self.assertResp(self.card.xchg(bytes.fromhex(cmd.replace(" ", "")))[:2], b"", sw, what + ": " + cmd)

    def test_class(self):
        cases = [("14 E8 00 00 03 01 02", 0x6884, "chaining bit outside LOAD AP, bad length"),
                 ("C0 A4 04 00 07 F04D4E4150414D", 0x6881, "CLA C0"),
                 ("CF CA DF 20 00", 0x6881, "CLA CF"),
                 ("E0 CA DF 20 00", 0x6881, "CLA E0"),
                 ("EF A4 04 00 07 F04D4E4150414D", 0x6881, "CLA EF"),
                 ("01 A4 04 00 07 F04D4E4150414D", 0x6881, "logical channel 1"),
                 ("A0 A4 04 00 07 F04D4E4150414D", 0x6E00, "CLA A0"),
                 ("80 B0 00 00 10", 0x6D00, "READ BINARY in the GP class"),
                 ("00 CA DF 20 00", 0x6D00, "GET DATA in the ISO class"),
                 ("80 77 00 00", 0x6D00, "unknown INS")]
        if EXT_OK:
            cases.append(("10 E8 0A B3 00 00 05", 0x6884, "chaining bit, extended Le"))
        self.check(AM_AID, cases)

    def test_external_authenticate_without_initiation(self):
        ea = "84 82 33 00 10" + "00" * 16
        for sel, what in ((None, "nothing selected"), (AM_AID, "AM"), (AID_128, "AP")):
            self.check(sel, [(ea, 0x6985, "EXTERNAL AUTHENTICATE, " + what)])

    def test_selection_before_channel(self):
        self.check(AID_128, [("00 B0 00 00 10", 0x6986, "READ BINARY, no EF, no SFI"),
                             ("00 D6 00 00 02 0102", 0x6986, "UPDATE BINARY, no EF, no SFI"),
                             ("00 E2 00 00 02 0102", 0x6986, "APPEND RECORD, no EF, no SFI"),
                             ("00 B2 00 0C 00", 0x6A86, "READ RECORD record 00"),
                             ("00 DC 00 1C 02 0102", 0x6A86, "UPDATE RECORD record 00"),
                             ("80 CA DF 20 00", 0x6986, "GET DATA DF20 with an AP selected"),
                             ("00 A4 02 00 02 0101 00", 0x6982, "SELECT EF without channel")])
        self.check(None, [("80 CA DF 20 00", 0x6986, "GET DATA DF20 with nothing selected"),
                          ("00 A4 02 0C 02 0101", 0x6986, "SELECT EF with nothing selected")])
        self.check(AM_AID, [("00 A4 02 0C 02 0101", 0x6986, "SELECT EF with the AM selected")])


class Terminate(CardCase):
    NAME = "term"

    def test_terminate(self):
        s = am_channel(self.card)
        self.assertResp(s.cmd(0x80, 0xF0, 0x80, 0xFF), b"", 0x9000, "TERMINATE")
        # §4: the channel ends once the answer is sent
        with self.subTest("channel ended"):
            self.assertResp(self.card.xchg(s.scp.wrap(0x80, 0xCA, 0xDF, 0x20, ne=256))[:2], b"", 0x6982, "channel ended")
        self.assertResp(self.card.select(AM_AID), fci(AM_AID, 0xFF), 0x9000)
        d, sw = self.card.send(0x80, 0xCA, 0xDF, 0x20, ne=256)
        self.assertSW(sw, 0x9000)
        self.assertEqual(dict(gp.parse_tlv(gp.parse_tlv(d)[0][1]))[0x80], b"\xFF")
        self.assertSW(self.card.send(0x80, 0xF2, 0x40, 0x02, b"\x4F\x00", 256)[1], 0x6985, "GET STATUS when TERMINATED")
        self.assertSW(self.card.send(0x80, 0x50, 0x00, 0x00, os.urandom(8), 256)[1], 0x6985, "INITIALIZE UPDATE when TERMINATED")
