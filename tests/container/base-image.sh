#!/bin/sh
# Makes the debian:bookworm-slim base image locally when no registry is
# reachable: debootstrap --variant=minbase from the apt mirror this machine
# uses, trimmed like the official slim image, then `podman import`.  The
# rootfs tarball is cached in $PIDCAR_CACHE (default /var/cache/pidcar) and
# the image stays in podman's store, so later runs take seconds.
set -eu
IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
CACHE=${PIDCAR_CACHE:-/var/cache/pidcar}
TAR=$CACHE/bookworm-minbase.tar
PODMAN=${PODMAN:-podman}

# The official image's PATH: `podman play kube` (unlike docker run) sets none.
ENVPATH=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if $PODMAN image exists "$IMAGE" &&
	$PODMAN image inspect --format '{{.Config.Env}}' "$IMAGE" | grep -q "$ENVPATH"; then
	echo "base-image: $IMAGE already in podman's store"
	exit 0
fi
# The mirror apt itself uses (deb822 or one-line sources), else Debian's.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources \
	2>/dev/null | grep -v security | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' \
	/etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
if [ ! -s "$TAR" ]; then
	mkdir -p "$CACHE"
	root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	echo "base-image: debootstrap --variant=minbase bookworm from $mirror"
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
	# What the official slim image leaves out (its /etc/dpkg/dpkg.cfg.d/docker).
	cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
	find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
	rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/cache/apt/*.bin \
		"$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb \
		"$root"/var/log/*.log "$root"/var/cache/debconf/*-old
	find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias \
		-exec rm -rf {} +
	# The image's apt uses the same mirror as this machine.
	printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" \
		>"$root/etc/apt/sources.list"
	tar -C "$root" --numeric-owner -cf "$TAR.tmp" .
	mv "$TAR.tmp" "$TAR"
fi
echo "base-image: podman import $TAR as $IMAGE"
$PODMAN import -q --change "ENV $ENVPATH" --change 'CMD ["bash"]' "$TAR" "$IMAGE" >/dev/null
$PODMAN image exists "$IMAGE"
