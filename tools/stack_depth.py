#!/usr/bin/env python3
"""stack_depth.py: worst-case stack depth of the card runtime from GCC's
-fcallgraph-info=su output (.ci files, VCG format).

Usage: stack_depth.py [--indirect NAME] [--table SRC:ARRAY ...] [--root NAME ...] FILE.ci ...

Each function node carries its own frame size ("N bytes (static)"); edges are
direct calls.  The tool walks every call path from each root (default: the
mc_* entry points of card/mc.h) and prints the deepest path with its frames.
Indirect calls (GCC's "__indirect_call" placeholder) cannot be followed from
the object code: they are listed with their call sites and, when --indirect
NAME is given, resolved to that one function (the card runtime hands common/
one function pointer, the port's AES block function, see mc_aes() in
card/mc_layout.c).  A table of function pointers is followed with --table
SRC:ARRAY: every indirect call site in the source file SRC (GCC labels each
site file:line:col) may reach every function named in the initializer of
ARRAY in SRC (the card's command table, mc_commands in card/mc_apdu.c, whose
dispatch call may reach every handler), and the depth is the worst of them.
The initializer is read from the source, so a row added to the table is
counted without editing this tool; a name in it that is not a function of
the call graph is ignored (flags, constants), and a table naming no function
is an error.  Functions without a frame size (the port, libc's memcpy /
memset / memcmp) are counted as 0 and listed, since their stack belongs to the
port or the C library.  Recursion would make the depth unbounded: any cycle
is reported as an error (the runtime has none by rule)."""
import re
import sys

NODE = re.compile(r'node:\s*\{\s*title:\s*"([^"]+)"\s*label:\s*"([^"]*)"')
EDGE = re.compile(r'edge:\s*\{\s*sourcename:\s*"([^"]+)"\s*targetname:\s*"([^"]+)"'
                  r'(?:\s*label:\s*"([^"]*)")?')
FRAME = re.compile(r'(\d+) bytes \((static|dynamic|dynamic,bounded)\)')
ROOTS = ["mc_process", "mc_power_on", "mc_fabricate", "mc_reset", "mc_power_off", "mc_atr"]


def short(title):
    """Static functions are titled file:name, external ones name."""
    return title


def table_functions(src, arr, known):
    """The function names in the initializer of array arr in C file src."""
    with open(src) as fh:
        text = fh.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    m = re.search(r"\b%s\s*\[[^\]]*\]\s*=\s*\{" % re.escape(arr), text)
    if not m:
        raise SystemExit("stack_depth: no initializer of %s in %s" % (arr, src))
    depth, i = 1, m.end()
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    names = []
    for n in re.findall(r"[A-Za-z_]\w*", text[m.end():i]):
        if n in known and n not in names:
            names.append(n)
    if not names:
        raise SystemExit("stack_depth: %s in %s names no function" % (arr, src))
    return names


def main(argv):
    indirect = None
    tables = []      # (source file, array name)
    roots = []
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "--indirect":
            indirect = argv[i + 1]
            i += 2
        elif argv[i] == "--table":
            src, _, arr = argv[i + 1].rpartition(":")
            tables.append((src, arr))
            i += 2
        elif argv[i] == "--root":
            roots.append(argv[i + 1])
            i += 2
        else:
            files.append(argv[i])
            i += 1
    roots = roots or ROOTS

    frame = {}       # title -> bytes
    kind = {}        # title -> static/dynamic
    calls = {}       # title -> set of callee titles
    sites = []       # (caller, site, targets) of indirect calls
    pending = []     # (caller, site) waiting for the table's functions
    for f in files:
        with open(f) as fh:
            text = fh.read()
        for m in NODE.finditer(text):
            title, label = m.group(1), m.group(2)
            fm = FRAME.search(label)
            if fm:
                frame[title] = int(fm.group(1))
                kind[title] = fm.group(2)
        for m in EDGE.finditer(text):
            src, dst, site = m.group(1), m.group(2), m.group(3) or "?"
            if dst == "__indirect_call":
                pending.append((src, site))
                continue
            calls.setdefault(src, set()).add(dst)

    # External callees are named plainly; a static function is file:name.
    # Map plain names to the defining node when it has a frame.
    by_name = {}
    for t in frame:
        by_name.setdefault(t.split(":")[-1], t)

    def resolve(t):
        if t in frame:
            return t
        return by_name.get(t, t)

    known = set(by_name) | set(frame) | {d for ds in calls.values() for d in ds}
    table_fns = {}   # source file -> function names in its table
    for src, arr in tables:
        table_fns[src] = table_functions(src, arr, known)
    for src_fn, site in pending:
        file = site.split(":")[0]
        if file in table_fns:
            targets = table_fns[file]
        elif indirect is not None:
            targets = [indirect]
        else:
            targets = []
        sites.append((src_fn, site, targets))
        for t in targets:
            calls.setdefault(src_fn, set()).add(t)

    memo = {}
    unknown = set()
    state = {}

    # Iterative DFS (post-order) computing the deepest path from each node.
    def depth(root):
        stack = [(resolve(root), 0)]
        while stack:
            node, phase = stack.pop()
            if phase == 0:
                if node in memo:
                    continue
                if state.get(node) == "active":
                    raise SystemExit("stack_depth: recursion through %s" % node)
                state[node] = "active"
                stack.append((node, 1))
                for c in calls.get(node, ()):
                    c = resolve(c)
                    if c not in memo:
                        if state.get(c) == "active":
                            raise SystemExit("stack_depth: recursion %s -> %s" % (node, c))
                        stack.append((c, 0))
            else:
                own = frame.get(node)
                if own is None:
                    unknown.add(node)
                    own = 0
                best, via = 0, None
                for c in calls.get(node, ()):
                    c = resolve(c)
                    if memo[c][0] > best:
                        best, via = memo[c][0], c
                memo[node] = (own + best, via)
                state[node] = "done"
        return memo[resolve(root)]

    worst = (0, None)
    print("entry point                       worst stack (bytes)")
    for r in roots:
        if resolve(r) not in frame:
            print("  %-32s (not found)" % r)
            continue
        d = depth(r)[0]
        print("  %-32s %6d" % (r, d))
        if d > worst[0]:
            worst = (d, r)
    if worst[1]:
        print("deepest path (from %s, %d bytes):" % (worst[1], worst[0]))
        n = resolve(worst[1])
        while n is not None:
            print("  %6s  %s%s" % (frame.get(n, "?"), n,
                                   "" if kind.get(n, "static") == "static" else "  [" + kind[n] + "]"))
            n = memo[n][1]
    print("indirect calls (%d site(s)):" % len(sites))
    for src, site, targets in sites:
        print("  %s at %s -> %s" % (src, site, " ".join(targets) or "NOT FOLLOWED"))
    print("functions without a frame size, counted as 0 (port / libc):")
    print("  " + " ".join(sorted(unknown)) if unknown else "  none")
    dyn = [t for t, k in kind.items() if k != "static"]
    if dyn:
        print("functions with dynamic frames: " + " ".join(sorted(dyn)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
