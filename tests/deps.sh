#!/bin/sh
# Installs the Debian packages pidcar needs to build and test, when missing.
set -e
PKGS="gcc make pkg-config libevent-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev
libbsd-dev libcap-dev zlib1g-dev libmnl-dev libcmocka-dev python3 python3-pytest
python3-prometheus-client prometheus procps util-linux curl openssl"
# `make fuzz` alone needs clang and its libFuzzer runtime (tests/deps.sh fuzz).
[ "$1" = fuzz ] && PKGS="clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "pidcar: missing Debian packages:$missing" >&2
	echo "pidcar: run 'make deps' as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "pidcar: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
