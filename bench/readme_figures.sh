#!/bin/sh
# readme_figures.sh - regenerates the figures the README shows, from the current
# build and the committed traces, so that none is edited by hand:
#   - the replay table of the README's main command (printed, for README.md),
#   - the same at 64 GiB, where the allocators force preemptions (printed),
#   - reports/examples/llama70b-footprint.png and llama70b-heapmap.png (copied
#     from the report over the main command's database).
# usage: bench/readme_figures.sh [BUILD_DIR]   (from the project root; BUILD_DIR
# default build/default). Takes about a minute.
set -eu
bin="${1:-build/default}/bin"
for tool in replay report; do
    [ -x "$bin/$tool" ] || { echo "readme_figures.sh: $bin/$tool not built" >&2; exit 1; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
table() { # the first Markdown table of a replay's output: header, rule and rows
    awk '/^\| policy /{on=1} on && /^\|/{print; next} on{exit}' "$1"
}
"$bin/replay" traces/llama70b.trace --quiet --db "$dir/main.db" >"$dir/main.out"
echo "## replay traces/llama70b.trace"
table "$dir/main.out"
"$bin/replay" traces/llama70b.trace --quiet --no-db --capacity 68719476736 >"$dir/64.out"
echo
echo "## replay traces/llama70b.trace --capacity 68719476736 (engine table)"
awk '/^\| policy \| forced/{on=1} on && /^\|/{print; next} on{exit}' "$dir/64.out"
"$bin/report" "$dir/main.db" -o "$dir/report" >"$dir/report.out" 2>&1 || {
    cat "$dir/report.out" >&2
    exit 1
}
cp "$dir/report/footprint.png" reports/examples/llama70b-footprint.png
cp "$dir/report/heapmap.png" reports/examples/llama70b-heapmap.png
echo
echo "reports/examples/llama70b-footprint.png and llama70b-heapmap.png written"
