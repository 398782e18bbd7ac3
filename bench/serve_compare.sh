#!/bin/sh
# serve_compare.sh - the closed-loop figures of BENCHMARKS.md ("The closed loop"):
#   1. the comparison: the Azure conversation recording's busiest 11 minutes at x1.5 (the
#      window of traces/llama70b.trace, traces/README.md) on Llama-3-70B TP=4, served by
#      `serve` with every KV reservation style x every heap policy it applies to; one
#      Markdown row per run (the KV ledger's time-weighted shares, throughput, batch,
#      queueing, preemptions), the rows as OUT_DIR/serve.dat and the figure drawn from them by
#      reports/serve.gp as OUT_DIR/serve-compare.png (gnuplot);
#   2. the cost: the whole 58-minute recording at x1, paged and oracle, every policy:
#      simulated requests per CPU-second (the run's own CPU clock).
# Nothing is tuned: every option but the window is serve's default (the window and
# --max-batch-seqs 512 are traces/llama70b.trace's).
#
# With WHICH code, part 1 runs the Azure code recording's window instead (that of
# traces/llama70b-code.trace) and part 2 is left out.
#
# usage: bench/serve_compare.sh [BUILD_DIR] [OUT_DIR] [conv|code]   (from the project root)
set -eu
bin="${1:-build/default}/bin"
out="${2:-.}"
which="${3:-conv}"
rec=traces/recordings/AzureLLMInferenceTrace_conv.csv
window="--start-s 1380 --duration-s 660 --speedup 1.5 --max-batch-seqs 512"
title='Azure conversation (busiest 11 min, x1.5)'
if [ "$which" = code ]; then
    rec=traces/recordings/AzureLLMInferenceTrace_code.csv
    window="--start-s 840 --duration-s 660"
    title='Azure code (11 min)'
fi
[ -x "$bin/serve" ] || { echo "serve_compare.sh: $bin/serve not built" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# one JSON line per run -> one value
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

echo "| style | policy | token states | reserved | internal waste | free unusable | free usable | tokens/s | mean batch | queue ms mean/p99 | preemptions budget/placement/buffers | admissions refused |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
: >"$out/serve.dat"
for style in paged contiguous max pow2 oracle; do
    # shellcheck disable=SC2086 # the window's options are words
    "$bin/serve" --workload "$rec" $window --engine "$style" --json --no-db --progress 0 >"$dir/$style.json" 2>"$dir/$style.err" || {
        echo "serve_compare.sh: serve --engine $style failed:" >&2
        tail -5 "$dir/$style.err" >&2
        exit 1
    }
    while read -r line; do
        v() { echo "$line" | field "$1"; }
        printf '| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f | %.1f | %.0f/%.0f | %s/%s/%s | %s |\n' \
            "$style" "$(v policy)" "$(v share_tokens)" "$(v share_reserved)" "$(v share_waste)" \
            "$(v share_free_unusable)" "$(v share_free_usable)" "$(v tokens_per_s)" "$(v mean_batch)" \
            "$(v queue_mean_ms)" "$(v queue_p99_ms)" "$(v preempt_budget)" "$(v preempt_placement)" \
            "$(v preempt_buffers)" "$(v admissions_refused)"
        printf '"%s %s" %s %s %s %s %s %s\n' "$style" "$(v policy)" "$(v share_tokens)" "$(v share_reserved)" \
            "$(v share_waste)" "$(v share_free_unusable)" "$(v share_free_usable)" "$(v tokens_per_s)" \
            >>"$out/serve.dat"
    done <"$dir/$style.json"
done

# the figure (reports/examples/serve-compare*.png in README and BENCHMARKS), when gnuplot is there
if command -v gnuplot >/dev/null; then
    gnuplot -e "data='$out/serve.dat'; out='$out/serve-compare.png'; title='$title'" reports/serve.gp
fi
[ "$which" = conv ] || exit 0

echo
echo "| style | policy | requests | CPU s | requests per CPU-second |"
echo "|---|---|---|---|---|"
for style in paged oracle; do
    "$bin/serve" --workload "$rec" --engine "$style" --json --no-db --progress 0 >"$dir/full-$style.json"
    while read -r line; do
        v() { echo "$line" | field "$1"; }
        printf '| %s | %s | %s | %.2f | %.0f |\n' "$style" "$(v policy)" "$(v finished)" "$(v cpu_s)" \
            "$(echo "$(v finished) $(v cpu_s)" | awk '{ print $1 / $2 }')"
    done <"$dir/full-$style.json"
done
