#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build of the fuzz targets (fuzz/README.md): the
# engine's $CC and $CFLAGS (sanitizer and coverage flags included) compile
# everything; $LIB_FUZZING_ENGINE links each target. Into $OUT go the targets,
# their dictionaries (TARGET.dict) and seed corpora (TARGET_seed_corpus.zip,
# regressions included).
build=$WORK/vramlab-build
cmake -S "$SRC/vramlab" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$CFLAGS" \
    -DVRAM_FUZZ=ON -DVRAM_FUZZ_INSTRUMENT=OFF -DVRAM_FUZZ_ENGINE="$LIB_FUZZING_ENGINE"
VRAM_ROOT=$SRC/vramlab
. "$VRAM_ROOT/fuzz/targets.sh"
cmake --build "$build" -j"$(nproc)" --target $(vram_fuzz_targets)
for t in $(vram_fuzz_targets); do
    cp "$build/bin/$t" "$OUT/"
    dict=$(vram_fuzz_dict "$t")
    [ -n "$dict" ] && cp "${dict#-dict=}" "$OUT/$t.dict"
    seeds=$(mktemp -d)
    cp -r "$VRAM_ROOT/fuzz/corpus/$t/." "$seeds/" 2>/dev/null || true
    [ -d "$VRAM_ROOT/fuzz/regressions/$t" ] && cp -r "$VRAM_ROOT/fuzz/regressions/$t/." "$seeds/"
    (cd "$seeds" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
    rm -rf "$seeds"
done
