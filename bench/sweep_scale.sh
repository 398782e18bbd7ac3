#!/bin/sh
# sweep_scale.sh - the wall and CPU time of one sweep grid on the committed
# traces (docs/SWEEPS.md), run alternately N rounds with `sweep --jobs J` for
# each J given and, as the baseline, the same runs as one sequential `replay
# --policy LIST` per (trace, capacity) point, which computes the bounds once per
# point (the sweep: once per run); prints the medians per setting and their
# ratios to the baseline measured in the same rounds. Needs GNU time.
#   bench/sweep_scale.sh build/default/bin 3 1 2
# The grid: traces/llama70b.trace and traces/llama70b-contig.trace x bestfit,
# tlsf, caching x the header's capacity and 64 GiB (12 runs, each with its
# Belady pass; the databases are temporary).
set -eu
[ $# -ge 3 ] || { echo "usage: $0 BINDIR ROUNDS JOBS..." >&2; exit 2; }
bin="$1" rounds="$2"
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
traces="$root/traces/llama70b.trace $root/traces/llama70b-contig.trace"
policies=bestfit,tlsf,caching
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/times"
# "KEY wall cpu" for the command after KEY (cpu: user + system of it and its children).
timed() {
    key="$1"
    shift
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>&1
    awk -v k="$key" '{ print k, $1, $2 + $3 }' "$work/t" >>"$out"
}
i=0
while [ "$i" -lt "$rounds" ]; do
    timed replay sh -c 'db=$1 bin=$2 p=$3; shift 3
        for t in "$@"; do for c in "" 68719476736; do
            "$bin/replay" --policy "$p" ${c:+--capacity $c} --db "$db" --quiet "$t"
        done; done' sh "$work/base.db" "$bin" "$policies" $traces
    for j in "$@"; do
        timed "jobs$j" "$bin/sweep" --jobs "$j" --policy $policies --capacity trace,64GiB \
            --db "$work/s$j.db" $traces
    done
    i=$((i + 1))
done
median() { # KEY COLUMN
    awk -v k="$1" -v c="$2" '$1 == k { print $c }' "$out" | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f", y / x }'; }
bw=$(median replay 2) bc=$(median replay 3)
echo "| how (12 runs, $rounds rounds, $(nproc) cores) | wall s | / baseline | CPU s | / baseline |"
echo "|---|---:|---:|---:|---:|"
echo "| baseline: replay --policy $policies, once per trace x capacity | $bw | 1.000 | $bc | 1.000 |"
for j in "$@"; do
    w=$(median "jobs$j" 2) c=$(median "jobs$j" 3)
    echo "| sweep --jobs $j | $w | $(ratio "$bw" "$w") | $c | $(ratio "$bc" "$c") |"
done
