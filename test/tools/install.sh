#!/bin/sh
# test/tools/install.sh: make install and make uninstall into a staging
# directory (issue #21, item 9):
#   - install does not build the tests (make -n on an empty build directory
#     names no test program);
#   - the library, headers, tools, pkg-config files, the Python package, the
#     man pages mnap(1), mnap-vcard(1), libmnap(3) and the bash completion
#     are installed; the man pages render without warnings;
#   - pkg-config works with PKG_CONFIG_SYSROOT_DIR (a cross sysroot): the
#     paths it gives lie in the sysroot, and a program compiles and links
#     with them;
#   - the bash completion completes commands and subcommands, and knows
#     every command of `mnap --help`;
#   - uninstall leaves no file behind.
set -u
B=${BUILD:-build}
ROOT=$(pwd)
T=$(mktemp -d /tmp/mnap-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
D=$T/stage
FAILS=0
fail() { echo "  FAIL: $*"; FAILS=$((FAILS + 1)); }
mk() { make --no-print-directory -C "$ROOT" BUILD="$B" CC="${CC:-cc}" "$@"; }

echo "install.sh: make install / uninstall, man pages, completion, pkg-config sysroot"
n=$(make --no-print-directory -C "$ROOT" -n BUILD="$T/empty" install 2>/dev/null | grep -c "$T/empty/test/")
[ "$n" = 0 ] || fail "make install would build $n test program(s)"

mk install DESTDIR="$D" PREFIX=/usr/local >"$T/install.log" 2>&1 || { cat "$T/install.log"; exit 1; }
P=$D/usr/local
for f in lib/libmnap.a lib/libmnap.so.1 lib/libmnap.so include/mnap/mnap.h lib/pkgconfig/mnap.pc \
         bin/mnap bin/mnap-vcard share/man/man1/mnap.1 share/man/man1/mnap-vcard.1 \
         share/man/man3/libmnap.3 share/bash-completion/completions/mnap \
         share/locale/ja/LC_MESSAGES/mnap.mo; do
    [ -e "$P/$f" ] || fail "not installed: $f"
done
ls "$P"/lib/python3*/dist-packages/mnap/__init__.py >/dev/null 2>&1 || fail "Python package not installed"
for m in man1/mnap.1 man1/mnap-vcard.1 man3/libmnap.3; do
    w=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$P/share/man/$m" 2>&1)
    [ -z "$w" ] || fail "$m: groff warns: $w"
done

# pkg-config against the staging directory as a sysroot.
out=$(PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs mnap 2>&1) ||
    fail "pkg-config: $out"
case " $out " in *" -I$P/include "*) ;; *) fail "pkg-config --cflags outside the sysroot: $out" ;; esac
case " $out " in *" -L$P/lib -lmnap "*) ;; *) fail "pkg-config --libs outside the sysroot: $out" ;; esac
# shellcheck disable=SC2086
${CC:-cc} -std=c11 -Wall -Werror "$ROOT/tools/examples/host_example.c" $out -o "$T/example" 2>"$T/cc.log" ||
    fail "the C example does not build with pkg-config's flags: $(cat "$T/cc.log")"

# The completion, in bash.
comp() {
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; _mnap; echo "${COMPREPLY[*]}"' \
        comp "$P/share/bash-completion/completions/mnap" "$@"
}
[ "$(comp mnap ke)" = "keys" ] || fail "completion of 'mnap ke': '$(comp mnap ke)'"
[ "$(comp mnap keys pa)" = "passwd" ] || fail "completion of 'mnap keys pa': '$(comp mnap keys pa)'"
[ "$(comp mnap --json area r)" = "rotate-keys" ] || fail "completion of 'mnap --json area r': '$(comp mnap --json area r)'"
[ "$(comp mnap ef read D392F000014C4942 0101 --rec)" = "--record" ] || fail "completion of ef --rec"
all=$(comp mnap "")
for c in $(LC_ALL=C "$P/bin/mnap" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
    case " $all " in *" $c "*) ;; *) fail "the completion lacks the command '$c'" ;; esac
    grep -q "^\.B.* $c\|^\.B $c\|\\\\fB$c" "$P/share/man/man1/mnap.1" || fail "mnap(1) lacks the command '$c'"
done

mk uninstall DESTDIR="$D" PREFIX=/usr/local >"$T/uninstall.log" 2>&1 || { cat "$T/uninstall.log"; fail "make uninstall failed"; }
left=$(find "$D" -type f -o -type l)
[ -z "$left" ] || fail "left after make uninstall: $left"

[ $FAILS = 0 ] || { echo "install.sh: $FAILS check(s) failed"; exit 1; }
echo "install.sh: all checks passed"
