#!/usr/bin/python3
"""icount.py ELF SCRIPT: instructions per command of the card runtime on the
Cortex-M0 (qemu-system-arm -M microbit), exact and repeatable.

QEMU runs mb_replay.elf on SCRIPT (test/arm/record.c ... measure) with
-icount shift=0 (deterministic: one instruction per virtual nanosecond, no
host timing leaks in) and -singlestep -d exec,nochain, which logs one line
per executed guest instruction with its PC.  Counting starts at the entry of
mc_process and stops at the return address of mb_replay's single call of it,
so a figure is every instruction executed inside mc_process: the runtime,
common/, the QEMU port's NVM (semihosting calls to the host file, each
counted as its instructions on the target) and BearSSL's aes_ct.  The whole
measurement runs twice and must give identical counts (it asserts exactly
that, and nothing about time).  Prints a Markdown table on stdout.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

INS = {0xA4: "SELECT", 0x50: "INITIALIZE UPDATE", 0x82: "EXTERNAL AUTHENTICATE",
       0x20: "VERIFY", 0xB0: "READ BINARY", 0xE2: "APPEND RECORD", 0xE8: "LOAD AP",
       0xE4: "DELETE", 0xCA: "GET DATA", 0xC0: "GET RESPONSE", 0xD8: "PUT KEY",
       0xE6: "INSTALL", 0xF0: "SET STATUS", 0xF2: "GET STATUS", 0x24: "CHANGE REFERENCE DATA"}


def script_calls(path):
    """The APDUs mb_replay hands to mc_process, in order: (label, cmd)."""
    b = open(path, "rb").read()
    i, mute, calls = 0, False, []
    while True:
        t = b[i]; i += 1
        if t == ord("E"):
            return calls
        if t == ord("F"):
            kl = b[i + 14]; i += 15 + kl; mute = False
        elif t == ord("A"):
            ll = b[i]; label = b[i + 1:i + 1 + ll].decode(); i += 1 + ll
            cl = int.from_bytes(b[i:i + 2], "big"); cmd = b[i + 2:i + 2 + cl]; i += 2 + cl
            rl = int.from_bytes(b[i:i + 2], "big"); i += 2 + rl
            if not mute:
                calls.append((label, cmd))
            if rl == 0:
                mute = True
        elif t == ord("R"):
            pass
        elif t == ord("P"):
            i += 1; mute = False
        elif t == ord("C"):
            i += 8
        else:
            sys.exit("icount: bad script record %r at %d" % (t, i - 1))


def addresses(elf):
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", elf], capture_output=True, text=True,
                         check=True).stdout
    entry = ret = None
    for line in dis.splitlines():
        m = re.match(r"^([0-9a-f]+) <mc_process>:", line)
        if m:
            entry = int(m.group(1), 16)
    lines = dis.splitlines()
    for k, line in enumerate(lines):
        if re.search(r"\bbl\s+[0-9a-f]+ <mc_process>", line):
            if ret is not None:
                sys.exit("icount: more than one call of mc_process in " + elf)
            ret = int(lines[k + 1].split(":")[0], 16)
    if entry is None or ret is None:
        sys.exit("icount: mc_process or its call site not found in " + elf)
    return entry, ret


def measure(elf, script, entry, ret):
    work = tempfile.mkdtemp(prefix="mnap-icount-")
    try:
        shutil.copy(script, os.path.join(work, "mb-script.bin"))
        cmd = [os.environ.get("QEMU", "qemu-system-arm"), "-M", "microbit", "-nographic",
               "-monitor", "none", "-serial", "none",
               "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
               "-singlestep", "-d", "exec,nochain", "-D", "/dev/stderr", "-kernel",
               os.path.abspath(elf)]
        p = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             bufsize=1 << 20)
        counts, n, counting, other = [], 0, False, []
        e, r = "/%08x/" % entry, "/%08x/" % ret
        for raw in p.stderr:
            if not raw.startswith(b"Trace"):
                other.append(raw.decode(errors="replace"))
                continue
            if counting:
                if r.encode() in raw:
                    counts.append(n)
                    counting = False
                else:
                    n += 1
            elif e.encode() in raw:
                counting, n = True, 1
        out = p.stdout.read().decode(errors="replace") + "".join(other)
        if p.wait() != 0 or "every response as on the host" not in out:
            sys.exit("icount: the replay failed:\n" + out)
        return counts
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: icount.py ELF SCRIPT")
    elf, script = sys.argv[1:]
    calls = script_calls(script)
    entry, ret = addresses(elf)
    a = measure(elf, script, entry, ret)
    b = measure(elf, script, entry, ret)
    if a != b:
        sys.exit("icount: two runs differ: the counts are not repeatable")
    if len(a) != len(calls):
        sys.exit("icount: %d calls of mc_process counted, the script has %d" % (len(a), len(calls)))
    rows = list(zip(calls, a))
    kiosk = [x for x in rows if x[0][0].startswith("kiosk.")]
    half = len(kiosk) // 2
    flow = kiosk[half:]          # the second flow: the state bench_card measures
    load = [n for (lab, c), n in rows if c[1] == 0xE8]
    cc = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True,
                        text=True).stdout.splitlines()[0]
    qv = subprocess.run([os.environ.get("QEMU", "qemu-system-arm"), "--version"],
                        capture_output=True, text=True).stdout.splitlines()[0]
    print("## 1a. Card CPU cost on a Cortex-M0 (QEMU, instructions per command)\n")
    print("Written by `make bench-arm` (test/arm/icount.py); bench/report.py copies it here "
          "from bench/arm_m0.md. The card runtime built for `-mcpu=cortex-m0 -mthumb -Os` "
          "(%s) on the QEMU port (card/port/qemu/: NVM in a host file through semihosting, "
          "AES from BearSSL's constant-time `aes_ct`), run by `%s` as `-M microbit` with "
          "`-icount shift=0`; every executed instruction is logged (`-singlestep -d "
          "exec,nochain`) and counted from the entry of `mc_process` to its return, so a "
          "figure is every instruction inside `mc_process`: runtime, common/, the port's NVM "
          "calls and its AES. The APDUs are the kiosk flow of §1 recorded on the host "
          "(test/arm/record.c) and replayed byte for byte (test/arm/mb_replay.c); the flow "
          "counted is the second after setup. The counts are exact and repeatable (the "
          "run is made twice and must agree); they say nothing about time. Compare them with "
          "§1's x86 callgrind totals (the same flow on a card in the same life stage; a different instruction "
          "set, compiler flags and AES: OpenSSL's there, BearSSL's bitsliced `aes_ct` "
          "here).\n" % (cc, qv))
    print("| command (kiosk flow of bench/bench.h) | Cortex-M0 instructions inside mc_process |")
    print("|---|---|")
    for (lab, c), n in flow:
        name = INS.get(c[1], "INS %02X" % c[1])
        if c[1] == 0xA4:
            name += " by AID" if c[2] == 0x04 and lab != "kiosk.close" else (
                " of the AM (close)" if lab == "kiosk.close" else " EF")
        print("| %s (%s) | %s |" % (name, lab, format(n, ",")))
    print("| Kiosk flow, whole (%d APDUs) | %s |" % (len(flow), format(sum(n for _, n in flow), ",")))
    print("| LOAD AP of the benchmark AP's image (all %d APDUs) | %s |" % (len(load), format(sum(load), ",")))
    print("| every call of the run (%d APDUs: setup and two flows) | %s |" % (len(a), format(sum(a), ",")))


if __name__ == "__main__":
    main()
