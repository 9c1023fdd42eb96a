# test/interop/card.py: the peer's PC/SC side.  One mnap-vcard process per
# card image, started and stopped by PID, in the private pcscd's vpcd slot
# that test/interop/run.sh set up; APDUs go through pyscard (python3-pyscard)
# and the real pcscd.

import os
import subprocess
import time

from smartcard import scard

import gp

VCARD = os.environ.get("MNAP_VCARD", "build/bin/mnap-vcard")
PORT = int(os.environ.get("MNAP_INTEROP_PORT", "40530"))
READER = os.environ.get("MNAP_INTEROP_READER", "mnap-interop 00 00")
MODE = os.environ.get("MNAP_TRANSPORT", "t1")
TMP = os.environ.get("MNAP_INTEROP_TMP", "/tmp")
LOG = os.path.join(TMP, "apdu-%s.log" % MODE)


def hx(b):
    return b.hex().upper()


class CardError(Exception):
    pass


class Card:
    """A fresh blank mnap-vcard card in the reader, and a PC/SC connection."""

    serial_no = 0

    def __init__(self, name):
        Card.serial_no += 1
        self.serial = bytes.fromhex("0000000014%02X%04X" % ({"t1": 1, "t0": 0, "contactless": 0xC}[MODE], Card.serial_no))
        self.div_data = self.serial + b"\x00\x01"
        self.name = name
        self.image = os.path.join(TMP, "%s-%s.img" % (MODE, name))
        self.proc = None
        self.ctx = None
        self.hcard = None
        self.log = open(LOG, "a")

    # -- the mnap-vcard process ------------------------------------------------
    def start(self):
        if os.path.exists(self.image):
            os.unlink(self.image)
        args = [VCARD, "--image", self.image, "--new", "--serial", self.serial.hex(),
                "--connect", "127.0.0.1:%d" % PORT, "-vv"]
        if MODE != "t1":
            args += ["--transport", MODE]
        self.vlog = open(os.path.join(TMP, "vcard-%s-%s.log" % (MODE, self.name)), "w")
        self.proc = subprocess.Popen(args, stdout=self.vlog, stderr=subprocess.STDOUT)
        self.log.write("=== card %s: %s (pid %d)\n" % (self.name, " ".join(args), self.proc.pid))
        with open(os.path.join(TMP, "vcard.pids"), "a") as f:
            f.write("%d\n" % self.proc.pid)
        r, st = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if r != scard.SCARD_S_SUCCESS:
            raise CardError("SCardEstablishContext: %s" % scard.SCardGetErrorMessage(r))
        self.ctx = st
        self.wait("present", 10.0)
        self.connect()
        return self

    def wait(self, what, timeout):
        end = time.time() + timeout
        state = scard.SCARD_STATE_UNAWARE
        while time.time() < end:
            if self.proc is not None and self.proc.poll() is not None and what == "present":
                self.vlog.flush()
                with open(self.vlog.name) as f:
                    tail = f.read().strip().splitlines()[:1]
                raise CardError("mnap-vcard exited with status %d: %s" % (self.proc.returncode, " | ".join(tail)))
            r, states = scard.SCardGetStatusChange(self.ctx, 200, [(READER, state)])
            if r == scard.SCARD_S_SUCCESS or r == scard.SCARD_E_TIMEOUT:
                if r == scard.SCARD_S_SUCCESS:
                    state = states[0][1] & ~scard.SCARD_STATE_CHANGED
                present = bool(state & scard.SCARD_STATE_PRESENT) and not (state & scard.SCARD_STATE_MUTE)
                if (what == "present") == present:
                    return
            else:
                time.sleep(0.1)
        raise CardError("card not %s in '%s' after %.0f s" % (what, READER, timeout))

    def connect(self):
        r, h, proto = scard.SCardConnect(self.ctx, READER, scard.SCARD_SHARE_SHARED,
                                         scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if r != scard.SCARD_S_SUCCESS:
            raise CardError("SCardConnect: %s" % scard.SCardGetErrorMessage(r))
        self.hcard, self.protocol = h, proto
        r, reader, state, p, atr = scard.SCardStatus(h)
        self.atr = bytes(atr)
        self.log.write("--- connected, protocol %s, ATR %s\n" % ("T=0" if proto == scard.SCARD_PROTOCOL_T0 else "T=1", hx(self.atr)))

    def reset(self):
        """Warm reset: clears RAM state (selection, channel, PIN state)."""
        r, proto = scard.SCardReconnect(self.hcard, scard.SCARD_SHARE_SHARED,
                                        scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, scard.SCARD_RESET_CARD)
        if r != scard.SCARD_S_SUCCESS:
            raise CardError("SCardReconnect: %s" % scard.SCardGetErrorMessage(r))

    def stop(self):
        if self.hcard is not None:
            scard.SCardDisconnect(self.hcard, scard.SCARD_LEAVE_CARD)
            self.hcard = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
            if self.ctx is not None:
                try:
                    self.wait("absent", 5.0)
                except CardError:
                    pass
        if self.ctx is not None:
            scard.SCardReleaseContext(self.ctx)
            self.ctx = None
        self.vlog.close()
        self.log.close()

    # -- APDUs -------------------------------------------------------------
    def raw(self, cmd):
        """One APDU as bytes; returns (data, sw). No GET RESPONSE."""
        cmd = bytes(cmd)
        r, resp = scard.SCardTransmit(self.hcard, self.protocol, list(cmd))
        if r != scard.SCARD_S_SUCCESS:
            self.log.write("> %s\n< PC/SC error %s\n" % (hx(cmd), scard.SCardGetErrorMessage(r)))
            raise CardError("SCardTransmit(%s): %s" % (hx(cmd[:5]), scard.SCardGetErrorMessage(r)))
        resp = bytes(resp)
        if len(resp) < 2:
            raise CardError("response of %d bytes to %s" % (len(resp), hx(cmd[:5])))
        self.log.write("> %s\n< %s\n" % (hx(cmd), hx(resp)))
        return resp[:-2], int.from_bytes(resp[-2:], "big")

    def xchg(self, cmd, getresp=True, le_max=256):
        """An APDU, following 61xx with GET RESPONSE (00 C0 00 00 Le) until
        the last part.  Returns (data, sw, parts) with parts the list of SWs
        seen (to check the 61xx path was taken)."""
        data, sw = self.raw(cmd)
        parts = [sw]
        if (sw >> 8) == 0x61 and data:
            raise CardError("61xx with data")
        while getresp and (sw >> 8) == 0x61:
            n = sw & 0xFF or 256
            more, sw = self.raw(bytes([0x00, 0xC0, 0x00, 0x00, min(n, le_max) & 0xFF]))
            parts.append(sw)
            data += more
        return data, sw, parts

    def send(self, cla, ins, p1, p2, data=b"", ne=None, extended=None):
        """A plain command; returns (data, sw)."""
        d, sw, _ = self.xchg(gp.apdu(cla, ins, p1, p2, data, ne, extended))
        return d, sw

    # -- helpers of the protocol ---------------------------------------------
    def select(self, aid, p2=0x00):
        return self.send(0x00, 0xA4, 0x04, p2, aid, 256 if p2 == 0 else None)

    def open_channel(self, keys, kvn, level, aid, host_challenge=None):
        """INITIALIZE UPDATE + EXTERNAL AUTHENTICATE; returns a Session or raises."""
        enc, mac, dek = keys
        s = gp.Scp03(enc, mac, dek, host_challenge or os.urandom(8))
        data, sw = self.send_raw_init(s, kvn)
        if sw != 0x9000:
            raise CardError("INITIALIZE UPDATE: %04X" % sw)
        s.parse_init_response(data, aid)
        d, sw, _ = self.xchg(s.external_authenticate_apdu(level))
        if sw != 0x9000 or d:
            raise CardError("EXTERNAL AUTHENTICATE level %02X: %s %04X" % (level, hx(d), sw))
        s.authenticated()
        return Session(self, s)

    def send_raw_init(self, s, kvn):
        d, sw, _ = self.xchg(s.initialize_update_apdu(kvn))
        return d, sw


class Session:
    """An open SCP03 channel: wrapped commands, verified responses."""

    def __init__(self, card, scp):
        self.card = card
        self.scp = scp

    def send(self, cla, ins, p1, p2, data=b"", ne=None, extended=None):
        """Returns (plain data, sw, parts)."""
        w = self.scp.wrap(cla, ins, p1, p2, data, ne, extended)
        d, sw, parts = self.card.xchg(w)
        return self.scp.unwrap(d, sw), sw, parts

    def cmd(self, cla, ins, p1, p2, data=b"", ne=None, extended=None):
        d, sw, _ = self.send(cla, ins, p1, p2, data, ne, extended)
        return d, sw
