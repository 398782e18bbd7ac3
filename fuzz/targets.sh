# targets.sh - sourced by the fuzz scripts: the target list and each target's dictionary.

# The fuzz targets, from the sources: fuzz/fuzz_NAME.c is target fuzz_NAME;
# VRAM_FUZZ_TARGETS="fuzz_a fuzz_b" restricts a run to those.
vram_fuzz_targets() {
    if [ -n "${VRAM_FUZZ_TARGETS:-}" ]; then
        echo $VRAM_FUZZ_TARGETS
        return
    fi
    for src in "$VRAM_ROOT"/fuzz/fuzz_*.c; do
        basename "$src" .c
    done
}

# The libFuzzer -dict option of a target, or nothing.
vram_fuzz_dict() {
    local dict=
    case "$1" in
    fuzz_trace) dict=trace ;;
    fuzz_import_rmm) dict=rmm ;;
    fuzz_pickle | fuzz_import_torch) dict=pickle ;;
    fuzz_workload_azure) dict=azure ;;
    fuzz_workload_mooncake) dict=mooncake ;;
    fuzz_caching_conf) dict=caching_conf ;;
    fuzz_sweep_grid) dict=sweep_grid ;;
    esac
    if [ -n "$dict" ]; then
        echo "-dict=$VRAM_ROOT/fuzz/dict/$dict.dict"
    fi
}

# Configures and builds the fuzz preset (clang, libFuzzer, ASan + UBSan).
vram_fuzz_build() {
    cmake --preset fuzz -S "$VRAM_ROOT" >/dev/null &&
        cmake --build "$VRAM_ROOT/build/fuzz" -j2 --target $(vram_fuzz_targets)
}
