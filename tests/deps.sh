#!/bin/sh
# Installs the Debian packages pidcar needs to build and test, when missing.
set -e
PKGS="gcc make pkg-config libevent-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev
libbsd-dev libcap-dev zlib1g-dev libmnl-dev libcmocka-dev python3 python3-pytest
python3-prometheus-client prometheus procps util-linux curl openssl
systemd mandoc"
# `make fuzz` alone needs clang and its libFuzzer runtime (tests/deps.sh fuzz).
[ "$1" = fuzz ] && PKGS="clang libclang-rt-14-dev"
# (systemd for systemd-analyze, mandoc for the man pages: tests/integration/test_deploy.py.)
# `make test-container`: podman (with runc: crun fails on this kernel; catatonit
# for its pod pause image), debootstrap for the base image, docker-compose 1.29
# for docker/compose.yaml, and a docker CLI: Debian's is in docker.io, whose
# daemon must not start here (policy-rc.d), and is not needed where one is.
if [ "$1" = container ]; then
	PKGS="podman runc catatonit debootstrap docker-compose"
	command -v docker >/dev/null || PKGS="$PKGS docker.io"
fi
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
if [ -e /usr/sbin/policy-rc.d ]; then
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	# No service a package brings (docker.io's dockerd) starts on install.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	rc=0
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
	rm -f /usr/sbin/policy-rc.d
	exit $rc
fi
