#!/usr/bin/env python3
"""gen_corpus.py: writes the seed corpora of the card and manifest fuzzers.

Card seeds (test/fuzz/corpus/card/) are the commands of the card test suites
(test/card/test_proto_*.c: every ch_cmdx / ch_rawx hex string and every
ch_cmdl header + data, in source order), cut into inputs of at most 24
commands in the framing of test/fuzz/fuzz_card.c, each starting from the
state its suite works in, plus a few inputs that walk the harness operations
(AREA SETUP from blank, loads, channels, VERIFY, power cycles).

Manifest seeds (test/fuzz/corpus/manifest/) are the example manifests, the
test manifests and a few small variants.

gen_corpus.c writes the host and key store seeds.  Run from the project root:
    python3 test/fuzz/gen_corpus.py
"""
import glob
import os
import re
import shutil

OUT = "test/fuzz/corpus"
PER_SEED = 24
MAX_SEEDS_PER_SUITE = 3

# Start state per suite (fuzz_card.h): 0 blank, 1 active with APs A and B,
# 2 AM channel open, 3 channel on A with the PIN verified.
START = {
    "am": 2, "chaining": 2, "files": 3, "firewall": 3, "load": 2, "log": 2, "pin": 3,
    "precedence": 3, "refusals": 1, "scp03": 1, "scp03_ref": 1, "select": 1, "states": 2,
    "ram": 3, "wear": 3,
}

CMD_RE = re.compile(r'ch_(cmdx|rawx)\(\s*c\s*,\s*"([0-9A-Fa-f |]*)"')
CMDL_RE = re.compile(r'ch_cmdl\(\s*c\s*,\s*[^,]+,\s*"([0-9A-Fa-f ]{8,11})"\s*,\s*"([0-9A-Fa-f ]*)"\s*,\s*(-?\d+)')


def unhex(s):
    return bytes.fromhex(s.replace(" ", "").replace("|", ""))


def apdu(hdr, data, le):
    out = bytearray(hdr)
    ext = len(data) > 255 or le > 256
    if data:
        out += bytes([0, len(data) >> 8, len(data) & 0xFF]) if ext else bytes([len(data)])
        out += data
    if le >= 0:
        v = 0 if le == 65536 else le
        if ext:
            out += (b"\x00" if not data else b"") + bytes([v >> 8 & 0xFF, v & 0xFF])
        else:
            out += bytes([0 if le == 256 else le])
    return bytes(out)


def record(ctl, body):
    if len(body) > 255:
        return bytes([ctl | 0x80, len(body) >> 8, len(body) & 0xFF]) + body
    return bytes([ctl, len(body)]) + body


