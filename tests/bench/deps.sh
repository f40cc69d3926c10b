#!/bin/sh
# Installs the Debian packages `make bench` needs (beyond tests/deps.sh), when
# missing: the peers it measures (process-exporter, forkstat), gnuplot for the
# plot, and the tools the harness itself calls.
set -e
PKGS="gcc make python3 util-linux procps curl prometheus-process-exporter forkstat
gnuplot-nox"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "pidcar bench: missing Debian packages:$missing" >&2
	echo "pidcar bench: run 'make bench' as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "pidcar bench: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d or not, the exporter must not run as a service during the bench
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
