#!/usr/bin/env bash
# Builds the Debian package: warren_<version>_<arch>.deb in OUT_DIR (default build-deb/), from a
# clean copy of the source (the files git knows, committed or not; not build directories), with
# `dpkg-buildpackage -us -uc -b`, then runs lintian on it. Installs what is missing first: the
# packaging tools and debian/control's Build-Depends, all from Debian's archive.
#   usage: scripts/build-deb.sh [OUT_DIR]
# Prints the .deb's path and lintian's tags; exits non-zero when the build fails or lintian
# reports an error.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
out=$(mkdir -p "${1:-build-deb}" && cd "${1:-build-deb}" && pwd)
version=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null ||
	sed -n '1s/^warren (\([^)]*\)).*/\1/p' debian/changelog)

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
apt_install() {
	echo "build-deb: installing $*" >&2
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

tools=()
for p in dpkg-dev debhelper build-essential lintian; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || tools+=("$p")
done
[ ${#tools[@]} -eq 0 ] || apt_install "${tools[@]}"

# Build-Depends: dpkg-checkbuilddeps names what is missing ("foo (>= 1) bar | baz"); take the
# first alternative of each, without its version.
if ! unmet=$(dpkg-checkbuilddeps 2>&1); then
	deps=$(sed -n 's/.*Unmet build dependencies: //p' <<<"$unmet" |
		sed -E 's/\([^)]*\)//g; s/<[^>]*>//g' | tr ' ' '\n' |
		awk 'BEGIN { alt = 0 } $0 == "|" { alt = 1; next } NF { if (!alt) print; alt = 0 }')
	[ -n "$deps" ] || { echo "$unmet" >&2; exit 1; }
	# shellcheck disable=SC2086
	apt_install $deps
fi

work=$(mktemp -d /tmp/warren-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree="$work/warren-$version"
mkdir -p "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$tree"
else
	tar --exclude='./build*' --exclude='./.git' -cf - . | tar -xf - -C "$tree"
fi

echo "build-deb: dpkg-buildpackage -us -uc -b in $tree" >&2
(cd "$tree" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log" >&2
	cp "$work/build.log" "$out/build.log"
	echo "build-deb: FAILED (full log: $out/build.log)" >&2
	exit 1
}
cp "$work/build.log" "$out/build.log"
rm -f "$out"/warren_*.deb "$out"/warren-dbgsym_*.deb "$out"/warren_*.changes "$out"/warren_*.buildinfo
for f in "$work"/warren_*.deb "$work"/warren-dbgsym_*deb "$work"/warren_*.changes "$work"/warren_*.buildinfo; do
	[ -e "$f" ] && cp "$f" "$out/"
done
deb=$(ls "$out"/warren_"${version}"_*.deb)
echo "build-deb: $deb"

echo "build-deb: lintian $(basename "$deb")"
lintian --info --display-info "$deb" | tee "$out/lintian.txt" || true
errors=$(grep -c '^E: ' "$out/lintian.txt" || true)
warnings=$(grep -c '^W: ' "$out/lintian.txt" || true)
echo "build-deb: lintian: ${errors} errors, ${warnings} warnings"
[ "$errors" -eq 0 ]
