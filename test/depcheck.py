#!/usr/bin/python3
"""depcheck.py: ARCHITECTURE.md's dependency rules as a check (`make test-deps`,
part of `make test`).

Every C file under the project's source folders is read for its #include
lines; each quoted include is resolved to the file it names (the including
file's own folder first, then the one header of that name in the tree), and
the folder it lives in must be one the including folder may use.  Angle
includes are system headers: the card runtime and common/ may use only the
freestanding ones.  A violation prints "file:line: folder may not include
header (rule)" and the check fails.

The rules (ARCHITECTURE.md, "Dependency rules"), most specific folder first:

  common/            common/ only; freestanding C headers
  card/              card/ (not its ports), common/; freestanding C headers
  card/port/<name>/  its own folder, card/, common/; any platform header
  host/inproc/       the in-process transport: host/, the public headers,
                     common/, and the card through card/ and card/port/sim/
  host/registry/     the registry library: host/ (not inproc/), common/;
                     never card/
  host/              libmnap: host/ (not inproc/, not registry/), its public
                     headers host/include/, common/; never card/
  tools/mnap-vcard/  the virtual card: its folder, tools/lib/, common/, card/,
                     card/port/sim/
  tools/lib/         libmnaptools: its folder, common/, public headers
  tools/<name>/      its folder, tools/lib/, common/, libmnap's public headers,
                     the in-process transport's mnap_inproc.h and the
                     registry's public header only; never a card header
  bench/             anything but host internals (it measures the card)
  test/e2e/, test/stress/  PC/SC clients: libmnap's public headers only
  test/              anything (white-box tests)

The registry's public header is any host/registry/*.h not ending in _int.h
(or host/include/mnap/*.h).  Usage: depcheck.py [ROOT]; exit 1 on a
violation. """
import os
import re
import sys

FREESTANDING = {"stdint.h", "stddef.h", "stdbool.h", "string.h", "limits.h", "stdarg.h",
                # only in the ctcheck build (CM_CTGRIND): client-request macros,
                # no library (common/cm_ct.h)
                "valgrind/memcheck.h"}
SRC_DIRS = ("common", "card", "host", "tools", "bench", "test")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

PUBLIC = "host/include"


def is_under(path, folder):
    return path == folder or path.startswith(folder + "/")


def registry_public(path):
    return is_under(path, "host/registry") and path.endswith(".h") and not path.endswith("_int.h")


def rule_for(src):
    """(name, allowed(header_path) -> bool, system_ok(name) -> bool) for a source file."""
    d = os.path.dirname(src)
    anysys = lambda n: True
    freesys = lambda n: n in FREESTANDING
    if is_under(d, "common"):
        return "common/ uses common/ only", lambda h: is_under(h, "common"), freesys
    if is_under(d, "card/port"):
        port = "/".join(d.split("/")[:3])
        return ("a card port uses its folder, card/ and common/",
                lambda h: is_under(h, port) or (is_under(h, "card") and not is_under(h, "card/port"))
                or is_under(h, "common"), anysys)
    if is_under(d, "card"):
        return ("card/ uses card/, common/ and freestanding C headers",
                lambda h: (is_under(h, "card") and not is_under(h, "card/port")) or is_under(h, "common"),
                freesys)
    if is_under(d, "host/inproc"):
        return ("the in-process transport uses host/, common/, card/ and card/port/sim/",
                lambda h: is_under(h, "host") and not is_under(h, "host/registry")
                or is_under(h, "common") or (is_under(h, "card") and not is_under(h, "card/port"))
                or is_under(h, "card/port/sim"), anysys)
    if is_under(d, "host/registry"):
        return ("the registry uses host/ (not the in-process transport) and common/; never card/",
                lambda h: is_under(h, "host") and not is_under(h, "host/inproc")
                or is_under(h, "common"), anysys)
    if is_under(d, "host"):
        return ("libmnap uses host/, its public headers and common/; never card/",
                lambda h: is_under(h, "host") and not is_under(h, "host/inproc")
                and not is_under(h, "host/registry") or is_under(h, "common"), anysys)
    if is_under(d, "tools/mnap-vcard"):
        return ("the virtual card uses its folder, tools/lib/, common/, card/ and card/port/sim/",
                lambda h: is_under(h, d) or is_under(h, "tools/lib") or is_under(h, "common")
                or (is_under(h, "card") and not is_under(h, "card/port")) or is_under(h, "card/port/sim"),
                anysys)
    if is_under(d, "tools/lib"):
        return ("libmnaptools uses its folder, common/ and libmnap's public headers",
                lambda h: is_under(h, "tools/lib") or is_under(h, "common") or is_under(h, PUBLIC),
                anysys)
    if is_under(d, "tools"):
        tool = "/".join(d.split("/")[:2])
        return ("a tool uses its folder, tools/lib/, common/ and the public headers of libmnap, "
                "the in-process transport (mnap_inproc.h) and the registry; no card header",
                lambda h: is_under(h, tool) or is_under(h, "tools/lib") or is_under(h, "common")
                or is_under(h, PUBLIC) or h == "host/inproc/mnap_inproc.h" or registry_public(h),
                anysys)
    if is_under(d, "bench"):
        return ("a benchmark uses anything but libmnap's internals",
                lambda h: not (is_under(h, "host") and not is_under(h, PUBLIC)
                               and not is_under(h, "host/inproc")), anysys)
    if is_under(d, "test/e2e") or is_under(d, "test/stress"):
        return ("a PC/SC client test uses its folder and libmnap's public headers",
                lambda h: is_under(h, d) or is_under(h, PUBLIC), anysys)
    return "tests use anything", lambda h: True, anysys


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    os.chdir(root)
    files, headers = [], {}
    for top in SRC_DIRS:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [x for x in dirnames if not x.startswith(".") and x != "corpus"]
            for f in filenames:
                p = os.path.join(dirpath, f)
                if f.endswith(".h"):
                    headers.setdefault(f, []).append(p)
                if f.endswith((".c", ".h")):
                    files.append(p)
    bad = 0
    for src in sorted(files):
        name, allowed, system_ok = rule_for(src)
        with open(src, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                kind, inc = m.groups()
                if kind == "<":
                    if not system_ok(inc):
                        print(f"{src}:{lineno}: {os.path.dirname(src)}/ may not include <{inc}> ({name})")
                        bad += 1
                    continue
                local = os.path.normpath(os.path.join(os.path.dirname(src), inc))
                if os.path.isfile(local):
                    target = local
                else:
                    cands = [h for h in headers.get(os.path.basename(inc), [])
                             if h.endswith("/" + inc) or h == inc]
                    if len(cands) != 1:
                        cands = [p for p in (os.path.normpath(inc),) if os.path.isfile(p)]
                    if len(cands) != 1:
                        print(f"{src}:{lineno}: cannot resolve \"{inc}\" to one file of the tree")
                        bad += 1
                        continue
                    target = cands[0]
                if not allowed(target):
                    print(f"{src}:{lineno}: {os.path.dirname(src)}/ may not include {target} ({name})")
                    bad += 1
    print(f"depcheck: {len(files)} files, {bad} violation(s) of ARCHITECTURE.md's dependency rules")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
