"""mnap: Python binding of libmnap, the host library for the local-resident
area of the My Number card (ctypes over libmnap.so; no compiled code).

    import mnap

    ks = mnap.KeyStore.load("/var/lib/mnap/keys.mks", "passphrase")
    with mnap.Reader.connect() as card:               # first reader with a card
        with card.ap_session("D392F000014C4942", ks.get("library")) as s:
            s.verify_pin("1234")                      # mnap.PinWrongError: .tries_left
            patron = s.read_binary(0x0101)
            s.append_record(0x0102, record.ljust(48, b" "))  # exactly the record length

Every libmnap error is raised as a subclass of mnap.MnapError named after its
constant (MNAP_E_PIN_WRONG -> mnap.PinWrongError), with .code, .name,
.message and .sw (the last status word).  The library is found through
MNAP_LIBRARY (a path), else as libmnap.so.1 / libmnap.so on the loader's
path.  docs/host.md has the whole API and a complete example.
"""
import ctypes
import ctypes.util
import os

__all__ = ["MnapError", "KeySet", "KeyStore", "Reader", "Card", "Session", "EfInfo",
           "PinStatus", "AreaInfo", "version", "LEVEL_FULL"]

LEVEL_FULL = 0x33
KEY_MAX = 32
DIV_DATA_LEN = 10


def _load():
    path = os.environ.get("MNAP_LIBRARY")
    names = [path] if path else ["libmnap.so.1", "libmnap.so", ctypes.util.find_library("mnap")]
    last = None
    for n in names:
        if not n:
            continue
        try:
            return ctypes.CDLL(n)
        except OSError as e:  # try the next name
            last = e
    raise ImportError("mnap: libmnap not found (set MNAP_LIBRARY to its path): %s" % last)


_lib = _load()
_c = ctypes

# --- errors -------------------------------------------------------------------
_lib.mnap_strerror.restype = _c.c_char_p
_lib.mnap_strerror.argtypes = [_c.c_int]
_lib.mnap_err_name.restype = _c.c_char_p
_lib.mnap_err_name.argtypes = [_c.c_int]


class MnapError(Exception):
    """A libmnap error: .code (the negative mnap_err), .name ("MNAP_E_..."),
    .message (libmnap's English sentence), .sw (last status word or 0)."""

    code = None
    name = None

    def __init__(self, code, sw=0, what=None):
        self.code = code
        n = _lib.mnap_err_name(code)
        self.name = n.decode() if n else "MNAP_E_%d" % -code
        self.message = _lib.mnap_strerror(code).decode()
        self.sw = sw
        text = "%s: %s" % (what, self.message) if what else self.message
        super().__init__("%s [%s]" % (text, self.name))


def _class_name(const):
    words = const[len("MNAP_E_"):].lower().split("_")
    return "".join(w.capitalize() for w in words) + "Error"


_by_code = {}
for _code in range(-1, -200, -1):
    _n = _lib.mnap_err_name(_code)
    if _n is None:
        continue
    _cls = type(_class_name(_n.decode()), (MnapError,), {"__doc__": _n.decode()})
    _by_code[_code] = _cls
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)


def _raise(code, sw=0, what=None, cls=None):
    cls = cls or _by_code.get(code, MnapError)
    raise cls(code, sw, what)


def _check(code, what=None, ctx=None):
    if code != 0:
        sw = _lib.mnap_last_sw(ctx) if ctx else 0
        _raise(code, sw, what)


# --- structures ----------------------------------------------------------------
class _Keyset(_c.Structure):
    _fields_ = [("enc", _c.c_uint8 * KEY_MAX), ("mac", _c.c_uint8 * KEY_MAX),
                ("dek", _c.c_uint8 * KEY_MAX), ("key_len", _c.c_uint8), ("kvn", _c.c_uint8),
                ("master", _c.c_uint8), ("src", _c.c_void_p), ("obj", _c.c_ulong * 3)]


_TX = _c.CFUNCTYPE(_c.c_int, _c.c_void_p, _c.POINTER(_c.c_uint8), _c.c_size_t,
                   _c.POINTER(_c.c_uint8), _c.c_size_t, _c.POINTER(_c.c_size_t))


