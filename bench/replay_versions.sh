#!/bin/sh
# replay_versions.sh - events/s of two builds of `replay` on two traces, run
# alternately (A then B, N rounds) so that the machine's load falls on both
# alike; prints the median per policy and the ratio B/A. For the throughput
# target of issue 11 (the version-2 replay against the version-1 one):
#   git worktree add /tmp/base 0e3f5fa && cmake -S /tmp/base -B /tmp/base/build \
#       -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/base/build --target replay
#   git show 0e3f5fa:traces/llama70b.trace > /tmp/v1.trace
#   bench/replay_versions.sh /tmp/base/build/bin/replay /tmp/v1.trace \
#       build/default/bin/replay traces/llama70b.trace 7
set -eu
[ $# -ge 4 ] || { echo "usage: $0 REPLAY_A TRACE_A REPLAY_B TRACE_B [ROUNDS]" >&2; exit 2; }
a="$1" ta="$2" b="$3" tb="$4" rounds="${5:-5}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
    for side in A B; do
        if [ "$side" = A ]; then bin="$a" t="$ta"; else bin="$b" t="$tb"; fi
        wide=$("$bin" --help | grep -q -- --wide && echo --wide || true) # events/s: --wide
        "$bin" "$t" $wide --no-db --quiet --no-belady 2>/dev/null |
            awk -v s="$side" -F'|' '/^\| (bestfit|buddy|tlsf|pool|caching) / && $(NF-1) ~ / M / {
                v = $(NF-1); gsub(/[ M]/, "", v); print s, $2, v }'
    done
    i=$((i + 1))
done >"$out"
echo "| policy | A M events/s (median) | B M events/s (median) | B / A |"
echo "|---|---:|---:|---:|"
for p in bestfit buddy tlsf pool caching; do
    ma=$(awk -v p="$p" '$1 == "A" && $2 == p { print $3 }' "$out" | sort -n |
         awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
    mb=$(awk -v p="$p" '$1 == "B" && $2 == p { print $3 }' "$out" | sort -n |
         awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
    [ -n "$ma" ] && [ -n "$mb" ] || continue
    echo "| $p | $ma | $mb | $(awk -v x="$ma" -v y="$mb" 'BEGIN { printf "%.3f", y / x }') |"
done
