# test/interop/gp.py: an independent GlobalPlatform SCP03 host for the interop peer.
#
# Written from the GlobalPlatform texts (Card Specification 2.3.1 and its
# Amendment D, SCP03 v1.2) and from PROTOCOL.md, not from mnap's C sources.
# The block cipher (AES-ECB/CBC) and the CMAC come from python3-cryptography;
# everything else here is ours: the SP 800-108 counter-mode KDF in the SCP03
# layout, session keys, cryptograms, C-MAC/C-DEC wrapping (Lc coded as the
# APDU that carries it codes it), R-MAC/R-ENC unwrapping, the key set data of
# PUT KEY, the key check value, and the AP image coding of PROTOCOL.md §6.

from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BACKEND = default_backend()

AM_AID = bytes.fromhex("F04D4E4150414D")
TRANSPORT_KEY = bytes(range(0x40, 0x50))

# Derivation constants, Amendment D Table 4-1 (and PROTOCOL.md §7 for 11..13).
DC_CARD_CRYPTOGRAM = 0x00
DC_HOST_CRYPTOGRAM = 0x01
DC_CARD_CHALLENGE = 0x02
DC_S_ENC = 0x04
DC_S_MAC = 0x06
DC_S_RMAC = 0x07
DC_DIV_ENC = 0x11
DC_DIV_MAC = 0x12
DC_DIV_DEK = 0x13

LEVELS = (0x01, 0x03, 0x11, 0x13, 0x33)


class SecureChannelError(Exception):
    """The card's answer does not verify (card cryptogram, R-MAC, padding)."""


# ---- primitives from the library -------------------------------------------

def aes_ecb_encrypt(key, block):
    e = Cipher(algorithms.AES(key), modes.ECB(), backend=_BACKEND).encryptor()
    return e.update(block) + e.finalize()


def aes_cbc_encrypt(key, iv, data):
    assert len(data) % 16 == 0
    e = Cipher(algorithms.AES(key), modes.CBC(iv), backend=_BACKEND).encryptor()
    return e.update(data) + e.finalize()


def aes_cbc_decrypt(key, iv, data):
    if len(data) % 16:
        raise SecureChannelError("ciphertext not a multiple of 16 bytes: %d" % len(data))
    d = Cipher(algorithms.AES(key), modes.CBC(iv), backend=_BACKEND).decryptor()
    return d.update(data) + d.finalize()


def aes_cmac(key, msg):
    c = _cmac.CMAC(algorithms.AES(key), backend=_BACKEND)
    c.update(msg)
    return c.finalize()


# ---- SP 800-108 KDF, counter mode, PRF = AES-CMAC --------------------------

