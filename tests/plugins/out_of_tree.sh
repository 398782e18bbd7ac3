#!/bin/sh
# out_of_tree.sh BUILD_DIR SOURCE_DIR - a plugin built outside the tree: installs
# the build into a temporary prefix, compiles examples/plugins/firstfit.c there
# against the installed headers alone (cc, no libvram, no CMake), and replays
# traces/llama70b.trace through it beside built-in tlsf with the installed
# vramlab-replay. The replay's table goes to stdout.
set -eu
build=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vram-plugin-oot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cp "$src/examples/plugins/firstfit.c" "$tmp/mine.c"
${CC:-cc} -std=c11 -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror \
    -I"$tmp/prefix/include" "$tmp/mine.c" -o "$tmp/libmine.so"
cd "$tmp"
"$tmp/prefix/bin/vramlab-replay" --no-db --quiet --no-belady --policy tlsf,plugin:./libmine.so \
    "$src/traces/llama70b.trace"
