#!/usr/bin/env bash
# Lets `--features cuda` / `cuda-nvrtc` build without a download. cubecl's CUDA runtime links
# LLVM through `tracel-llvm-bundler`, whose build script fetches a prebuilt LLVM from GitHub
# unless an install marked as complete is already in its cache folder
# ($XDG_DATA_HOME/tracel/tracel-llvm-<version>/, with a `.tracel-llvm-installed` file). This script
# puts an LLVM you have (Debian's `llvm-22-dev`, for instance) there, through symbolic links, and a
# `bin/llvm-config` that prints library paths as `-l` names (the bundler reads names only).
#
#   scripts/llvm-offline.sh [LLVM_PREFIX [XDG_DIR]]
#     LLVM_PREFIX  a folder with bin/llvm-config, lib/libLLVM*.a and include/ (default: the newest
#                  /usr/lib/llvm-*; Debian: apt-get install llvm-22-dev libpolly-22-dev libzstd-dev)
#     XDG_DIR      where the cache folder goes (default: target/llvm-offline)
#   then:  XDG_DATA_HOME=<XDG_DIR> cargo build --release --features cuda-nvrtc
#
# The bundler's version is read from Cargo.lock. A substitute of another major version than the
# bundle's (LLVM 22 for the 23.1 bundle) links, since lpzero's build calls none of the newer C API,
# but cubecl's LLVM kernel compiler must not run on it: build `cuda-nvrtc`, which compiles the
# kernels with NVRTC (the CUDA toolkit's libnvrtc, needed at run time) and leaves LLVM unused.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${1:-$(ls -d /usr/lib/llvm-* 2>/dev/null | sort -V | tail -n 1 || true)}
XDG=${2:-target/llvm-offline}
if [ -z "$PREFIX" ] || [ ! -x "$PREFIX/bin/llvm-config" ]; then
  echo "error: no llvm-config under '${PREFIX:-/usr/lib/llvm-*}/bin' (Debian: apt-get install llvm-22-dev libpolly-22-dev libzstd-dev)" >&2
  exit 2
fi
for target in $("$PREFIX/bin/llvm-config" --targets-built); do [ "$target" = NVPTX ] && found=1; done
if [ -z "${found:-}" ]; then
  echo "error: the LLVM at $PREFIX was built without the NVPTX target" >&2
  exit 2
fi
LIBDIR=$("$PREFIX/bin/llvm-config" --libdir)
for lib in $("$PREFIX/bin/llvm-config" --link-static --libs); do
  if [ ! -e "$LIBDIR/lib${lib#-l}.a" ]; then
    echo "error: $LIBDIR/lib${lib#-l}.a is missing, which llvm-config lists (Debian: Polly is in libpolly-<major>-dev)" >&2
    exit 2
  fi
done
# the system libraries LLVM names must be there for the final link (Debian's libzstd-dev, ...)
for lib in $("$PREFIX/bin/llvm-config" --link-static --system-libs); do
  case "$lib" in
    /*) [ -e "$lib" ] || { echo "error: $lib is missing, which llvm-config --system-libs lists" >&2; exit 2; } ;;
    -l*) case "$(cc -print-file-name="lib${lib#-l}.so")$(cc -print-file-name="lib${lib#-l}.a")" in
           */*) ;;
           *) echo "error: the linker finds no lib${lib#-l}.so or .a, which llvm-config --system-libs lists (Debian: lib${lib#-l}-dev)" >&2; exit 2 ;;
         esac ;;
  esac
done
VERSION=$(awk '/^name = "tracel-llvm-bundler"/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$VERSION" ]; then
  echo "error: Cargo.lock names no tracel-llvm-bundler (was the cuda feature removed?)" >&2
  exit 2
fi
mkdir -p "$XDG"
XDG=$(cd "$XDG" && pwd)
DIR="$XDG/tracel/tracel-llvm-$VERSION"
rm -rf "$DIR.tmp"
mkdir -p "$DIR.tmp/bin"
ln -s "$PREFIX/lib" "$DIR.tmp/lib"
ln -s "$PREFIX/include" "$DIR.tmp/include"
cat > "$DIR.tmp/bin/llvm-config" <<EOF
#!/bin/sh
# $PREFIX/bin/llvm-config, with library paths (/x/libz3.so) written as names (-lz3)
"$PREFIX/bin/llvm-config" "\$@" | sed -E 's#(^| )/[^ ]*/lib([^ /]+)\\.(so|a)#\\1-l\\2#g'
EOF
chmod +x "$DIR.tmp/bin/llvm-config"
touch "$DIR.tmp/.tracel-llvm-installed"
rm -rf "$DIR"
mv "$DIR.tmp" "$DIR"
echo "LLVM $("$PREFIX/bin/llvm-config" --version) from $PREFIX stands in for tracel-llvm $VERSION at $DIR"
echo "build with:  XDG_DATA_HOME=$XDG cargo build --release --features cuda-nvrtc"