def kdf_ctr_cmac(ki, l_bits, before=b"", after=b"", ctr_bytes=1):
    """K(i) = CMAC(KI, before || [i] || after), i from 1; first l_bits bits."""
    out = b""
    i = 1
    while len(out) * 8 < l_bits:
        out += aes_cmac(ki, before + i.to_bytes(ctr_bytes, "big") + after)
        i += 1
    return out[: (l_bits + 7) // 8]


def scp03_kdf(key, constant, context, l_bits):
    """Amendment D §4.1.5: label (11 x 00 || constant) || 00 || L || i || context."""
    before = bytes(11) + bytes([constant]) + b"\x00" + l_bits.to_bytes(2, "big")
    return kdf_ctr_cmac(key, l_bits, before, context)


def diversify(master, constant, div_data):
    """PROTOCOL.md §7: a card's static key from a master key."""
    return scp03_kdf(master, constant, div_data, len(master) * 8)


def diversify_set(master_enc, master_mac, master_dek, div_data):
    return (diversify(master_enc, DC_DIV_ENC, div_data),
            diversify(master_mac, DC_DIV_MAC, div_data),
            diversify(master_dek, DC_DIV_DEK, div_data))


# ---- padding, KCV, key set data --------------------------------------------

def pad80(data, block=16):
    data = data + b"\x80"
    return data + bytes(-len(data) % block)


def unpad80(data):
    i = len(data) - 1
    while i >= 0 and data[i] == 0:
        i -= 1
    if i < 0 or data[i] != 0x80 or len(data) - i > 16:
        raise SecureChannelError("bad 80 padding: " + data[-16:].hex())
    return data[:i]


def kcv(key):
    """GPCS 2.3.1 §11.8 / PROTOCOL.md §3: first 3 bytes of AES(key, 16 x 01)."""
    return aes_ecb_encrypt(key, b"\x01" * 16)[:3]


def encrypt_key(dek, key):
    """Key-DEK wrapping: AES-CBC, zero ICV; AES-192 keys padded 80 00.. (§3)."""
    plain = key if len(key) % 16 == 0 else pad80(key)
    return aes_cbc_encrypt(dek, bytes(16), plain)


def key_block(dek, key):
    ek = encrypt_key(dek, key)
    return bytes([0x88, 1 + len(ek), len(key)]) + ek + b"\x03" + kcv(key)


def key_set_data(new_kvn, dek, enc, mac, kdek):
    """new-KVN then ENC, MAC, DEK blocks `88 Ll Lk E(key) 03 KCV`."""
    return bytes([new_kvn]) + key_block(dek, enc) + key_block(dek, mac) + key_block(dek, kdek)


def put_key_response(new_kvn, enc, mac, kdek):
    return bytes([new_kvn]) + kcv(enc) + kcv(mac) + kcv(kdek)


# ---- BER-TLV ----------------------------------------------------------------

def ber_len(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def tlv(tag, value):
    t = tag.to_bytes(2, "big") if tag > 0xFF else bytes([tag])
    return t + ber_len(len(value)) + value


def parse_tlv(data):
    """A list of (tag, value) of one level of BER-TLV; raises on bad coding."""
    out = []
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            if i >= len(data):
                raise ValueError("truncated tag")
            tag = (tag << 8) | data[i]
            i += 1
            if tag & 0x80:
                raise ValueError("3-byte tag")
        if i >= len(data):
            raise ValueError("missing length")
        n = data[i]
        i += 1
        if n == 0x81:
            n = data[i]
            i += 1
        elif n == 0x82:
            n = (data[i] << 8) | data[i + 1]
            i += 2
        elif n > 0x82:
            raise ValueError("bad length byte %02X" % n)
        if i + n > len(data):
            raise ValueError("value past the end")
        out.append((tag, data[i:i + n]))
        i += n
    return out


# ---- APDU coding ------------------------------------------------------------

def apdu(cla, ins, p1, p2, data=b"", ne=None, extended=None):
    """ISO 7816-4 command APDU; extended when a field needs it or when asked."""
    data = bytes(data)
    nc = len(data)
    if extended is None:
        extended = nc > 255 or (ne is not None and ne > 256)
    h = bytes([cla, ins, p1, p2])
    if not extended:
        out = h
        if nc:
            out += bytes([nc]) + data
        if ne is not None:
            out += bytes([ne & 0xFF])          # 256 -> 00
        return out
    out = h
    if nc:
        out += b"\x00" + nc.to_bytes(2, "big") + data
    if ne is not None:
        le = (ne & 0xFFFF).to_bytes(2, "big")  # 65536 -> 0000
        out += le if nc else b"\x00" + le
    elif not nc:
        raise ValueError("an extended case-1 APDU does not exist")
    return out


def parse_apdu(a):
    """(cla, ins, p1, p2, data, ne, extended) of a command APDU (ISO 7816-4 cases)."""
    a = bytes(a)
    h, b = a[:4], a[4:]
    if not b:
        return (*h, b"", None, False)
    if len(b) == 1:
        return (*h, b"", b[0] or 256, False)
    if b[0] != 0:
        nc = b[0]
        if len(b) == 1 + nc:
            return (*h, b[1:], None, False)
        if len(b) == 2 + nc:
            return (*h, b[1:1 + nc], b[-1] or 256, False)
        raise ValueError("bad short APDU")
    if len(b) == 3:
        return (*h, b"", ((b[1] << 8) | b[2]) or 65536, True)
    nc = (b[1] << 8) | b[2]
    if len(b) == 3 + nc:
        return (*h, b[3:], None, True)
    if len(b) == 5 + nc:
        return (*h, b[3:3 + nc], ((b[-2] << 8) | b[-1]) or 65536, True)
    raise ValueError("bad extended APDU")


def lc_field(nc, extended):
    return (b"\x00" + nc.to_bytes(2, "big")) if extended else bytes([nc])


# ---- SCP03 session (host side) ----------------------------------------------

class Scp03:
    """One SCP03 S8 session, host side: from INITIALIZE UPDATE's response to
    wrapping commands and unwrapping responses at a security level."""

    def __init__(self, enc, mac, dek, host_challenge):
        assert len(enc) == len(mac) == len(dek) and len(enc) in (16, 24, 32)
        self.key_enc, self.key_mac, self.key_dek = enc, mac, dek
        self.host_challenge = host_challenge
        self.level = None
        self.chain = bytes(16)
        self.counter = 0

    # INITIALIZE UPDATE
    def initialize_update_apdu(self, kvn):
        return bytes([0x80, 0x50, kvn, 0x00, 0x08]) + self.host_challenge + b"\x00"

    def parse_init_response(self, data, aid=None):
        """Checks the 32-byte response; derives the session keys."""
        if len(data) != 32:
            raise SecureChannelError("INITIALIZE UPDATE response of %d bytes" % len(data))
        self.div_data = data[0:10]
        self.key_info = data[10:13]
        self.card_challenge = data[13:21]
        self.card_cryptogram = data[21:29]
        self.seq = data[29:32]
        ctx = self.host_challenge + self.card_challenge
        bits = len(self.key_enc) * 8
        self.s_enc = scp03_kdf(self.key_enc, DC_S_ENC, ctx, bits)
        self.s_mac = scp03_kdf(self.key_mac, DC_S_MAC, ctx, bits)
        self.s_rmac = scp03_kdf(self.key_mac, DC_S_RMAC, ctx, bits)
        want = scp03_kdf(self.s_mac, DC_CARD_CRYPTOGRAM, ctx, 64)
        if want != self.card_cryptogram:
            raise SecureChannelError("card cryptogram %s, want %s" % (self.card_cryptogram.hex(), want.hex()))
        if aid is not None:
            ch = scp03_kdf(self.key_enc, DC_CARD_CHALLENGE, self.seq + aid, 64)
            if ch != self.card_challenge:
                raise SecureChannelError("card challenge %s is not KDF(ENC, 02, seq || AID) = %s"
                                         % (self.card_challenge.hex(), ch.hex()))
        return self

    def set_session_keys(self, s_enc, s_mac, s_rmac, chain=bytes(16)):
        """For vectors that give the session keys directly."""
        self.s_enc, self.s_mac, self.s_rmac, self.chain = s_enc, s_mac, s_rmac, chain

    def host_cryptogram(self):
        return scp03_kdf(self.s_mac, DC_HOST_CRYPTOGRAM, self.host_challenge + self.card_challenge, 64)

    def external_authenticate_apdu(self, level, cryptogram=None, tamper=False):
        """84 82 level 00 10 host-cryptogram C-MAC; the chain starts at 16 x 00."""
        self.chain = bytes(16)
        self.counter = 0
        crypto = self.host_cryptogram() if cryptogram is None else cryptogram
        body = bytes([0x84, 0x82, level, 0x00, 0x10]) + crypto
        full = aes_cmac(self.s_mac, self.chain + body)
        mac = full[:8]
        if tamper:
            mac = bytes([mac[0] ^ 1]) + mac[1:]
        self.pending_chain = full
        self.pending_level = level
        return body + mac

    def authenticated(self):
        """EXTERNAL AUTHENTICATE answered 9000: the channel is open."""
        self.chain = self.pending_chain
        self.level = self.pending_level
        self.counter = 0

    # commands
    def wrap(self, cla, ins, p1, p2, data=b"", ne=None, extended=None, mac_lc=None):
        """One wrapped APDU. extended: force the extended form (None: as needed).
        mac_lc: override the Lc coding in the MAC input ('short', 'ext'), to
        build commands a GP host would not (for negative tests only)."""
        data = bytes(data)
        level = self.level
        cla = cla | 0x04
        self.counter += 1
        if level & 0x02 and data:
            icv = aes_ecb_encrypt(self.s_enc, self.counter.to_bytes(16, "big"))
            data = aes_cbc_encrypt(self.s_enc, icv, pad80(data))
        nc = len(data) + 8
        if extended is None:
            extended = nc > 255 or (ne is not None and ne > 256)
        ext_mac = extended if mac_lc is None else (mac_lc == "ext")
        self.last_mac_input = self.chain + bytes([cla, ins, p1, p2]) + lc_field(nc, ext_mac) + data
        full = aes_cmac(self.s_mac, self.last_mac_input)
        self.chain = full
        self.last_data = data + full[:8]
        return apdu(cla, ins, p1, p2, self.last_data, ne, extended)

    def wrap_chained(self, cla, ins, p1, p2, data, seg=255):
        """GPCS 2.3.1 §11.1.5.1 / PROTOCOL.md §3: wrap the whole command with
        its Lc coded in the shortest form, then cut it into short segments
        (CLA bit 10 on all but the last)."""
        whole = self.wrap(cla, ins, p1, p2, data)   # shortest Lc form for the MAC
        body = self.last_data
        cla = whole[0]
        segs = [body[i:i + seg] for i in range(0, len(body), seg)]
        out = []
        for k, s in enumerate(segs):
            c = cla | (0x10 if k < len(segs) - 1 else 0)
            out.append(bytes([c, ins, p1, p2, len(s)]) + s)
        return out

    # responses
    def unwrap(self, data, sw):
        """Verifies and strips the R-MAC, decrypts R-ENC. Returns plain data.
        Nothing is expected on an error status (not 9000, 62xx, 63xx)."""
        level = self.level
        ok = sw == 0x9000 or (sw >> 8) in (0x62, 0x63)
        if not ok:
            if data:
                raise SecureChannelError("data with error status %04X" % sw)
            return data
        if level & 0x10:
            if len(data) < 8:
                raise SecureChannelError("response of %d bytes has no R-MAC" % len(data))
            body, rmac = data[:-8], data[-8:]
            want = aes_cmac(self.s_rmac, self.chain + body + sw.to_bytes(2, "big"))[:8]
            if want != rmac:
                raise SecureChannelError("R-MAC %s, want %s" % (rmac.hex(), want.hex()))
            data = body
        if level & 0x20 and data:
            icv = aes_ecb_encrypt(self.s_enc, b"\x80" + self.counter.to_bytes(15, "big"))
            data = unpad80(aes_cbc_decrypt(self.s_enc, icv, data))
        return data


# ---- AP image (PROTOCOL.md §6) ------------------------------------------------

RULE_SM, RULE_PIN, RULE_NEVER = 0x00, 0x01, 0xFF
EF_TRANSPARENT, EF_LINEAR, EF_CYCLIC = 0x01, 0x02, 0x06


def ef_transparent(fid, size, sfi=None, read=RULE_SM, write=RULE_SM, content=None):
    v = tlv(0x83, fid.to_bytes(2, "big"))
    if sfi is not None:
        v += tlv(0x88, bytes([sfi]))
    v += tlv(0x82, bytes([EF_TRANSPARENT])) + tlv(0x80, size.to_bytes(2, "big"))
    v += tlv(0x86, bytes([read])) + tlv(0x87, bytes([write]))
    if content is not None:
        v += tlv(0x53, content)
    return tlv(0xA3, v)


def ef_records(fid, kind, rec_len, count, sfi=None, read=RULE_SM, write=RULE_SM):
    v = tlv(0x83, fid.to_bytes(2, "big"))
    if sfi is not None:
        v += tlv(0x88, bytes([sfi]))
    v += tlv(0x82, bytes([kind])) + tlv(0x84, bytes([rec_len])) + tlv(0x85, bytes([count]))
    v += tlv(0x86, bytes([read])) + tlv(0x87, bytes([write]))
    return tlv(0xA3, v)


def ap_image(aid, region_dek, ap_keys, ap_kvn, efs, max_tries=3, min_len=4, max_len=8,
             pin=None, min_level=None):
    """4F AID, A0 PIN policy, A1 key set data (wrapped with the region Key-DEK),
    A2 options, A3 EFs."""
    pol = tlv(0x80, bytes([max_tries])) + tlv(0x81, bytes([min_len])) + tlv(0x82, bytes([max_len]))
    if pin is not None:
        pol += tlv(0x83, pin)
    img = tlv(0x4F, aid) + tlv(0xA0, pol)
    img += tlv(0xA1, key_set_data(ap_kvn, region_dek, *ap_keys))
    if min_level is not None:
        img += tlv(0xA2, tlv(0x80, bytes([min_level])))
    for e in efs:
        img += e
    return img