def suite_commands(path):
    src = open(path, encoding="utf-8").read()
    items = []
    for m in CMD_RE.finditer(src):
        try:
            items.append((m.start(), 0 if m.group(1) == "cmdx" else 1, unhex(m.group(2))))
        except ValueError:
            pass
    for m in CMDL_RE.finditer(src):
        try:
            items.append((m.start(), 0, apdu(unhex(m.group(1)), unhex(m.group(2)), int(m.group(3)))))
        except ValueError:
            pass
    items.sort()
    return [(ctl, body) for _, ctl, body in items if len(body) >= 4]


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def card_seeds():
    n = 0
    for path in sorted(glob.glob("test/card/test_proto_*.c")):
        suite = os.path.basename(path)[len("test_proto_"):-2]
        cmds = suite_commands(path)
        for i in range(0, min(len(cmds), PER_SEED * MAX_SEEDS_PER_SUITE), PER_SEED):
            seed = bytes([START.get(suite, 1)])
            for ctl, body in cmds[i:i + PER_SEED]:
                seed += record(ctl, body)
            write("card", "%s_%d" % (suite, i // PER_SEED), seed)
            n += 1
    # Harness operations (fuzz_card.c): op bytes, argument.
    op = lambda code, arg=0: record(2, bytes([code, arg]))
    walks = {
        # blank: transport channel, AREA SETUP, region channel, load C, power cycle
        "ops_setup": bytes([0]) + op(1) + op(4, 0xFF) + op(0) + op(5, 1) + op(6),
        # active: channel on A at level 13, VERIFY, READ BINARY of the PIN file, reset
        "ops_ap": bytes([1]) + op(2, 1) + op(3) + record(0, unhex("00B08200 00")) + op(7),
        # AM channel: unblock A, list, suspend B (GET STATUS, SET STATUS)
        "ops_am": bytes([2]) + record(0, unhex("802C0081 0E 4F05D392100001 DF0205 3536373839"))
        + record(0, unhex("80F24002 02 4F00 00"))
        + record(0, unhex("80F04083 07 4F05D392100002")) + op(6) + op(0) + op(5, 4),
        # AP channel: file writes, a chained command, then wrong and right PINs
        "ops_pin": bytes([3]) + record(0, unhex("00D60000 04 01020304"))
        + record(3 | (1 << 2), unhex("00E20020 08 0102030405060708"))
        + record(0, unhex("00200081 04 39393939")) + op(3) + op(6),
        # power cuts (op 8: nth write, bytes of it) during a file write, a wrong
        # VERIFY, an AP load and AREA SETUP
        "tear_update": bytes([3]) + record(2, bytes([8, 0, 3])) + record(0, unhex("00D68110 08 A0A1A2A3A4A5A6A7")),
        "tear_verify": bytes([3]) + record(2, bytes([8, 0, 1])) + record(0, unhex("00200081 04 39393939"))
        + record(2, bytes([8, 1, 0])) + op(3),
        "tear_load": bytes([2]) + record(2, bytes([8, 1, 7])) + op(5, 1) + op(6),
        "tear_setup": bytes([0]) + op(1) + record(2, bytes([8, 3, 2])) + op(4, 0xFF),
        "tear_delete": bytes([2]) + record(2, bytes([8, 4, 0])) + record(0, unhex("80E40000 07 4F05D392100002")),
    }
    # op 9: LOAD AP of an image whose key set the harness supplies
    def tlv(tag, val):
        t = bytes([tag]) if tag < 0x100 else bytes([tag >> 8, tag & 0xFF])
        return t + (bytes([len(val)]) if len(val) < 0x80 else bytes([0x81, len(val)])) + val

    def ef(fid, sfi, typ, size_or_rec, rd, wr, content=None):
        v = tlv(0x83, fid.to_bytes(2, "big")) + (tlv(0x88, bytes([sfi])) if sfi else b"")
        v += tlv(0x82, bytes([typ]))
        if typ == 1:
            v += tlv(0x80, size_or_rec.to_bytes(2, "big"))
        else:
            v += tlv(0x84, bytes([size_or_rec[0]])) + tlv(0x85, bytes([size_or_rec[1]]))
        v += tlv(0x86, bytes([rd])) + tlv(0x87, bytes([wr]))
        if content is not None:
            v += tlv(0x53, content)
        return tlv(0xA3, v)

    policy = tlv(0xA0, tlv(0x80, b"\x03") + tlv(0x81, b"\x04") + tlv(0x82, b"\x08") + tlv(0x83, b"1234"))
    images = {
        "image_full": tlv(0x4F, unhex("D392100009")) + policy
        + ef(0x0101, 1, 1, 64, 0, 0, bytes(range(64))) + ef(0x0102, 2, 1, 32, 1, 1, b"secret")
        + ef(0x0201, 4, 2, (16, 3), 0, 0) + ef(0x0301, 5, 6, (8, 3), 0, 0xFF),
        "image_level": tlv(0x4F, unhex("D3921000AA55")) + policy + tlv(0xA2, tlv(0x80, b"\x01"))
        + ef(0x0A01, 0, 1, 8, 0xFF, 1),
        "image_nopin": tlv(0x4F, unhex("D39210000B")) + tlv(0xA0, tlv(0x80, b"\x01") + tlv(0x81, b"\x0c")
                                                         + tlv(0x82, b"\x0c"))
        + ef(0x0202, 30, 2, (254, 2), 1, 1),
    }
    for name, img in images.items():
        walks[name] = bytes([2]) + record(2, bytes([9, 0]) + img) + op(6) + op(2, 0x80)
    walks["image_chained"] = bytes([2]) + record(2, bytes([9, 4]) + images["image_full"]) + op(6)
    walks["tear_chained"] = (bytes([2]) + record(2, bytes([8, 6, 9]))
                             + record(2, bytes([9, 4]) + images["image_level"]))
    for name, seed in walks.items():
        write("card", name, seed)
        n += 1
    return n


MINIMAL = """{
  "aid": "D392F00001",
  "pin": {"max_tries": 3, "min_length": 4, "max_length": 8, "initial": "1234"},
  "key_set": "k",
  "files": [
    {"fid": "0101", "type": "transparent", "size": 16, "read": "SM", "write": "PIN",
     "content_hex": "00112233"}
  ]
}
"""

RECORDS = """{
  "aid": "D392F0000102",
  "pin": {"max_tries": 1, "min_length": 6, "max_length": 12},
  "key_set": "missing",
  "min_level": "13",
  "files": [
    {"fid": "0201", "sfi": 30, "type": "linear-fixed", "record_length": 254, "record_count": 2,
     "read": "PIN", "write": "NEVER"},
    {"fid": "0301", "sfi": 1, "type": "cyclic", "record_length": 1, "record_count": 254,
     "read": "SM", "write": "SM"}
  ]
}
"""


ESCAPES = """{
  "description": "escapes: \\u00e9\\u3042 \\ud83d\\ude00 \\n\\t\\"\\\\\\/",
  "aid": "D392F0000103",
  "pin": {"max_tries": 2, "min_length": 4, "max_length": 4, "initial": "0000"},
  "key_set": "k",
  "files": [
    {"fid": "0101", "type": "transparent", "size": 40, "read": "SM", "write": "SM",
     "content_text": "\\u5e02\\u7acb A\\u0042"},
    {"fid": "0102", "type": "transparent", "size": 4, "read": "PIN", "write": "PIN",
     "content_hex": "de ad be ef"}
  ]
}
"""


def manifest_seeds():
    n = 0
    for path in sorted(glob.glob("tools/examples/*.json") + glob.glob("test/tools/data/*.json")):
        shutil.copyfile(path, os.path.join(OUT, "manifest", os.path.basename(path)))
        n += 1
    write("manifest", "minimal.json", MINIMAL.encode())
    write("manifest", "records.json", RECORDS.encode())
    write("manifest", "empty_object.json", b"{}")
    write("manifest", "escapes.json", ESCAPES.encode())
    return n + 4


def main():
    os.makedirs(os.path.join(OUT, "manifest"), exist_ok=True)
    print("gen_corpus.py: %d card seeds, %d manifest seeds" % (card_seeds(), manifest_seeds()))


if __name__ == "__main__":
    main()
