#!/usr/bin/env bash
# run-short.sh [SECONDS] - the CI fuzz run: builds the fuzz preset, then runs
# every target for SECONDS (default 30) on a temporary copy of its seed corpus
# (so the run changes nothing in the checkout) plus its regressions.
# Crash inputs are kept in build/fuzz/artifacts/TARGET-crash-*; the summary
# prints executions per second of each target. Then fuzz_heap_plugin must find
# each bug of the broken example plugin (fuzz/plugin.sh --expect-crash).
# Exit status: 0 nothing found, 1 a target crashed (or a build failure), 2 bad usage.
set -u
VRAM_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$VRAM_ROOT/fuzz/targets.sh"

secs=${1:-30}
case "$secs" in
'' | *[!0-9]*) echo "usage: fuzz/run-short.sh [SECONDS]" >&2; exit 2 ;;
esac

vram_fuzz_build || { echo "run-short: the fuzz preset did not build" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vram-fuzz-short.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$VRAM_ROOT/build/fuzz/artifacts"
mkdir -p "$artifacts"
failed=()
summary=()
for t in $(vram_fuzz_targets); do
    mkdir -p "$work/$t"
    cp -r "$VRAM_ROOT/fuzz/corpus/$t/." "$work/$t/" 2>/dev/null
    dirs=("$work/$t")
    [ -d "$VRAM_ROOT/fuzz/regressions/$t" ] && dirs+=("$VRAM_ROOT/fuzz/regressions/$t")
    echo "== $t: ${secs}s"
    "$VRAM_ROOT/build/fuzz/bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 $(vram_fuzz_dict "$t") -artifact_prefix="$artifacts/$t-" \
        "${dirs[@]}" >"$work/$t.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
    # A crash ends the run before the final stats: the last progress line's rate.
    [ -n "$execs" ] || execs=$(sed -n 's/.* exec\/s: \([0-9]*\) .*/\1/p' "$work/$t.log" | tail -1)
    if [ $rc -ne 0 ]; then
        failed+=("$t")
        grep -E '^fuzz:|ERROR|SUMMARY|Test unit written' "$work/$t.log" | head -20
        summary+=("$t CRASHED (exit $rc), ${execs:-?} exec/s before")
    else
        summary+=("$t ok, ${execs:-?} exec/s")
    fi
done
# The broken example plugin (examples/plugins/broken.c) must be found: each of
# its bugs by fuzz_heap_plugin from an empty corpus within SECONDS.
if [ -z "${VRAM_FUZZ_TARGETS:-}" ] || [[ " $VRAM_FUZZ_TARGETS " == *" fuzz_heap_plugin "* ]]; then
    for bug in overlap misalign wrongfree; do
        echo "== fuzz_heap_plugin on the broken example ($bug): up to ${secs}s, a crash expected"
        if out=$("$VRAM_ROOT/fuzz/plugin.sh" --seconds "$secs" --no-seeds --expect-crash \
            "plugin:$VRAM_ROOT/build/fuzz/examples/libvram_broken.so:$bug" 2>&1); then
            summary+=("broken plugin ($bug) found: $(echo "$out" | sed -n 's/.*crash after \([0-9]*s\).*/\1/p')")
        else
            echo "$out" | tail -5
            failed+=("fuzz_heap_plugin(broken:$bug)")
            summary+=("broken plugin ($bug) NOT FOUND in ${secs}s")
        fi
    done
fi
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "run-short: crashes in: ${failed[*]} (inputs in $artifacts; fuzz/to-trace turns heap and manager ones into traces)" >&2
    exit 1
fi
exit 0
