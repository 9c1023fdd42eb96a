#!/bin/sh
# test/host/symbols.sh: libmnap.so exports its public API and nothing else
# (issue #21, item 9): every dynamic symbol it defines is mnap_ followed by a
# letter (no mnap__ internals, no cm_ code of common/), and every function
# and object the public headers declare is exported.
set -u
B=${BUILD:-build}
SO=$B/lib/libmnap.so
[ -r "$SO" ] || { echo "symbols.sh: $SO not built"; exit 1; }
T=$(mktemp -d /tmp/mnap-sym-XXXXXX)
trap 'rm -rf "$T"' EXIT
nm -D --defined-only "$SO" | awk '{ print $3 }' | sed 's/@.*//' | sort -u > "$T/exported"
FAILS=0
bad=$(grep -v '^mnap_[a-z]' "$T/exported" || true)
if [ -n "$bad" ]; then
    echo "symbols.sh: FAIL: $SO exports $(echo "$bad" | wc -l) non-public symbol(s):"
    echo "$bad" | sed 's/^/  /' | head -20
    FAILS=1
fi
# What the installed headers of libmnap declare (mnap_reg.h is libmnapreg's,
# a static library): functions "mnap_x(" and extern objects.
HDRS=$(ls host/include/mnap/*.h | grep -v '/mnap_reg[^/]*\.h$')
cat $HDRS | tr '\n' ' ' | grep -o 'mnap_[a-z][a-z0-9_]*(' | tr -d '(' | sort -u > "$T/funcs"
grep -ho 'extern const [a-z0-9_]* mnap_[a-z0-9_]*' $HDRS | awk '{ print $4 }' >> "$T/funcs"
sort -u "$T/funcs" -o "$T/declared"
missing=$(comm -23 "$T/declared" "$T/exported")
if [ -n "$missing" ]; then
    echo "symbols.sh: FAIL: declared in host/include/mnap/ but not exported:"
    echo "$missing" | sed 's/^/  /'
    FAILS=1
fi
[ $FAILS = 0 ] || exit 1
echo "symbols.sh: $(wc -l < "$T/exported") symbols exported, all public; every declared one among them"