class _Transport(_c.Structure):
    _fields_ = [("self", _c.c_void_p), ("transmit", _c.c_void_p), ("reconnect", _c.c_void_p),
                ("atr", _c.c_void_p), ("protocol", _c.c_void_p), ("begin", _c.c_void_p),
                ("end", _c.c_void_p)]


class _PinStatus(_c.Structure):
    _fields_ = [("verified", _c.c_int), ("blocked", _c.c_int), ("not_set", _c.c_int),
                ("tries_left", _c.c_uint8)]


class _EfInfo(_c.Structure):
    _fields_ = [("fid", _c.c_uint16), ("type", _c.c_uint8), ("size", _c.c_uint16),
                ("record_length", _c.c_uint8), ("record_count", _c.c_uint8), ("sfi", _c.c_uint8)]


class _AreaInfo(_c.Structure):
    _fields_ = [("state", _c.c_uint8), ("max_aps", _c.c_uint8), ("version_major", _c.c_uint8),
                ("version_minor", _c.c_uint8), ("max_response", _c.c_uint16),
                ("max_command", _c.c_uint16), ("have_am_fields", _c.c_int),
                ("free_nvm", _c.c_uint32), ("ap_count", _c.c_uint8), ("serial", _c.c_uint8 * 8),
                ("div_data", _c.c_uint8 * DIV_DATA_LEN)]


