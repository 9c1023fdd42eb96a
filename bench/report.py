#!/usr/bin/env python3
"""bench/report.py: writes docs/PERFORMANCE.md from the raw files of one run.

    python3 bench/report.py RAWDIR > docs/PERFORMANCE.md

RAWDIR is what bench/run.sh left: machine.txt (key: value), cost.txt (the
"apdu" lines of bench_card cost), cg-total.txt and cg-noaes.txt ("aN Ir" per
callgrind dump), rate.txt, scale.txt, pcsc.txt, size.txt (make size).  Every
number in the output comes from these files; a missing file gives a row that
says so instead of a figure.  Statistics: median over the repeated runs, with
min and max.
"""
import math
import os
import statistics
import sys

RAW = sys.argv[1]


def read(name):
    p = os.path.join(RAW, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return f.read().splitlines()


def machine():
    m = {}
    for line in read("machine.txt") or []:
        if ":" in line:
            k, v = line.split(":", 1)
            m[k.strip()] = v.strip()
    return m


def stat(values):
    """(median, min, max) of a non-empty list, or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


def fmt_int(x):
    return f"{int(round(x)):,}"


def fmt_stat(s, f=fmt_int, unit=""):
    if s is None:
        return "not measured"
    med, lo, hi = s
    if f(lo) == f(hi):
        return f"{f(med)}{unit} (min = max)"
    return f"{f(med)}{unit} ({f(lo)} – {f(hi)})"


def f1(x):
    return f"{x:,.1f}"


def f2(x):
    return f"{x:,.2f}"


# --- per-APDU records of bench_card cost -------------------------------------
class Apdu:
    def __init__(self, parts):
        self.seq = parts[1]
        self.label = parts[2]
        self.iter = int(parts[3])
        self.ins = parts[4]
        self.cmd = int(parts[5])
        self.rsp = int(parts[6])
        self.nvm_w = int(parts[7])
        self.nvm_b = int(parts[8])


def load_cg(name, col=1):
    """{dump name: column col} of cg-*.txt ("aN Ir AES-blocks")."""
    d = {}
    for line in read(name) or []:
        p = line.split()
        if len(p) > col:
            d[p[0]] = int(p[col])
    return d


APDUS = [Apdu(l.split()) for l in (read("cost.txt") or []) if l.startswith("apdu ")]
CG_TOTAL = load_cg("cg-total.txt")
CG_NOAES = load_cg("cg-noaes.txt")
CG_AES_BLOCKS = load_cg("cg-total.txt", 2)
ITERS = sorted({a.iter for a in APDUS})


def select(pred):
    """APDUs grouped by iteration: {iter: [Apdu]} for those matching pred."""
    g = {i: [] for i in ITERS}
    for a in APDUS:
        if pred(a):
            g[a.iter].append(a)
    return g


def per_iter(groups, fn):
    out = []
    for _, lst in groups.items():
        if lst:
            out.append(fn(lst))
    return out


def cg_sum(lst, table):
    if not table:
        return None
    try:
        return sum(table["a" + a.seq] for a in lst)
    except KeyError:
        return None


# Rows of the card tables: (name, predicate, note)
ROWS = [
    ("SELECT by AID (AP, P2 0C)", lambda a: a.label == "kiosk.open" and a.ins == "SELECT-AID",
     "first APDU of the kiosk flow"),
    ("INITIALIZE UPDATE", lambda a: a.label == "kiosk.open" and a.ins == "INITIALIZE-UPDATE",
     "sequence counter committed first"),
    ("EXTERNAL AUTHENTICATE (level 33)",
     lambda a: a.label == "kiosk.open" and a.ins == "EXTERNAL-AUTHENTICATE", ""),
    ("VERIFY, right PIN", lambda a: a.label == "kiosk.verify" and a.ins == "VERIFY",
     "try counter at its maximum"),
    ("VERIFY, wrong PIN", lambda a: a.label == "pin.wrong" and a.ins == "VERIFY",
     "counter down, PIN_FAIL log entry"),
    ("VERIFY, right PIN after a wrong one",
     lambda a: a.label == "pin.right-after-wrong" and a.ins == "VERIFY", "counter restored"),
    ("SELECT EF (FCP, level 33)", lambda a: a.label == "kiosk.read" and a.ins == "SELECT-EF",
     "libmnap selects before reading"),
    ("READ BINARY, 256 bytes (level 33)",
     lambda a: a.label == "kiosk.read" and a.ins == "READ-BINARY", "R-MAC + R-ENC"),
    ("APPEND RECORD, 16 bytes (cyclic EF)",
     lambda a: a.label == "kiosk.append" and a.ins == "APPEND-RECORD", ""),
    ("LOAD AP, 4 KiB image (all blocks)", lambda a: a.label == "load4k" and a.ins == "LOAD-AP",
     "2 blocks of ≤ 2048 bytes"),
    ("LOAD AP, 16 KiB image (all blocks)", lambda a: a.label == "load16k" and a.ins == "LOAD-AP",
     "8 blocks"),
    ("UPDATE BINARY, 16 bytes (journaled)",
     lambda a: a.label == "journal.update" and a.ins == "UPDATE-BINARY",
     "a repeated write of the same EF"),
    ("CHANGE REFERENCE DATA × 2 (journaled)",
     lambda a: a.label == "journal.pin" and a.ins == "CHANGE-REFERENCE-DATA",
     "to another PIN, then back: both commands"),
    ("PUT KEY, AP key set × 2 (journaled)",
     lambda a: a.label == "journal.key" and a.ins == "PUT-KEY",
     "to another KVN, then back: both commands"),
    ("Kiosk flow, whole (9 APDUs)", lambda a: a.label.startswith("kiosk."),
     "open, VERIFY, SELECT EF + READ, SELECT EF + APPEND, close"),
]


def section_cpu(out):
    out.append("## 1. Card CPU cost (instructions per command)\n")
    if not APDUS:
        out.append("Not measured: bench_card cost did not run.\n")
        return
    if not CG_TOTAL:
        out.append("Not measured: valgrind (callgrind) was not available; "
                   "the NVM and wire tables below do not need it.\n")
    out.append("| command | instructions, total | instructions without the port's AES | "
               "AES share | AES blocks | how measured |")
    out.append("|---|---:|---:|---:|---:|---|")
    for name, pred, note in ROWS:
        g = select(pred)
        tot = stat(per_iter(g, lambda l: cg_sum(l, CG_TOTAL)))
        noa = stat(per_iter(g, lambda l: cg_sum(l, CG_NOAES)))
        blk = stat(per_iter(g, lambda l: cg_sum(l, CG_AES_BLOCKS)))
        share = "—"
        if tot and noa and tot[0] > 0:
            share = f"{100.0 * (tot[0] - noa[0]) / tot[0]:.0f} %"
        how = ("callgrind Ir inside mc_process (card runtime + sim port), one dump per APDU"
               + (f"; {note}" if note else ""))
        out.append(f"| {name} | {fmt_stat(tot)} | {fmt_stat(noa)} | {share} | "
                   f"{fmt_stat(blk)} | {how} |")
    out.append("")
    out.append(f"Median over {len(ITERS)} repetitions in one valgrind run (min – max). "
               "*Total* counts every instruction executed inside `mc_process`: the card "
               "runtime, `common/`, the simulator port's NVM functions (memory copies) and its "
               "AES, which is OpenSSL's EVP interface with a fresh context and key schedule per "
               "16-byte block (`card/port/sim/sim_crypto.c`). *Without the port's AES* is a "
               "second run with `--toggle-collect=mc_sim_openssl_aes`, which switches counting "
               "off inside that function: what is left is the runtime's own work plus the port's "
               "NVM copies, the figure to compare across ports; a card's AES engine adds its own "
               "cost per block. *AES blocks* is the number of calls of the port's AES function "
               "(one 16-byte block each, encryption or decryption, key schedule included), from "
               "callgrind's call counts of `mc_sim_openssl_aes` in the same dumps. Every command also pays the stack scrub that `mc_process` runs "
               "after it (card/mc_apdu.c). The host side (libmnap) is never counted: collection "
               "is zeroed before and dumped right after each `mc_process` call "
               "(`CALLGRIND_ZERO_STATS` / `CALLGRIND_TOGGLE_COLLECT` / `CALLGRIND_DUMP_STATS_AT`"
               " in bench/bench_card.c).\n")


# Before issue #16 (store format version 1, make bench of commit b98136c):
# port writes, bytes written; and the floor the issue asks for.
NVM_BEFORE = {
    "SELECT by AID (AP, P2 0C)": ("0", "0"),
    "INITIALIZE UPDATE": ("1", "8"),
    "EXTERNAL AUTHENTICATE (level 33)": ("0", "0"),
    "VERIFY, right PIN": ("14", "678"),
    "VERIFY, wrong PIN": ("11", "424"),
    "VERIFY, right PIN after a wrong one": ("14", "678"),
    "SELECT EF (FCP, level 33)": ("0", "0"),
    "READ BINARY, 256 bytes (level 33)": ("0", "0"),
    "APPEND RECORD, 16 bytes (cyclic EF)": ("6", "117"),
    "LOAD AP, 4 KiB image (all blocks)": ("150", "12,707"),
    "LOAD AP, 16 KiB image (all blocks)": ("540", "49,571"),
    "Kiosk flow, whole (9 APDUs)": ("21", "803"),
}
NVM_FLOOR = {
    "VERIFY, right PIN": "2 writes, ≤ 32 bytes",
    "VERIFY, wrong PIN": "2 writes, ≤ 48 bytes",
    "APPEND RECORD, 16 bytes (cyclic EF)": "1 write, ≤ 24 bytes",
    "Kiosk flow, whole (9 APDUs)": "4 writes, ≤ 96 bytes",
}
AMP_BEFORE = {4096: "3.10", 16384: "3.03"}


def section_nvm(out):
    out.append("## 2. NVM writes per command\n")
    if not APDUS:
        out.append("Not measured.\n")
        return
    out.append("| command | port writes | bytes written | before: writes | before: bytes | "
               "floor (issue #16) | how measured |")
    out.append("|---|---:|---:|---:|---:|---|---|")
    same = True
    for name, pred, _ in ROWS:
        g = select(pred)
        w = stat(per_iter(g, lambda l: sum(a.nvm_w for a in l)))
        b = stat(per_iter(g, lambda l: sum(a.nvm_b for a in l)))
        same = same and all(x is None or x[1] == x[2] for x in (w, b))
        bw, bb = NVM_BEFORE.get(name, ("—", "—"))
        out.append(f"| {name} | {fmt_stat(w)} | {fmt_stat(b)} | {bw} | {bb} | "
                   f"{NVM_FLOOR.get(name, '')} | "
                   "mc_sim `writes` / `bytes_written` before and after each mc_process |")
    out.append("")
    out.append("*Before*: the same rows by `make bench` before issue #16 (store format "
               "version 1, commit b98136c). Format version 2 (docs/nvm.md) keeps each PIN "
               "try counter in a wear-levelled counter cell (a right VERIFY is two 8-byte "
               "counter writes) and the journal's state in two 16-byte control slots "
               "(commit and clear are 16-byte writes where version 1 wrote 17 and 1). "
               "Format version 3 writes a wrong VERIFY's PIN_FAIL entry once into the spare "
               "of the security log's 33 self-checking slots (no journal: the try spent and "
               "the entry, 2 writes), aligns the store to 64-byte pages for parts that tear "
               "whole pages, and journals the whole pages a transaction writes. bench_card "
               "asserts the floors of the VERIFY and APPEND RECORD rows (writes and bytes, "
               "never time). "
               "LOAD AP writes its image once (docs/nvm.md, \"LOAD AP written once\"): the "
               "EF contents go straight to the new AP's region as the blocks stream in, the "
               "rest of the image stays in RAM, one journaled step (slot record, log "
               "entry) makes it visible, then the wipe mark is cleared directly; bench_card "
               "fails when a 4 or 16 KiB load writes more than 1.10 times its image.\n")
    rows = []
    for label, size in (("load4k", 4096), ("load16k", 16384)):
        g = select(lambda a, label=label: a.label == label)
        b = stat(per_iter(g, lambda l: sum(a.nvm_b for a in l)))
        if b:
            rows.append(f"| LOAD AP, {size // 1024} KiB | {fmt_int(b[0])} | {size:,} | "
                        f"**{b[0] / size:.2f}** | {AMP_BEFORE[size]} | ≤ 1.10 | "
                        "bytes written by all blocks ÷ image size on the card (tag A1 "
                        "included) |")
    if rows:
        out.append("Write amplification of LOAD AP:\n")
        out.append("| load | bytes written | image | amplification | before | "
                   "floor (issue #16) | how measured |")
        out.append("|---|---:|---:|---:|---:|---|---|")
        out.extend(rows)
        out.append("")
    out.append("The counts are the simulator port's (card/port/sim/mc_sim.h): one *write* is "
               "one `mc_port_nvm_write` call, whatever its length. The store's transaction "
               "scheme (docs/nvm.md) writes each changed byte twice (journal, then home) plus "
               "the open mark, the two control slots and record headers; the PIN try counter "
               "is spent before the comparison (PROTOCOL.md §8), so even a right VERIFY "
               "writes (the try spent, the try restored). "
               + ("In this run every count was the same in every repetition (min = max).\n"
                  if same else "Some counts differed between repetitions: see min – max.\n"))


# --- wire model ----------------------------------------------------------------
IFSC = 254          # T=1 information field size (card and reader)
T1_OVERHEAD = 4     # NAD PCB LEN + LRC per block
BAUD = 9600
BITS_PER_BYTE = 10
FSC = 256           # ISO 14443-4 frame size (FSCI = FSDI = 8)
INF_MAX = FSC - 3   # PCB + CRC_A (2)
FC = 13.56e6
BIT_S = 128 / FC    # 106 kbit/s
FDT_S = 1172 / FC   # minimum frame delay time


def t1_bytes(n):
    """Bytes on the wire for n bytes sent in T=1 I-blocks, plus the R-blocks
    the other side sends to acknowledge each chained block."""
    blocks = max(1, math.ceil(n / IFSC))
    return n + T1_OVERHEAD * blocks + T1_OVERHEAD * (blocks - 1)


def iso14443(n):
    """(bytes, seconds) on air for n bytes in ISO 14443-4 I-blocks at 106 kbit/s,
    with R(ACK) frames for chained blocks."""
    blocks = max(1, math.ceil(n / INF_MAX))
    frames = [3 + min(INF_MAX, n - i * INF_MAX) for i in range(blocks)] + [3] * (blocks - 1)
    secs = sum(FDT_S + (9 * f + 2) * BIT_S for f in frames)
    return sum(frames), secs


def section_wire(out):
    out.append("## 3. Bytes on the wire\n")
    if not APDUS:
        out.append("Not measured.\n")
        return
    flows = [
        ("Kiosk flow (9 APDUs)", lambda a: a.label.startswith("kiosk."), 4 + 256 + 16,
         "PIN 4 + data read 256 + record 16"),
        ("LOAD AP, 4 KiB", lambda a: a.label == "load4k", 4096, "image on the card"),
        ("LOAD AP, 16 KiB", lambda a: a.label == "load16k", 16384, "image on the card"),
    ]
    out.append("| exchange | APDUs | APDU bytes (command + response) | payload | T=1 bytes | "
               "T=1 time at 9,600 baud | ISO 14443-4 bytes | time at 106 kbit/s | how measured |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    same = True
    for name, pred, payload, pnote in flows:
        g = select(pred)
        lst = next((l for l in g.values() if l), [])
        totals = {sum(a.cmd + a.rsp for a in l) for l in g.values() if l}
        same = same and len(totals) <= 1
        apdu = sum(a.cmd + a.rsp for a in lst)
        t1 = sum(t1_bytes(a.cmd) + t1_bytes(a.rsp) for a in lst)
        iso = [iso14443(a.cmd) for a in lst] + [iso14443(a.rsp) for a in lst]
        iso_b = sum(b for b, _ in iso)
        iso_s = sum(s for _, s in iso)
        t1_s = t1 * BITS_PER_BYTE / BAUD
        out.append(f"| {name} | {len(lst)} | {apdu:,} | {payload:,} ({pnote}) | {t1:,} | "
                   f"{t1_s * 1000:,.0f} ms | {iso_b:,} | {iso_s * 1000:,.1f} ms | "
                   "APDU lengths from the in-process transport, framing from the model below |")
    out.append("")
    out.append(("The APDU lengths were the same in every repetition of the run. "
                if same else "The APDU lengths differed between repetitions; the table shows "
                "the first. ") + "Models, as physical lower bounds for a real card (no card processing time, no "
               "waiting-time extension, no PPS/RATS/anticollision, the card already powered):\n")
    out.append(f"- **T=1 (ISO 7816-3)**: every APDU travels in I-blocks of at most IFSC = "
               f"IFSD = {IFSC} bytes of information, each with a 3-byte prologue (NAD, PCB, "
               f"LEN) and a 1-byte LRC epilogue; every chained I-block is acknowledged by a "
               f"4-byte R-block from the other side. Time = bytes × {BITS_PER_BYTE} bits "
               f"(start, 8 data, stop) ÷ {BAUD:,} bit/s. A real T=1 character also carries a "
               f"parity bit and guard time (≥ 11 etu), and block guard times add up, so real "
               f"transfers are slower.")
    out.append(f"- **ISO 14443-4 Type A at 106 kbit/s**: FSC = FSD = {FSC} bytes, so an "
               f"I-block carries at most {INF_MAX} bytes (1-byte PCB, no CID/NAD, 2-byte "
               f"CRC_A); chained I-blocks are acknowledged by 3-byte R(ACK) frames. Each byte is "
               f"9 bits on air (8 + odd parity), each frame adds start and end of frame (2 bit "
               f"times) and is preceded by the minimum frame delay time 1172/fc "
               f"({FDT_S * 1e6:.1f} µs); one bit is 128/fc ({BIT_S * 1e6:.2f} µs).\n")


# --- footprint -------------------------------------------------------------------
def section_size(out):
    out.append("## 4. Footprint (Cortex-M0+)\n")
    lines = read("size.txt")
    if not lines:
        out.append("Not measured: `make size` did not run.\n")
        return
    text = data = bss = card = stack = None
    budgets_ok = None
    for i, l in enumerate(lines):
        p = l.split()
        if l.strip().endswith("probe.elf") and len(p) >= 6 and p[0].isdigit():
            text, data, bss = int(p[0]), int(p[1]), int(p[2])
        if "sizeof(mc_card)" in l:
            card = int(p[1])
        if l.strip().startswith("mc_process") and len(p) == 2 and p[1].isdigit():
            stack = int(p[1])
        if "OVER" in l:
            budgets_ok = False
    if text is None:
        out.append("`make size` ran but its output was not in the expected form:\n")
        out.append("```\n" + "\n".join(lines[-15:]) + "\n```\n")
        return
    status = read("size.status")
    out.append("| figure | value | before (issue #16) | how measured |")
    out.append("|---|---:|---:|---|")
    out.append(f"| text (+ rodata), linked | {text:,} bytes | 24,189 bytes | `make size`: card/ + common/ "
               "with arm-none-eabi-gcc -Os, linked with --gc-sections behind a probe calling "
               "every mc.h entry point |")
    out.append(f"| data | {data:,} bytes | 0 bytes | same link |")
    out.append(f"| bss | {bss:,} bytes | 4,643 bytes | same link; this is the probe's one mc_card and its "
               "I/O buffer: the runtime itself has no static data |")
    if card is not None:
        out.append(f"| sizeof(mc_card) | {card:,} bytes | 2,564 bytes | `make size` (caller-owned RAM per card) |")
    if stack is not None:
        out.append(f"| worst stack, mc_process | {stack:,} bytes | 944 bytes | `make size`: GCC "
                   "-fstack-usage call graph (tools/stack_depth.py), port functions counted as 0 |")
    out.append("")
    out.append("These figures come from one build and one link: they are exact, so no "
               "repetition or median applies.\n")
    if status and status[0].strip() != "0":
        out.append(f"`make size` exited with status {status[0].strip()} "
                   "(1: a budget of docs/porting.md exceeded).\n")
    elif budgets_ok is False:
        out.append("`make size` reports a budget exceeded.\n")


# --- throughput --------------------------------------------------------------------
def rates(lines, name, pooled=False):
    """Rates of the runs called name (pooled: also name-b, name-c, ...)."""
    v = []
    for l in lines or []:
        p = l.split()
        if len(p) == 5 and p[0] == "rate" and float(p[4]) > 0 and (
                p[1] == name or (pooled and p[1].startswith(name + "-"))):
            v.append(int(p[3]) / float(p[4]))
    return v


def section_rate(out):
    out.append("## 5. Throughput\n")
    rl = read("rate.txt")
    pl = read("pcsc.txt")
    skip = next((l for l in (pl or []) if l.startswith("pcsc-skip ")), None)
    vskip = next((l for l in (pl or []) if l.startswith("pcsc-vicc-skip ")), None)
    out.append("| configuration | rate | how measured |")
    out.append("|---|---:|---|")
    rows = [
        (rl, "inproc-kiosk", "Kiosk flows/s, in process", "flows/s",
         "libmnap → bench transport → mc_process, memory NVM; flows counted for a fixed time"),
        (rl, "inproc-read01", "SELECT EF + READ BINARY 128, in process, level 01", "APDUs/s",
         "same workload as the PC/SC rows, no PC/SC"),
        (rl, "inproc-read33", "SELECT EF + READ BINARY 128, in process, level 33", "APDUs/s",
         "same, with C-DEC, R-MAC, R-ENC"),
        (pl, "pcsc-kiosk", "Kiosk flows/s, pcscd + vpcd + mnap-vcard", "flows/s",
         "bench_pcsc on libmnap's PC/SC transport; mnap-vcard fsyncs its image file at every commit"),
        (pl, "pcsc-mnap01", "SELECT EF + READ BINARY 128, mnap-vcard, level 01 (C-MAC)", "APDUs/s",
         "bench_pcsc read; all rounds of the run"),
        (pl, "pcsc-mnap33", "SELECT EF + READ BINARY 128, mnap-vcard, level 33", "APDUs/s",
         "bench_pcsc read, interleaved with the level 01 runs"),
        (pl, "pcsc-vicc", "SELECT EF + READ BINARY 128, vicc --type iso7816, plain", "APDUs/s",
         "vicc as packaged (see below)"),
        (pl, "pcsc-vicc-quickack", "the same, vicc with TCP_QUICKACK", "APDUs/s",
         "vicc with a sitecustomize that sets TCP_QUICKACK before each recv"),
        (pl, "pcsc-echo", "SELECT EF + READ BINARY 128, echo card (9000 to all)", "APDUs/s",
         "bench/echo_card.c on the same vpcd slot: pcscd + vpcd + client alone"),
    ]
    med = {}
    for lines, key, name, unit, how in rows:
        s = stat(rates(lines, key, pooled=(key == "pcsc-mnap01")))
        if s:
            med[key] = s[0]
    for key in ("pcsc-mnap01", "pcsc-mnap01-b", "pcsc-mnap01-c"):
        s = stat(rates(pl, key))
        if s:
            med[key + ("-a" if key == "pcsc-mnap01" else "")] = s[0]
    for lines, key, name, unit, how in rows:
        s = stat(rates(lines, key, pooled=(key == "pcsc-mnap01")))
        why = skip or (vskip if key.startswith("pcsc-vicc") else None)
        val = fmt_stat(s, f1, f" {unit}") if s else ("not measured" + (
            f" ({why.split(' ', 1)[1]})" if why and lines is pl else ""))
        out.append(f"| {name} | {val} | {how} |")
    out.append("")
    ratios = []
    if "pcsc-mnap01-a" in med and "pcsc-vicc" in med:
        ratios.append(f"mnap-vcard at level 01 ÷ vicc as packaged: "
                      f"**{med['pcsc-mnap01-a'] / med['pcsc-vicc']:.1f}×**")
    if "pcsc-mnap01-b" in med and "pcsc-vicc-quickack" in med:
        ratios.append(f"mnap-vcard at level 01 ÷ vicc with TCP_QUICKACK: "
                      f"**{med['pcsc-mnap01-b'] / med['pcsc-vicc-quickack']:.2f}×**")
    if "pcsc-mnap01-a" in med and "pcsc-mnap33" in med:
        ratios.append(f"level 33 ÷ level 01 through PC/SC: "
                      f"**{med['pcsc-mnap33'] / med['pcsc-mnap01-a']:.2f}** "
                      f"(in process: {med['inproc-read33'] / med['inproc-read01']:.2f})"
                      if "inproc-read33" in med and "inproc-read01" in med else
                      f"level 33 ÷ level 01 through PC/SC: "
                      f"**{med['pcsc-mnap33'] / med['pcsc-mnap01-a']:.2f}**")
    if "pcsc-echo" in med and "pcsc-mnap01-c" in med:
        e = 1e6 / med["pcsc-echo"]
        m = 1e6 / med["pcsc-mnap01-c"]
        ratios.append(f"time per APDU: echo card {e:.0f} µs, mnap-vcard level 01 {m:.0f} µs; "
                      f"pcscd + vpcd + client account for **{100 * e / m:.0f} %** of an mnap APDU")
    if ratios:
        out.append("Ratios (medians; each pairs runs of one phase: level 01 interleaved with "
                   "level 33 and vicc as packaged, with vicc with TCP_QUICKACK, and with the "
                   "echo card; the level 01 row above pools all three phases):\n")
        out.extend(f"- {r}" for r in ratios)
        out.append("")
    out.append("The PC/SC rows run in one private pcscd (bench/run_pcsc.sh, reusing "
               "test/e2e/lib.sh) with one vpcd reader: mnap-vcard on slot 0 (file image, "
               "area set up, the benchmark AP with `min_level` 01 loaded), vicc on slot 1, then "
               "the echo card on slot 1. The client is one program, bench/bench_pcsc.c, on "
               "pcsc-lite through libmnap's PC/SC transport, for every card: one SELECT by AID "
               "(for mnap: SELECT, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE at the level), then "
               "SELECT EF 0102 (P2 0C) and READ BINARY of 128 bytes, repeated for a fixed time; "
               "only the repeated pair is timed. For mnap every command is wrapped and every "
               "response checked by libmnap (host SCP03 cost included). Configurations are "
               "interleaved round by round so that a busy machine slows them alike.\n")
    out.append("vicc set-up: vicc 0.8's ISO 7816 card starts with an empty MF; bench_pcsc "
               "`vicc-setup` sends CREATE FILE (`00 E0 00 00`, FCP `62 {82 38, 83 DF01, 84 AID}`) "
               "for a DF named like the benchmark AP, CREATE FILE (`62 {82 01, 83 0102, 80 0080}`) "
               "for a transparent EF of 128 bytes inside it, and UPDATE BINARY with the same 128 "
               "bytes as the mnap EF (sent with Le, since vicc 0.8 fails on an UPDATE BINARY "
               "without Le; it answers 6282 and writes the file). Debian bookworm's "
               "python3-virtualsmartcard installs its modules outside Python's path and imports "
               "pycryptodome as `Crypto` while Debian's python3-pycryptodome provides "
               "`Cryptodome`: the run adds the module directory to PYTHONPATH and a two-line "
               "alias package (python3-pycryptodome must be installed). vicc as packaged does "
               "not set TCP_QUICKACK: vpcd sends a frame's length and body in two writes with "
               "Nagle's algorithm on, so each APDU waits for vicc's delayed ACK (about 40 ms). "
               "mnap-vcard and the echo card set TCP_QUICKACK; the second vicc row shows vicc "
               "with the same fix, i.e. the cost of its Python card emulation alone.\n")


# --- scaling -----------------------------------------------------------------------
def section_scale(out):
    out.append("## 6. Scaling\n")
    lines = read("scale.txt") or []
    kiosk = {}
    load = {}
    for l in lines:
        p = l.split()
        if len(p) >= 5 and p[0] == "scale" and p[1] == "kiosk":
            kiosk.setdefault(int(p[2]), []).append(float(p[4]))
        if len(p) >= 7 and p[0] == "scale" and p[1] == "load":
            load.setdefault(int(p[2]), []).append(float(p[4]))

    def card_cost(pred):
        g = select(pred)
        return (stat(per_iter(g, lambda l: cg_sum(l, CG_TOTAL))),
                stat(per_iter(g, lambda l: cg_sum(l, CG_NOAES))),
                stat(per_iter(g, lambda l: sum(a.nvm_w for a in l))),
                stat(per_iter(g, lambda l: sum(a.nvm_b for a in l))))

    out.append("| APs loaded | kiosk flow time, in process | card instructions per flow | "
               "without the port's AES | how measured |")
    out.append("|---:|---:|---:|---:|---|")
    for n in (1, 4, 8, 16):
        if n == 1:
            pred = lambda a: a.label.startswith("kiosk.")
        else:
            pred = lambda a, n=n: a.label == f"scale{n}"
        tot, noa, _, _ = card_cost(pred)
        out.append(f"| {n} | {fmt_stat(stat(kiosk.get(n, [])), f1, ' µs')} | {fmt_stat(tot)} | "
                   f"{fmt_stat(noa)} | time: mean of 100 flows per run (libmnap + card, memory "
                   "NVM), median over runs; instructions: callgrind as in §1; the flow runs on "
                   "the AP loaded last |")
    out.append("")
    out.append("| image size | LOAD AP time, in process | per KiB | card instructions | "
               "without the port's AES | NVM writes | NVM bytes | how measured |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|---|")
    for k in (1, 2, 4, 8, 16, 32):
        size = k * 1024
        t = stat(load.get(size, []))
        tot, noa, w, b = card_cost(lambda a, k=k: a.label == f"load{k}k")
        per = f"{t[0] / k:,.1f} µs" if t else "—"
        out.append(f"| {k} KiB | {fmt_stat(t, f1, ' µs')} | {per} | {fmt_stat(tot)} | "
                   f"{fmt_stat(noa)} | {fmt_stat(w)} | {fmt_stat(b)} | time: "
                   "mnap_area_load_ap in an open AM session (level 33, blocks of ≤ 2048 bytes), "
                   "median over runs; instructions and NVM: all LOAD AP blocks, as in §1 and §2 |")
    out.append("")


def main():
    m = machine()
    out = []
    out.append("# mnap performance\n")
    out.append("Written by `make bench` (bench/run.sh → bench/report.py); every figure below "
               "comes from the run described here. Do not edit by hand: run `make bench` again.\n")
    out.append("| run | |")
    out.append("|---|---|")
    for k in ("date (UTC)", "commit", "machine", "cpu", "cores", "memory", "os", "compiler",
              "valgrind", "pcsc-lite", "load average at start", "load average at end",
              "run time", "mode"):
        if k in m:
            out.append(f"| {k} | {m[k]} |")
    out.append("")
    out.append("Instruction counts (§1), NVM counts (§2), wire bytes (§3) and the footprint (§4) "
               "are exact and repeatable. Times and rates (§5, §6) are wall-clock on the machine "
               "above; " + (m.get("noise", "") or "compare them within one run, not across machines.")
               + "\n")
    out.append("## Workloads\n")
    out.append("- **Benchmark AP** (bench/bench.h): AID `D3 92 F0 00 42 01`, AES-128 key set, "
               "PIN `1234` (3 tries, 4–8 digits), `min_level` 01; EF 0101 transparent 256 bytes, "
               "EF 0102 transparent 128 bytes, EF 0301 cyclic 16 × 8, all with the SM rule. "
               "Loaded by libmnap (`mnap_area_load_ap`, which adds tag A1, 72 bytes). Sized "
               "images (1–32 KiB, counted on the card with tag A1) add EF 0104 with initial "
               "content.")
    out.append("- **Kiosk flow** (`bench_kiosk` in bench/bench.h), 9 APDUs: `mnap_ap_open` at "
               "level 33 (SELECT by AID, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE), VERIFY, "
               "`mnap_ap_read_binary` of 256 bytes (SELECT EF + READ BINARY), "
               "`mnap_ap_append_record` of 16 bytes (SELECT EF + APPEND RECORD), `mnap_close` "
               "(SELECT of the AM, which ends the channel).")
    out.append("- **In process**: libmnap on a transport of bench/bench_card.c that calls "
               "`mc_process` of a card on the simulator port with memory NVM (64 KiB), so each "
               "APDU can be measured on its own.\n")
    section_cpu(out)
    # §1a: the Cortex-M0 counts of `make bench-arm` (test/arm/icount.py), kept
    # in bench/arm_m0.md because they come from QEMU, not from this run.
    arm = os.path.join(os.path.dirname(os.path.abspath(__file__)), "arm_m0.md")
    if os.path.exists(arm):
        out.append(open(arm).read().rstrip() + "\n")
    section_nvm(out)
    section_wire(out)
    section_size(out)
    section_rate(out)
    section_scale(out)
    out.append("## Reproducing\n")
    out.append("`make bench` (about 2–3 minutes on 2 cores; as root for the PC/SC part, with no "
               "other pcscd running: it waits up to 2 minutes for one to stop) builds bench/ and "
               "runs bench/run.sh, which keeps the raw output of every step in "
               "`$(BUILD)/bench/raw/`. `make bench BENCH_QUICK=1` runs everything once with tiny "
               "counts into `$(BUILD)/bench/PERFORMANCE.md` (the CI smoke run, bench/smoke.sh). "
               "Needs valgrind (§1), arm-none-eabi-gcc (§4), pcscd + vsmartcard-vpcd (§5), and "
               "vsmartcard-vpicc + python3-pycryptodome for the vicc rows.\n")
    sys.stdout.write("\n".join(out).rstrip() + "\n")


main()
