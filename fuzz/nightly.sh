#!/usr/bin/env bash
# nightly.sh [SECONDS-PER-TARGET] - the long fuzz run (default 3600 s per
# target): builds the fuzz preset, runs every target on a copy of its corpus
# plus its regressions, then
#   - merges what was found into fuzz/corpus/TARGET (-merge=1: only inputs
#     that add coverage), for a commit by whoever runs it;
#   - minimises each crash into fuzz/crashes/TARGET/crash-HASH with the
#     target's message (crash-HASH.txt) and, for heap and manager targets, its
#     reproducing trace (crash-HASH.trace, by fuzz/to-trace); after a crash the
#     target runs again for the rest of its time, up to 3 crashes.
# VRAM_FUZZ_TARGETS="fuzz_a fuzz_b" runs only those targets.
# Exit status: 0 nothing found, 1 a crash (or a build failure), 2 bad usage.
set -u
VRAM_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$VRAM_ROOT/fuzz/targets.sh"

secs=${1:-3600}
case "$secs" in
'' | *[!0-9]*) echo "usage: fuzz/nightly.sh [SECONDS-PER-TARGET]" >&2; exit 2 ;;
esac

vram_fuzz_build || { echo "nightly: the fuzz preset did not build" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vram-fuzz-nightly.XXXXXX")
trap 'rm -rf "$work"' EXIT
crashed=()
for t in $(vram_fuzz_targets); do
    bin="$VRAM_ROOT/build/fuzz/bin/$t"
    corpus="$VRAM_ROOT/fuzz/corpus/$t"
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts" "$corpus"
    cp -r "$corpus/." "$work/$t/corpus/"
    dirs=("$work/$t/corpus")
    [ -d "$VRAM_ROOT/fuzz/regressions/$t" ] && dirs+=("$VRAM_ROOT/fuzz/regressions/$t")
    echo "== $t: ${secs}s"
    # A crash stops libFuzzer; run again until the time is used up, so one
    # crash does not hide the rest of the night.
    end=$(($(date +%s) + secs))
    while [ "$(date +%s)" -lt "$end" ]; do
        left=$((end - $(date +%s)))
        "$bin" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            $(vram_fuzz_dict "$t") -artifact_prefix="$work/$t/artifacts/" "${dirs[@]}" \
            >>"$work/$t.log" 2>&1 && break
        # Nothing new was written: not a crash we can keep (e.g. a signal); stop.
        ls "$work/$t/artifacts/" | grep -q . || break
        [ "$(ls "$work/$t/artifacts" | wc -l)" -ge 3 ] && break
    done
    sed -n 's/^stat::average_exec_per_sec: */  exec\/s: /p' "$work/$t.log" | tail -1
    "$bin" -merge=1 $(vram_fuzz_dict "$t") "$corpus" "$work/$t/corpus" >"$work/$t.merge.log" 2>&1 ||
        echo "  merge failed: see the log" >&2
    grep -E '^MERGE-OUTER: [0-9]+ new files' "$work/$t.merge.log" | sed 's/^/  /'
    for a in "$work/$t/artifacts"/*; do
        [ -f "$a" ] || continue
        mkdir -p "$VRAM_ROOT/fuzz/crashes/$t"
        out="$VRAM_ROOT/fuzz/crashes/$t/$(basename "$a")"
        case "$(basename "$a")" in
        crash-* | leak-* | timeout-* | oom-*)
            "$bin" -minimize_crash=1 -max_total_time=60 -exact_artifact_path="$out" "$a" \
                >"$work/$t.min.log" 2>&1
            [ -s "$out" ] || cp "$a" "$out"
            "$bin" "$out" 2>&1 | grep -E '^fuzz:|ERROR: |SUMMARY' | head -5 >"$out.txt"
            case "$t" in
            fuzz_heap_* | fuzz_manager)
                # fuzz_heap_all: the trace of the policy the message names.
                policy=$(sed -n 's/^fuzz: [a-z_]*: \([a-z]*\): .*/\1/p' "$out.txt" | head -1)
                VRAM_FUZZ_POLICY=$policy "$VRAM_ROOT/fuzz/to-trace" "$t" "$out" >"$out.trace" 2>/dev/null ||
                    rm -f "$out.trace" ;;
            esac
            crashed+=("$out")
            ;;
        esac
    done
done
if [ ${#crashed[@]} -ne 0 ]; then
    echo "nightly: ${#crashed[@]} crash(es):" >&2
    printf '  %s\n' "${crashed[@]}" >&2
    exit 1
fi
echo "nightly: no crash"
