#!/usr/bin/env bash
# Installs sockscope: the executables (release build, Swift runtime linked statically), the man
# pages and the bash, zsh and fish completions, under $DESTDIR$PREFIX in the standard places.
#
#   packaging/install.sh                           # builds, installs under /usr/local
#   PREFIX=/usr DESTDIR=/tmp/stage packaging/install.sh
#   NO_BUILD=1 packaging/install.sh                # install what .build/release holds
#
# PREFIX (default /usr/local), DESTDIR (default empty: the live system). Completion directories:
# BASHCOMPDIR (PREFIX/share/bash-completion/completions), ZSHCOMPDIR (PREFIX/share/zsh/site-functions),
# FISHCOMPDIR (PREFIX/share/fish/vendor_completions.d); the JSON Schema goes to DOCDIR
# (PREFIX/share/doc/sockscope). Prints every installed path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BINDIR=${BINDIR:-$PREFIX/bin}
MANDIR=${MANDIR:-$PREFIX/share/man}
BASHCOMPDIR=${BASHCOMPDIR:-$PREFIX/share/bash-completion/completions}
ZSHCOMPDIR=${ZSHCOMPDIR:-$PREFIX/share/zsh/site-functions}
FISHCOMPDIR=${FISHCOMPDIR:-$PREFIX/share/fish/vendor_completions.d}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/sockscope}

# Every executable product but the benchmark and the fuzz targets (development tools).
products=$(sed -n 's/.*\.executable(name: "\([^"]*\)".*/\1/p' Package.swift | grep -vE -- '-(bench|fuzz)$')
if [ -z "${NO_BUILD:-}" ]; then
  for p in $products; do swift build -c release --static-swift-stdlib --product "$p" >&2; done
fi
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

put() {  # put MODE SOURCE DEST
  install -D -m "$1" "$2" "$DESTDIR$3"
  echo "$3"
}
for p in $products; do put 0755 "$bin/$p" "$BINDIR/$p"; done
for page in man/*.[1-8]; do
  put 0644 "$page" "$MANDIR/man${page##*.}/$(basename "$page")"
done
put 0644 schema/sockscope.schema.json "$DOCDIR/sockscope.schema.json"
# Completion scripts come from the executables' argument definitions, so they always match them.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for p in $products; do
  "$bin/$p" --generate-completion-script bash >"$tmp/$p.bash"
  "$bin/$p" --generate-completion-script zsh >"$tmp/_$p"
  "$bin/$p" --generate-completion-script fish >"$tmp/$p.fish"
  put 0644 "$tmp/$p.bash" "$BASHCOMPDIR/$p"
  put 0644 "$tmp/_$p" "$ZSHCOMPDIR/_$p"
  put 0644 "$tmp/$p.fish" "$FISHCOMPDIR/$p.fish"
done