P = _c.c_void_p
_sig = {
    "mnap_version": (_c.c_char_p, []),
    "mnap_last_sw": (_c.c_uint16, [P]),
    "mnap_keyset_set": (_c.c_int, [_c.POINTER(_Keyset), _c.c_uint8, _c.c_char_p, _c.c_char_p,
                                   _c.c_char_p, _c.c_size_t, _c.c_int]),
    "mnap_keyset_wipe": (None, [_c.POINTER(_Keyset)]),
    "mnap_keyset_kcv": (_c.c_int, [_c.POINTER(_Keyset), _c.c_char_p, _c.c_char_p, _c.c_char_p]),
    "mnap_keystore_load": (_c.c_int, [_c.POINTER(P), _c.c_char_p, _c.c_char_p, _c.c_size_t]),
    "mnap_keystore_get": (_c.c_int, [P, _c.c_char_p, _c.POINTER(_Keyset)]),
    "mnap_keystore_count": (_c.c_size_t, [P]),
    "mnap_keystore_name": (_c.c_char_p, [P, _c.c_size_t]),
    "mnap_keystore_free": (None, [P]),
    "mnap_pcsc_new": (_c.c_int, [_c.POINTER(P)]),
    "mnap_pcsc_free": (None, [P]),
    "mnap_pcsc_connect": (_c.c_int, [P, _c.c_char_p]),
    "mnap_pcsc_set_exclusive": (_c.c_int, [P, _c.c_int]),
    "mnap_pcsc_reader": (_c.c_char_p, [P]),
    "mnap_pcsc_transport": (_Transport, [P]),
    "mnap_pcsc_list_readers": (_c.c_int, [P, _c.c_void_p, _c.c_void_p, _c.POINTER(_c.c_size_t)]),
    "mnap_ctx_new": (_c.c_int, [_c.POINTER(P), _c.POINTER(_Transport)]),
    "mnap_ctx_free": (None, [P]),
    "mnap_reconnect": (_c.c_int, [P]),
    "mnap_hold_card": (_c.c_int, [P]),
    "mnap_release_card": (_c.c_int, [P]),
    "mnap_area_info_get": (_c.c_int, [P, _c.POINTER(_AreaInfo)]),
    "mnap_am_open": (_c.c_int, [P, _c.POINTER(_Keyset), _c.c_uint8]),
    "mnap_ap_open": (_c.c_int, [P, _c.c_char_p, _c.c_size_t, _c.POINTER(_Keyset), _c.c_uint8]),
    "mnap_close": (_c.c_int, [P]),
    "mnap_ap_pin_status": (_c.c_int, [P, _c.POINTER(_PinStatus)]),
    "mnap_ap_verify_pin": (_c.c_int, [P, _c.c_char_p, _c.c_size_t, _c.POINTER(_c.c_uint8)]),
    "mnap_ap_change_pin": (_c.c_int, [P, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t,
                                      _c.POINTER(_c.c_uint8)]),
    "mnap_ap_select_ef": (_c.c_int, [P, _c.c_uint16, _c.POINTER(_EfInfo)]),
    "mnap_ap_read_binary": (_c.c_int, [P, _c.c_uint16, _c.c_size_t, _c.c_char_p, _c.c_size_t,
                                       _c.POINTER(_c.c_size_t)]),
    "mnap_ap_update_binary": (_c.c_int, [P, _c.c_uint16, _c.c_size_t, _c.c_char_p, _c.c_size_t]),
    "mnap_ap_read_record": (_c.c_int, [P, _c.c_uint16, _c.c_uint8, _c.c_char_p, _c.c_size_t,
                                       _c.POINTER(_c.c_size_t)]),
    "mnap_ap_update_record": (_c.c_int, [P, _c.c_uint16, _c.c_uint8, _c.c_char_p, _c.c_size_t]),
    "mnap_ap_append_record": (_c.c_int, [P, _c.c_uint16, _c.c_char_p, _c.c_size_t]),
}
for _name, (_res, _args) in _sig.items():
    _f = getattr(_lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def version():
    """The version of the libmnap in use, e.g. "1.0.0"."""
    return _lib.mnap_version().decode()


def _aid(aid):
    if isinstance(aid, str):
        aid = bytes.fromhex(aid)
    if not 5 <= len(aid) <= 16:
        raise ValueError("an AID has 5 to 16 bytes")
    return bytes(aid)


# --- keys ------------------------------------------------------------------------
class KeySet:
    """An SCP03 key set (ENC, MAC, DEK of one length; master keys are
    diversified per card when a session opens).  Wiped by wipe() or when
    garbage-collected."""

    def __init__(self, enc=None, mac=None, dek=None, kvn=1, master=False, _raw=None):
        self._ks = _raw if _raw is not None else _Keyset()
        if _raw is None:
            mac = enc if mac is None else mac
            dek = enc if dek is None else dek
            if enc is None or not len(enc) == len(mac) == len(dek):
                raise ValueError("three keys of one length (16, 24 or 32 bytes)")
            _check(_lib.mnap_keyset_set(_c.byref(self._ks), kvn, bytes(enc), bytes(mac), bytes(dek),
                                        len(enc), 1 if master else 0), "key set")

    @property
    def kvn(self):
        return self._ks.kvn

    @property
    def master(self):
        return bool(self._ks.master)

    def kcv(self):
        """The key check values (ENC, MAC, DEK), 3 bytes each."""
        e, m, d = (_c.create_string_buffer(3) for _ in range(3))
        _check(_lib.mnap_keyset_kcv(_c.byref(self._ks), e, m, d), "KCV")
        return e.raw, m.raw, d.raw

    def wipe(self):
        _lib.mnap_keyset_wipe(_c.byref(self._ks))

    def __del__(self):
        try:
            self.wipe()
        except Exception:
            pass


class KeyStore:
    """The key store file (or a pkcs11: URI), read-only from Python: get()
    key sets by name.  Use it as a context manager, or close() it."""

    def __init__(self, handle):
        self._h = handle

    @classmethod
    def load(cls, path, passphrase):
        h = P()
        pw = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
        _check(_lib.mnap_keystore_load(_c.byref(h), os.fsencode(path), pw, len(pw)),
               "key store %s" % path)
        return cls(h)

    def names(self):
        n = _lib.mnap_keystore_count(self._h)
        return [_lib.mnap_keystore_name(self._h, i).decode() for i in range(n)]

    def get(self, name):
        raw = _Keyset()
        _check(_lib.mnap_keystore_get(self._h, name.encode(), _c.byref(raw)), "key set '%s'" % name)
        return KeySet(_raw=raw)

    def close(self):
        if self._h:
            _lib.mnap_keystore_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


# --- cards -------------------------------------------------------------------------
class PinStatus:
    def __init__(self, st):
        self.verified = bool(st.verified)
        self.blocked = bool(st.blocked)
        self.not_set = bool(st.not_set)
        self.tries_left = st.tries_left

    def __repr__(self):
        return "PinStatus(verified=%s, blocked=%s, not_set=%s, tries_left=%d)" % (
            self.verified, self.blocked, self.not_set, self.tries_left)


class EfInfo:
    TYPES = {1: "transparent", 2: "linear-fixed", 6: "cyclic"}

    def __init__(self, i):
        self.fid = i.fid
        self.type = self.TYPES.get(i.type, "unknown")
        self.size = i.size
        self.record_length = i.record_length
        self.record_count = i.record_count
        self.sfi = i.sfi

    def __repr__(self):
        return "EfInfo(fid=0x%04X, type=%r, size=%d, record_length=%d, record_count=%d)" % (
            self.fid, self.type, self.size, self.record_length, self.record_count)


class AreaInfo:
    STATES = {0x01: "BLANK", 0x0F: "ACTIVE", 0x7F: "LOCKED", 0xFF: "TERMINATED"}

    def __init__(self, i):
        self.state = self.STATES.get(i.state, "%02X" % i.state)
        self.version = (i.version_major, i.version_minor)
        self.max_response = i.max_response
        self.max_command = i.max_command
        self.serial = bytes(i.serial).hex().upper() if i.have_am_fields else None
        self.free_nvm = i.free_nvm if i.have_am_fields else None
        self.ap_count = i.ap_count if i.have_am_fields else None


class Reader:
    """PC/SC readers."""

    @staticmethod
    def list():
        p = P()
        _check(_lib.mnap_pcsc_new(_c.byref(p)))
        try:
            names = []
            cb_t = _c.CFUNCTYPE(None, _c.c_void_p, _c.c_char_p)
            cb = cb_t(lambda user, name: names.append(name.decode()))
            n = _c.c_size_t()
            _check(_lib.mnap_pcsc_list_readers(p, _c.cast(cb, _c.c_void_p), None, _c.byref(n)))
            return names
        finally:
            _lib.mnap_pcsc_free(p)

    @staticmethod
    def connect(reader=None, exclusive=False):
        """Connects to the card in reader (None: the first reader with a card,
        or MNAP_READER).  exclusive: no other program may connect meanwhile."""
        return Card(reader if reader is not None else os.environ.get("MNAP_READER") or None,
                    exclusive)


class Card:
    """A connected card (one PC/SC context and one libmnap context).  Not for
    two threads at once: one Card per thread."""

    def __init__(self, reader=None, exclusive=False):
        self._p = P()
        self._ctx = P()
        _check(_lib.mnap_pcsc_new(_c.byref(self._p)), "PC/SC")
        try:
            if exclusive:
                _check(_lib.mnap_pcsc_set_exclusive(self._p, 1))
            _check(_lib.mnap_pcsc_connect(self._p, reader.encode() if reader else None),
                   "connect to %s" % (reader or "the first reader with a card"))
            self._t = _lib.mnap_pcsc_transport(self._p)
            _check(_lib.mnap_ctx_new(_c.byref(self._ctx), _c.byref(self._t)))
        except MnapError:
            self.close()
            raise

    @property
    def reader(self):
        r = _lib.mnap_pcsc_reader(self._p)
        return r.decode() if r else None

    def area_info(self):
        i = _AreaInfo()
        _check(_lib.mnap_area_info_get(self._ctx, _c.byref(i)), "GET DATA", self._ctx)
        return AreaInfo(i)

    def ap_session(self, aid, keys, level=LEVEL_FULL):
        """Opens an AP session (SELECT, mutual authentication at level);
        use it with `with`: the session is closed at the end."""
        a = _aid(aid)
        _check(_lib.mnap_ap_open(self._ctx, a, len(a), _c.byref(keys._ks), level),
               "opening the session of AP %s" % a.hex().upper(), self._ctx)
        return Session(self)

    def am_session(self, keys, level=LEVEL_FULL):
        _check(_lib.mnap_am_open(self._ctx, _c.byref(keys._ks), level),
               "opening the area manager session", self._ctx)
        return Session(self)

    def reconnect(self):
        """Resets the card and reconnects (after CardResetError)."""
        _check(_lib.mnap_reconnect(self._ctx), "reconnect", self._ctx)

    def last_sw(self):
        return _lib.mnap_last_sw(self._ctx)

    def close(self):
        if self._ctx:
            _lib.mnap_ctx_free(self._ctx)
            self._ctx = P()
        if self._p:
            _lib.mnap_pcsc_free(self._p)
            self._p = P()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Session:
    """An open secure session: PIN and files.  The card stays held for this
    program until close() (the end of the `with` block)."""

    def __init__(self, card):
        self._card = card
        self._ctx = card._ctx

    def _ok(self, code, what):
        _check(code, what, self._ctx)

    def pin_status(self):
        st = _PinStatus()
        self._ok(_lib.mnap_ap_pin_status(self._ctx, _c.byref(st)), "PIN status")
        return PinStatus(st)

    def verify_pin(self, pin):
        """VERIFY.  PinWrongError (.tries_left), PinBlockedError, PinPolicyError
        (no try used), PinNotSetError."""
        p = pin.encode() if isinstance(pin, str) else bytes(pin)
        left = _c.c_uint8(0xFF)
        code = _lib.mnap_ap_verify_pin(self._ctx, p, len(p), _c.byref(left))
        if code != 0:
            try:
                _check(code, "VERIFY", self._ctx)
            except MnapError as e:
                e.tries_left = left.value
                raise

    def change_pin(self, old, new):
        o = old.encode() if isinstance(old, str) else bytes(old)
        n = new.encode() if isinstance(new, str) else bytes(new)
        left = _c.c_uint8(0xFF)
        code = _lib.mnap_ap_change_pin(self._ctx, o, len(o), n, len(n), _c.byref(left))
        if code != 0:
            try:
                _check(code, "CHANGE REFERENCE DATA", self._ctx)
            except MnapError as e:
                e.tries_left = left.value
                raise

    def select_ef(self, fid):
        i = _EfInfo()
        self._ok(_lib.mnap_ap_select_ef(self._ctx, fid, _c.byref(i)), "EF %04X" % fid)
        return EfInfo(i)

    def read_binary(self, fid, offset=0, length=None):
        """Reads a transparent EF from offset: length bytes (None: to its end)."""
        if length is None:
            length = max(self.select_ef(fid).size - offset, 0)
        buf = _c.create_string_buffer(max(length, 1))
        got = _c.c_size_t(0)
        self._ok(_lib.mnap_ap_read_binary(self._ctx, fid, offset, buf, length, _c.byref(got)),
                 "READ BINARY %04X" % fid)
        return buf.raw[:got.value]

    def update_binary(self, fid, data, offset=0):
        data = bytes(data)
        self._ok(_lib.mnap_ap_update_binary(self._ctx, fid, offset, data, len(data)),
                 "UPDATE BINARY %04X" % fid)

    def read_record(self, fid, number):
        """Record number (1-based; on a cyclic EF 1 is the newest)."""
        buf = _c.create_string_buffer(256)
        got = _c.c_size_t(0)
        self._ok(_lib.mnap_ap_read_record(self._ctx, fid, number, buf, 256, _c.byref(got)),
                 "READ RECORD %04X/%d" % (fid, number))
        return buf.raw[:got.value]

    def read_records(self, fid):
        """Every record written so far, in card order."""
        out = []
        for n in range(1, self.select_ef(fid).record_count + 1):
            try:
                out.append(self.read_record(fid, n))
            except RecordNotFoundError:  # noqa: F821 (made from the library's names)
                break
        return out

    def _record(self, fid, data):
        data = bytes(data)
        info = self.select_ef(fid)
        if info.record_length and len(data) != info.record_length:
            # Records are written at exactly their length.
            raise ValueError("EF %04X has records of %d bytes: the data has %d (records are "
                             "written at exactly their length)" % (fid, info.record_length, len(data)))
        return data

    def update_record(self, fid, number, data):
        data = self._record(fid, data)
        self._ok(_lib.mnap_ap_update_record(self._ctx, fid, number, data, len(data)),
                 "UPDATE RECORD %04X/%d" % (fid, number))

    def append_record(self, fid, data):
        data = self._record(fid, data)
        self._ok(_lib.mnap_ap_append_record(self._ctx, fid, data, len(data)),
                 "APPEND RECORD %04X" % fid)

    def close(self):
        if self._ctx:
            code = _lib.mnap_close(self._ctx)
            self._ctx = None
            _check(code, "closing the session", self._card._ctx)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            try:
                self.close()
            except MnapError:
                pass
