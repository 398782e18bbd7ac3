#!/usr/bin/env bash
# plugin.sh [--seconds N] [--expect-crash] plugin:PATH[:NAME] - fuzzes an
# allocator plugin (vram/plugin.h) with fuzz_heap_plugin: builds the target in
# the fuzz preset (clang, libFuzzer, ASan + UBSan), runs it for N seconds
# (default 60) from its seed corpus (a temporary copy: nothing in the checkout
# changes) and, on a crash, writes the input and what it means:
#   build/fuzz/artifacts/fuzz_heap_plugin-crash-HASH       the input
#   build/fuzz/artifacts/fuzz_heap_plugin-crash-HASH.trace the operations up to
#       the violation as a trace (fuzz/to-trace), which
#       `replay --policy plugin:PATH[:NAME] FILE.trace` replays to the same violation.
# With --no-seeds the run starts from an empty corpus (how fast the fuzzer finds
# a bug by itself). With --expect-crash (CI's check that the broken example is
# found) the exit status is 0 when a crash was found and 1 when none was.
# Exit status: 0 nothing found, 1 a crash (or a build failure), 2 bad usage.
set -u
VRAM_ROOT=$(cd "$(dirname "$0")/.." && pwd)
secs=60 expect=0 seeds=1
while [ $# -gt 1 ]; do
    case "$1" in
    --seconds) secs=$2; shift 2 ;;
    --expect-crash) expect=1; shift ;;
    --no-seeds) seeds=0; shift ;;
    *) break ;;
    esac
done
usage() { echo "usage: fuzz/plugin.sh [--seconds N] [--no-seeds] [--expect-crash] plugin:PATH[:NAME]" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$secs" in '' | *[!0-9]*) usage ;; esac
spec=$1
case "$spec" in plugin:*) ;; *) spec="plugin:$spec" ;; esac

{ cmake --preset fuzz -S "$VRAM_ROOT" >/dev/null &&
  cmake --build "$VRAM_ROOT/build/fuzz" -j2 --target fuzz_heap_plugin >/dev/null; } ||
    { echo "plugin.sh: the fuzz preset did not build" >&2; exit 1; }
bin="$VRAM_ROOT/build/fuzz/bin/fuzz_heap_plugin"

work=$(mktemp -d "${TMPDIR:-/tmp}/vram-fuzz-plugin.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
[ $seeds -eq 1 ] && cp -r "$VRAM_ROOT/fuzz/corpus/fuzz_heap_plugin/." "$work/corpus/"
artifacts="$VRAM_ROOT/build/fuzz/artifacts"
mkdir -p "$artifacts"
start=$(date +%s)
VRAM_FUZZ_PLUGIN=$spec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/fuzz_heap_plugin-" "$work/corpus" \
    >"$work/log" 2>&1
rc=$?
took=$(($(date +%s) - start))
if grep -q '^fuzz_heap_plugin: ' "$work/log"; then # the plugin did not load
    grep '^fuzz_heap_plugin: ' "$work/log" >&2
    exit 2
fi
crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | head -1)
if [ $rc -eq 0 ] || [ -z "$crash" ]; then
    [ $rc -eq 0 ] || { tail -20 "$work/log" >&2; exit 1; }
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    echo "plugin.sh: $spec: nothing found in ${secs}s (${execs:-?} inputs)"
    [ $expect -eq 1 ] && { echo "plugin.sh: a crash was expected" >&2; exit 1; }
    exit 0
fi
echo "plugin.sh: $spec: crash after ${took}s: $crash"
grep -E '^fuzz:' "$work/log" | head -1
# The trace (fuzz/to-trace) from the libFuzzer build itself, which loads the
# plugin as the run did (VRAM_BUILD names no plain build, so to-trace takes it).
if VRAM_BUILD="$work/none" VRAM_FUZZ_PLUGIN=$spec "$VRAM_ROOT/fuzz/to-trace" fuzz_heap_plugin \
    "$crash" >"$crash.trace" 2>/dev/null; then
    echo "plugin.sh: its trace: $crash.trace (replay --no-db --policy $spec $crash.trace)"
else
    rm -f "$crash.trace"
    echo "plugin.sh: no trace written for $crash" >&2
fi
[ $expect -eq 1 ] && exit 0
exit 1
