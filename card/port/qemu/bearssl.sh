#!/bin/sh
# bearssl.sh DIR: puts Debian's bearssl source package (the AES of the QEMU
# port: aes_ct) into DIR/bearssl-*/, once.  apt-get source needs a deb-src
# entry; Debian's images have none, so for this fetch only one is added
# (/etc/apt/sources.list.d/mnap-bearssl-src.sources, the suite of the host's
# own sources) and removed again afterwards.  Needs root (make deps runs as
# root in CI) and dpkg-dev's dpkg-source.
set -eu
dir=${1:?usage: bearssl.sh DIR}
if ls -d "$dir"/bearssl-*/src/symcipher >/dev/null 2>&1; then exit 0; fi
mkdir -p "$dir"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
src=/etc/apt/sources.list.d/mnap-bearssl-src.sources
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
# The machine's own Debian mirror: the first binary source it is set up with.
uri=$(awk '/^Types:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) } deb && /^URIs:/ { print $2; exit }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
added=
# The deb-src entry never outlives this script, even when it is interrupted.
cleanup() {
  if [ -n "$added" ]; then
    $SUDO rm -f "$src"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
    added=
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  [ -n "$uri" ] || { echo "bearssl.sh: no Debian source is configured in /etc/apt" >&2; exit 1; }
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$suite" | $SUDO tee "$src" >/dev/null
  added=1
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi
rc=0
(cd "$dir" && apt-get source -qq bearssl >/dev/null 2>&1) || rc=$?
cleanup
if [ $rc != 0 ] || ! ls -d "$dir"/bearssl-*/src/symcipher >/dev/null 2>&1; then
  echo "bearssl.sh: apt-get source bearssl failed (rc $rc); it needs network access to" \
       "the Debian mirror of /etc/apt (run make deps outside any network namespace)" >&2
  exit 1
fi
echo "bearssl.sh: $(ls -d "$dir"/bearssl-*/) from Debian's source package"
