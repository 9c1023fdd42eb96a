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
added=
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$suite" | $SUDO tee "$src" >/dev/null
  added=1
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi
rc=0
(cd "$dir" && apt-get source -qq bearssl >/dev/null 2>&1) || rc=$?
if [ -n "$added" ]; then
  $SUDO rm -f "$src"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
fi
if [ $rc != 0 ] || ! ls -d "$dir"/bearssl-*/src/symcipher >/dev/null 2>&1; then
  echo "bearssl.sh: apt-get source bearssl failed (rc $rc); it needs network access to" \
       "deb.debian.org (run make deps once outside /work/isolate.sh or any network namespace)" >&2
  exit 1
fi
echo "bearssl.sh: $(ls -d "$dir"/bearssl-*/) from Debian's source package"
