#!/usr/bin/python3
"""vcard_arm.py: mnap-vcard's command line, with the card on an ARM core.

    vcard_arm.py --image PATH [--new] [--serial HEX] --connect HOST:PORT
                 [--transport t1|t0|contactless] [-v|-vv]

Starts qemu-system-arm -M mps2-an385 (Cortex-M3) with uart_card.elf
(test/arm/uart_card.c: the card runtime on the QEMU port, NVM in the image
file through semihosting) and its UART0 on -serial tcp:127.0.0.1:PORT, and
bridges that UART to vpcd (vsmartcard's virtual reader, HOST:PORT), so pcscd
sees an ordinary reader with the ARM card in it.  On the UART, frames
type:1 len:2 payload check:1 (XOR of the bytes before it), see uart_card.c;
to vpcd, vpcd's protocol (len:2 payload; one-byte payloads 00 power off,
01 power on, 02 reset, 04 ATR).  The ATR of T=0 and contactless is derived
from the card's T=1 one as mnap-vcard does (tools/mnap-vcard/vc_card.c).
MNAP_ARM_ELF overrides the firmware; with MNAP_ARM_MARK each card start
appends a line to that file; SIGTERM stops QEMU and the bridge.
The image is a raw 64 KiB NVM (not mnap-vcard's image format)."""
import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ELF = os.environ.get("MNAP_ARM_ELF", os.path.join(ROOT, os.environ.get("ARM_BUILD", "build-arm"),
                                                  "mps2", "uart_card.elf"))
TRANSPORTS = {"t1": 0, "t0": 1, "contactless": 2}
qemu = None
verbose = 0


def log(level, msg):
    if verbose >= level:
        print("vcard_arm: " + msg, flush=True)


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def frame(uart, t, payload=b""):
    f = bytes([ord(t)]) + struct.pack(">H", len(payload)) + payload
    ck = 0
    for x in f:
        ck ^= x
    uart.sendall(f + bytes([ck]))
    h = recv_exact(uart, 3)
    n = struct.unpack(">H", h[1:])[0]
    body = recv_exact(uart, n)
    ck = 0
    for x in h + body:
        ck ^= x
    if recv_exact(uart, 1)[0] != ck:
        raise IOError("bad check byte from the card")
    if h[0] == ord("X"):
        raise IOError("card: " + body.decode(errors="replace"))
    return body


def derive_atr(t1, transport):
    if transport == 0:
        return t1
    if transport == 1:
        k = t1[1] & 0x0F
        return bytes([t1[0], k]) + t1[3:3 + k]
    a = bytes([0x3B, 0x88, 0x80, 0x01, 0, 0, 0, 0, 0xB3, 0x81, 0x81, 0x00])
    ck = 0
    for x in a[1:]:
        ck ^= x
    return a + bytes([ck])


def stop(*_):
    if qemu is not None and qemu.poll() is None:
        qemu.terminate()
        try:
            qemu.wait(5)
        except subprocess.TimeoutExpired:
            qemu.kill()
    sys.exit(0)


def main():
    global qemu, verbose
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--new", action="store_true")
    ap.add_argument("--serial", default="0001020304050607")
    ap.add_argument("--connect", required=True)
    ap.add_argument("--transport", default="t1", choices=sorted(TRANSPORTS))
    ap.add_argument("-v", action="count", default=0)
    ap.add_argument("-vv", action="store_true")
    a = ap.parse_args()
    verbose = a.v + (2 if a.vv else 0)
    transport = TRANSPORTS[a.transport]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # a free port for QEMU's UART server
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    uport = s.getsockname()[1]
    s.close()
    qemu = subprocess.Popen([os.environ.get("QEMU", "qemu-system-arm"), "-M", "mps2-an385",
                             "-nographic", "-monitor", "none",
                             "-semihosting-config", "enable=on,target=native",
                             "-serial", "tcp:127.0.0.1:%d,server=on,wait=on" % uport,
                             "-kernel", ELF], stdin=subprocess.DEVNULL)
    uart = None
    for _ in range(100):
        try:
            uart = socket.create_connection(("127.0.0.1", uport))
            break
        except OSError:
            time.sleep(0.05)
    if uart is None:
        sys.exit("vcard_arm: QEMU's UART did not come up")
    image = os.path.abspath(a.image)
    if a.new:
        frame(uart, "N", image.encode() + bytes.fromhex(a.serial))
    elif not os.path.exists(image):
        sys.exit("vcard_arm: no image %s (use --new)" % image)
    else:
        frame(uart, "I", image.encode())
    t1 = frame(uart, "P", bytes([transport]))
    atr = derive_atr(t1, transport)
    log(1, "card up on the Cortex-M3, ATR %s" % atr.hex().upper())
    if os.environ.get("MNAP_ARM_MARK"):
        # proof for make test-arm-pcsc that the tests reached this card
        with open(os.environ["MNAP_ARM_MARK"], "a") as f:
            f.write("%s %s\n" % (ELF, image))
    host, port = a.connect.rsplit(":", 1)
    vpcd = None
    while vpcd is None:
        try:
            vpcd = socket.create_connection((host, int(port)))
        except OSError:
            time.sleep(0.2)
    log(1, "connected to vpcd at %s" % a.connect)
    try:
        while True:
            n = struct.unpack(">H", recv_exact(vpcd, 2))[0]
            msg = recv_exact(vpcd, n)
            if n == 1 and msg[0] == 0:
                frame(uart, "O")
            elif n == 1 and msg[0] == 1:
                t1 = frame(uart, "P", bytes([transport]))
            elif n == 1 and msg[0] == 2:
                frame(uart, "R")
            elif n == 1 and msg[0] == 4:
                vpcd.sendall(struct.pack(">H", len(atr)) + atr)
            else:
                rsp = frame(uart, "A", msg)
                # mnap-vcard's -vv line (test/e2e/suite_lifecycle.sh reads it)
                log(2, "APDU %s (%d bytes) -> %s" % (" ".join("%02X" % x for x in msg[:4]), len(msg),
                                                      rsp[-2:].hex().upper() if rsp else "mute"))
                vpcd.sendall(struct.pack(">H", len(rsp)) + rsp)
    except EOFError:
        log(1, "vpcd closed the connection")
    stop()


if __name__ == "__main__":
    main()
