#!/usr/bin/env bash
# coverage.sh [CORPUS_ROOT] - line and branch coverage of alloc/ and sim/ after
# the test suite and the fuzz corpora.
#
# Builds the `coverage` preset (clang source-based coverage), runs ctest (which
# includes fuzz_regressions_*: every target's regressions and seed corpus
# through the plain driver) and, given CORPUS_ROOT, each target's plain build
# over CORPUS_ROOT/TARGET as well (a nightly run's merged corpus); merges the
# profiles with llvm-profdata-14 and prints llvm-cov-14's summary for each
# directory, the TOTAL lines last. Needs clang, llvm-profdata-14, llvm-cov-14.
# Exit status: 0 the figures were printed (failing tests are reported, the
# figures still count what ran), 1 a build or tool failure.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/coverage"
corpora=${1:-}
for tool in clang llvm-profdata-14 llvm-cov-14; do
    command -v $tool >/dev/null || { echo "coverage: $tool not found" >&2; exit 1; }
done
cmake --preset coverage -S "$root" >/dev/null && cmake --build "$build" -j2 >/dev/null ||
    { echo "coverage: the coverage preset did not build" >&2; exit 1; }

prof="$build/profiles"
rm -rf "$prof" && mkdir -p "$prof"
export LLVM_PROFILE_FILE="$prof/%p-%m.profraw"
ctest --test-dir "$build" -j2 --output-on-failure >"$build/coverage-ctest.log" 2>&1 ||
    echo "coverage: some tests failed (see $build/coverage-ctest.log)" >&2
tail -3 "$build/coverage-ctest.log"
if [ -n "$corpora" ]; then
    for bin in "$build"/fuzz/fuzz_*; do
        t=$(basename "$bin")
        [ -d "$corpora/$t" ] && "$bin" "$corpora/$t" >/dev/null
    done
fi
# A process killed by a signal (the tests that expect a trap) may leave a
# truncated profile: those are skipped with a warning, the others merged.
llvm-profdata-14 merge -sparse -failure-mode=all "$prof"/*.profraw -o "$build/coverage.profdata" ||
    { echo "coverage: llvm-profdata-14 merge failed" >&2; exit 1; }

# Every executable that links the libraries: tests, fuzz targets, tools, benchmarks.
objects=()
for f in "$build"/tests/test_* "$build"/fuzz/fuzz_* "$build"/bin/*; do
    [ -x "$f" ] && [ -f "$f" ] && objects+=(-object "$f")
done
[ ${#objects[@]} -gt 0 ] || { echo "coverage: no executables in $build" >&2; exit 1; }
for dir in alloc sim; do
    echo "== $dir/"
    llvm-cov-14 report --show-branch-summary -instr-profile="$build/coverage.profdata" \
        "${objects[@]:1}" "$root/$dir" >"$build/coverage-$dir.txt" ||
        { echo "coverage: llvm-cov-14 report failed" >&2; exit 1; }
    cat "$build/coverage-$dir.txt"
done
echo "== TOTAL lines (regions, functions, lines, branches: missed and cover)"
for dir in alloc sim; do
    printf '%-6s %s\n' "$dir/" "$(grep '^TOTAL' "$build/coverage-$dir.txt")"
done
