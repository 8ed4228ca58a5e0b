#!/bin/sh
# scripts/install-config.sh SRC DEST: meson's install script for the configuration file. Puts SRC
# at $DESTDIR/DEST only when nothing is there, so an edited warren.conf survives reinstalls (and
# `meson install` never asks, as dpkg does for a conffile).
set -eu
src=$1
dest=${DESTDIR:-}$2
if [ -n "${MESON_INSTALL_DRY_RUN:-}" ]; then
	echo "Would install $src to $dest unless it exists"
elif [ -e "$dest" ]; then
	echo "Keeping existing $dest"
else
	install -D -m 0644 "$src" "$dest"
	echo "Installing $src to $dest"
fi
