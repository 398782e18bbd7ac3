#!/usr/bin/env bash
# plugin_abi.sh [RUNS] [TRACE] - the plugin ABI's cost (BENCHMARKS.md, "The plugin
# ABI's cost"): events/s of built-in tlsf and of the same tlsf behind the plugin
# ABI (examples/plugins/tlsf_wrap.c), both in each of RUNS (default 5) replays
#   replay --no-db --quiet --no-belady --policy tlsf,plugin:.../libvram_tlsf_wrap.so TRACE
# then the same with --isolate (the plugin in a child process); prints every run
# with its ratio, the medians and the median of the ratios (both policies of a
# run share the machine's load at that moment, so the median ratio is the
# steadier figure on a busy machine). TRACE defaults to traces/llama70b.trace; the build
# is build/default (VRAM_BUILD names another).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
trace=${2:-$root/traces/llama70b.trace}
build=${VRAM_BUILD:-$root/build/default}
replay=$build/bin/replay wrap=$build/examples/libvram_tlsf_wrap.so
[ -x "$replay" ] && [ -f "$wrap" ] || { echo "plugin_abi.sh: build $build first" >&2; exit 1; }

# events/s (in M) of the row of `policy` in a replay's table
rate() { awk -F'|' -v p=" $1 " '$2 == p { gsub(/[ M]/, "", $15); print $15 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for mode in "" --isolate; do
    : >/tmp/plugin_abi.$$.tlsf
    : >/tmp/plugin_abi.$$.wrap
    : >/tmp/plugin_abi.$$.ratio
    for i in $(seq "$runs"); do
        out=$("$replay" --wide --no-db --quiet --no-belady $mode --policy "tlsf,plugin:$wrap" "$trace")
        t=$(echo "$out" | rate tlsf | head -1) w=$(echo "$out" | rate plugin:tlsf_wrap | head -1)
        r=$(awk -v a="$w" -v b="$t" 'BEGIN { printf "%.3f", a / b }')
        echo "run $i${mode:+ ($mode)}: tlsf $t M events/s, plugin:tlsf_wrap $w M events/s, ratio $r"
        echo "$t" >>/tmp/plugin_abi.$$.tlsf
        echo "$w" >>/tmp/plugin_abi.$$.wrap
        echo "$r" >>/tmp/plugin_abi.$$.ratio
    done
    mt=$(median </tmp/plugin_abi.$$.tlsf) mw=$(median </tmp/plugin_abi.$$.wrap)
    echo "median${mode:+ ($mode)}: tlsf $mt M, plugin:tlsf_wrap $mw M events/s; ratio of the" \
         "medians $(awk -v a="$mw" -v b="$mt" 'BEGIN { printf "%.3f", a / b }'), median ratio" \
         "$(median </tmp/plugin_abi.$$.ratio)"
done
rm -f /tmp/plugin_abi.$$.*
