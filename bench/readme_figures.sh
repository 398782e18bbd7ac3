#!/bin/sh
# readme_figures.sh - regenerates the figures the README shows, from the current
# build and the committed traces, so that none is edited by hand:
#   - the summary table and the verdict of the README's main command (printed,
#     for README.md),
#   - the table of forced preemptions at 64 GiB, where every allocator pays
#     (printed; replay --wide),
#   - reports/examples/: llama70b-footprint.png and .svg, llama70b-heapmap.png
#     and .svg, and llama70b-summary.md (the report's summary.md, the temporary
#     database named results.db), from the report over the main command's
#     database.
# usage: bench/readme_figures.sh [BUILD_DIR]   (from the project root; BUILD_DIR
# default build/default). Takes about a minute.
set -eu
bin="${1:-build/default}/bin"
for tool in replay report; do
    [ -x "$bin/$tool" ] || { echo "readme_figures.sh: $bin/$tool not built" >&2; exit 1; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
table() { # the first Markdown table of a replay's output after the line matching $2
    awk -v from="$2" '$0 ~ from {on=1} on && /^\|/{print; t=1; next} t{exit}' "$1"
}
"$bin/replay" traces/llama70b.trace --quiet --db "$dir/main.db" >"$dir/main.out"
echo "## replay traces/llama70b.trace"
table "$dir/main.out" '^\| policy '
echo
awk '/^Verdict/{on=1} /^logged to/{exit} on{print}' "$dir/main.out"
"$bin/replay" traces/llama70b.trace --quiet --no-db --wide --capacity 68719476736 >"$dir/64.out"
echo
echo "## replay traces/llama70b.trace --wide --capacity 68719476736 (forced preemptions)"
table "$dir/64.out" '^\| policy \| forced'
"$bin/report" "$dir/main.db" -o "$dir/report" >"$dir/report.out" 2>&1 || {
    cat "$dir/report.out" >&2
    exit 1
}
for fig in footprint heapmap; do
    for ext in png svg; do
        cp "$dir/report/$fig.$ext" "reports/examples/llama70b-$fig.$ext"
    done
done
sed "s|$dir/main.db|results.db|g" "$dir/report/summary.md" >reports/examples/llama70b-summary.md
echo
echo "reports/examples/llama70b-{footprint,heapmap}.{png,svg} and llama70b-summary.md written"
