#!/bin/sh
# replay_speed.sh - the replay's speed on the committed traces (issue 15), in
# three tables, medians of ROUNDS runs:
#   1. per trace and policy: events per CPU second with every call timed, the
#      trace parsed once (bin/replay_cost);
#   2. llama70b.trace, per policy, where the CPU time goes (needs perf):
#      `perf record -e cpu-clock --call-graph dwarf` of replay_cost, each sample
#      put in the parse, the bounds pass, the policy's calls (a stack through
#      vram_alloc, vram_free, vram_unpin_free, vram_touch, vram_acquire_shared,
#      vram_release_shared, vram_pin, vram_unpin or vram_evict) or the replay's
#      own work (the rest of vreplay_run: dispatch, slots, clock, histograms,
#      samples, checks); own ns/event = own share of the run x table 1's CPU
#      ns/event (CPU samples count only the time the replay ran, which a shared
#      machine's other processes do not inflate);
#   3. llama70b.trace: wall time of `replay --policy all` with --jobs 2 and
#      --jobs 1 against the sum of the five single-policy runs (each of those
#      parses the trace and walks its bounds: what --policy all does once).
# Usage: bench/replay_speed.sh [BIN_DIR [ROUNDS]]   (default build/default/bin 5)
set -eu
bin="${1:-build/default/bin}" rounds="${2:-5}"
policies="bestfit buddy tlsf pool caching"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "## 1. events per CPU second, every call timed ($rounds rounds, medians)"
for t in traces/*.trace; do
    echo
    "$bin/replay_cost" "$t" --rounds "$rounds" | tee "$tmp/cost.$(basename "$t")"
done

echo
echo "## 2. traces/llama70b.trace: the replay's own CPU time per event (perf cpu-clock)"
if command -v perf >/dev/null 2>&1; then
    echo
    echo "| policy | run samples | policy's calls | replay's own | own ns/event |"
    echo "|---|---:|---:|---:|---:|"
    for p in $policies; do
        perf record -q -e cpu-clock -F 1999 --call-graph dwarf,16384 -o "$tmp/perf.data" \
            "$bin/replay_cost" traces/llama70b.trace --rounds 2 --policy "$p" >/dev/null 2>&1
        perf script -i "$tmp/perf.data" -F ip,sym 2>/dev/null | awk -v p="$p" '
            function flush() {
                if (n == 0) return
                phase = ""; pol = 0
                for (i = 1; i <= n; i++) {
                    if (f[i] ~ /^(vram_alloc|vram_free|vram_unpin_free|vram_touch|vram_acquire_shared|vram_release_shared|vram_pin|vram_unpin|vram_evict)$/) pol = 1
                    if (f[i] == "vreplay_run") { phase = "run"; break }
                }
                if (phase == "run") { run++; if (pol) calls++ }
                n = 0
            }
            /^[ \t]*$/ { flush(); next }
            { f[++n] = $2 }
            END { flush(); printf "%s %d %d %d\n", p, run, calls, run - calls }' >>"$tmp/shares"
    done
    while read -r p run calls own; do
        ns=$(awk -v p="$p" '$2 == p { print $6 }' "$tmp/cost.llama70b.trace")
        awk -v p="$p" -v r="$run" -v c="$calls" -v o="$own" -v ns="$ns" 'BEGIN {
            printf "| %s | %d | %.1f%% | %.1f%% | %.1f |\n", p, r, 100 * c / r, 100 * o / r, ns * o / r }'
    done <"$tmp/shares"
else
    echo "(perf not found: skipped)"
fi

echo
echo "## 3. traces/llama70b.trace: --policy all against the single policies, wall s ($rounds rounds, medians)"
wall() { # prints the wall seconds of the command
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", e - s }'
}
i=0
while [ "$i" -lt "$rounds" ]; do
    wall "$bin/replay" traces/llama70b.trace --no-db --quiet --jobs 2 >>"$tmp/all2"
    wall "$bin/replay" traces/llama70b.trace --no-db --quiet --jobs 1 >>"$tmp/all1"
    sum=0
    for p in $policies; do
        w=$(wall "$bin/replay" traces/llama70b.trace --no-db --quiet --jobs 1 --policy "$p")
        sum=$(awk -v a="$sum" -v b="$w" 'BEGIN { print a + b }')
    done
    echo "$sum" >>"$tmp/sum"
    i=$((i + 1))
done
a2=$(median <"$tmp/all2") a1=$(median <"$tmp/all1") s=$(median <"$tmp/sum")
echo
echo "| run | wall s | / sum of single-policy runs |"
echo "|---|---:|---:|"
echo "| 5 single-policy runs, summed | $s | 1.000 |"
awk -v a="$a1" -v s="$s" 'BEGIN { printf "| --policy all --jobs 1 | %s | %.3f |\n", a, a / s }'
awk -v a="$a2" -v s="$s" 'BEGIN { printf "| --policy all --jobs 2 | %s | %.3f |\n", a, a / s }'
