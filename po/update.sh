#!/bin/sh
# po/update.sh: regenerates po/mnap.pot from the sources (the messages of
# tools/mnap, the operator console tools/mnap-console and libmnap's
# mnap_strerror sentences) and merges it into
# po/ja.po (msgmerge).  Run it after changing a message; then translate the
# new or fuzzy entries of po/ja.po.  test/tools/cli_i18n.sh fails while any
# message of the sources is missing from po/ja.po or untranslated.
set -eu
cd "$(dirname "$0")/.."
LC_ALL=C.UTF-8 xgettext --from-code=UTF-8 -k_ -kN_ -kcli_error -kop_fail:4 -kcli_fail:3 -c \
    --package-name=mnap --package-version=1.0.0 --msgid-bugs-address=mnap \
    -o po/mnap.pot tools/mnap/*.c tools/mnap-console/*.c host/err.c
sed -i 's/charset=CHARSET/charset=UTF-8/' po/mnap.pot
[ ! -f po/ja.po ] || msgmerge -q --no-fuzzy-matching -U --backup=none po/ja.po po/mnap.pot
