#!/bin/sh
# Install the hoop binary:  curl -fsSL https://<releases>/install.sh | sh
#
# Detects the OS and CPU, downloads hoop-<target>.tar.gz and SHA256SUMS from
# HOOP_BASE_URL (a release directory), verifies the archive's SHA-256, and
# installs hoop into /usr/local/bin, or $HOOP_INSTALL_DIR.
#
#   HOOP_BASE_URL     where the release files are (default: the latest release)
#   HOOP_INSTALL_DIR  where to put the binary (default /usr/local/bin)
set -eu

BASE_URL="${HOOP_BASE_URL:-https://github.com/hoophq/hoop-deno/releases/latest/download}"
INSTALL_DIR="${HOOP_INSTALL_DIR:-/usr/local/bin}"

fail() {
  echo "install.sh: $*" >&2
  exit 1
}

os=$(uname -s)
arch=$(uname -m)
case "$os" in
  Linux) os_part="unknown-linux-gnu" ;;
  Darwin) os_part="apple-darwin" ;;
  *) fail "cannot install on $os: hoop is built for Linux and macOS" ;;
esac
case "$arch" in
  x86_64 | amd64) arch_part="x86_64" ;;
  aarch64 | arm64) arch_part="aarch64" ;;
  *) fail "cannot install on $arch: hoop is built for x86_64 and aarch64" ;;
esac
target="${arch_part}-${os_part}"
archive="hoop-${target}.tar.gz"

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL "$1" -o "$2"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q "$1" -O "$2"; }
else
  fail "cannot download: install curl or wget"
fi

if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  fail "cannot verify the download: install sha256sum or shasum"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "install.sh: downloading $archive" >&2
fetch "$BASE_URL/$archive" "$tmp/$archive" || fail "cannot download $BASE_URL/$archive"
fetch "$BASE_URL/SHA256SUMS" "$tmp/SHA256SUMS" || fail "cannot download $BASE_URL/SHA256SUMS"

want=$(awk -v f="$archive" '$2 == f { print $1 }' "$tmp/SHA256SUMS")
[ -n "$want" ] || fail "SHA256SUMS has no entry for $archive"
got=$(sha256 "$tmp/$archive")
[ "$got" = "$want" ] || fail "checksum mismatch for $archive: expected $want, got $got"

tar -xzf "$tmp/$archive" -C "$tmp" hoop || fail "cannot unpack $archive"
mkdir -p "$INSTALL_DIR" || fail "cannot create $INSTALL_DIR"
if [ -w "$INSTALL_DIR" ]; then
  install -m 0755 "$tmp/hoop" "$INSTALL_DIR/hoop"
elif command -v sudo >/dev/null 2>&1; then
  sudo install -m 0755 "$tmp/hoop" "$INSTALL_DIR/hoop"
else
  fail "cannot write to $INSTALL_DIR: run as root or set HOOP_INSTALL_DIR"
fi
echo "install.sh: installed $INSTALL_DIR/hoop" >&2
