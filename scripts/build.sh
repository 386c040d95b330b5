#!/usr/bin/env bash
# build.sh [BUILDDIR] [configure args...]: configures and builds objfs out
# of tree (default ./build).  Used by quickstart.sh and test.sh.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
shift || true
[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi >/dev/null)
mkdir -p "$b"
cd "$b"
[ -f Makefile ] || "$src/configure" -q "$@"
make -j"$(nproc)" >/dev/null
