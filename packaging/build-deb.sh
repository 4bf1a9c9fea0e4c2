#!/usr/bin/env bash
# Builds a Debian package from what install.sh installs (PREFIX=/usr), with dpkg-deb:
#
#   packaging/build-deb.sh [OUTDIR]      # default OUTDIR: .build/deb; prints the .deb's path last
#
# The executables link the Swift runtime statically, so the package depends only on the shared
# libraries they load (libc, libmnl, ncursesw…), found from the binaries themselves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-.build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
PREFIX=/usr DESTDIR="$stage/root" ZSHCOMPDIR=/usr/share/zsh/vendor-completions packaging/install.sh >"$stage/files"
root=$stage/root
gzip -9n "$root"/usr/share/man/man*/*   # Debian ships man pages compressed
strip --strip-unneeded "$root"/usr/bin/*   # symbols only; Swift's reflection metadata stays

version=$("$root/usr/bin/sockscope" --version)
arch=$(dpkg --print-architecture)
# The package of every shared library the executables load.
depends=$(for b in "$root"/usr/bin/*; do
            ldd "$b" | awk '$3 ~ /^\// {print $3}'
          done | sort -u | while read -r lib; do
            dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
          done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g')
size=$(du -sk "$root" | cut -f1)

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: sockscope
Version: $version
Architecture: $arch
Maintainer: sockscope maintainers <sockscope@localhost>
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: Linux connection-table inspector (like ss and netstat)
 Lists TCP and UDP sockets with their owners as a table, JSON or CSV, with a
 live terminal view, an NDJSON event stream, listener health and a connection
 map. Statically linked Swift runtime: no Swift installation needed.
CONTROL
deb="$out/sockscope_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
