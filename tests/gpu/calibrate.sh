#!/bin/sh
# tests/gpu/calibrate.sh - calibrates the device cost model (docs/COST_MODEL.md,
# "Calibrating on a GPU") on a machine with an NVIDIA GPU and its driver:
# builds the project (preset default), runs build/default/bin/gpu_calibrate
# (the measured medians beside the model's defaults), then replays
# traces/llama70b.trace on the cuda backend with a capacity the GPU has free,
# and ends with the measured parameters beside the model's again. Everything
# runs under `timeout`, within CALIBRATE_BUDGET_S seconds in all (default 300).
#
# Without a GPU (nvidia-smi missing, failing or listing no GPU) it says so and
# exits 0: nothing to calibrate. NVIDIA_SMI names the nvidia-smi to run
# (default: nvidia-smi on PATH); the ctest test gpu_calibrate_no_gpu points it
# at a missing file, so that the test takes this path on any machine.
#
# The device is CUDA ordinal 0 = the first of CUDA_VISIBLE_DEVICES, in PCI bus
# order (CUDA_DEVICE_ORDER=PCI_BUS_ID, as nvidia-smi numbers them).
#
# Exit status: 0 calibrated, or no GPU; 1 a step failed or ran out of time.
set -u

NVIDIA_SMI=${NVIDIA_SMI:-nvidia-smi}
BUDGET_S=${CALIBRATE_BUDGET_S:-300}
MARGIN_MIB=4096                 # left free for the replay's CUDA context and the driver
TRACE_CAPACITY=85899345920      # traces/llama70b.trace's device: 80 GiB (traces/README.md)
TRACE=traces/llama70b.trace

say() { printf 'calibrate.sh: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }
no_gpu() { say "no NVIDIA GPU found ($1): nothing to calibrate"; exit 0; }

# ---- is there a GPU? ----
if ! command -v "$NVIDIA_SMI" >/dev/null 2>&1; then
    if [ "$NVIDIA_SMI" = nvidia-smi ]; then no_gpu "nvidia-smi not found on PATH"; fi
    no_gpu "nvidia-smi not found: NVIDIA_SMI=$NVIDIA_SMI is not a command"
fi
gpus=$("$NVIDIA_SMI" -L 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
    why=$(printf '%s\n' "$gpus" | head -n 1)
    no_gpu "nvidia-smi -L failed with exit status $rc${why:+: $why}"
fi
printf '%s\n' "$gpus" | grep -q '^GPU [0-9]' || no_gpu "nvidia-smi -L lists no GPU"

# ---- set-up ----
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) not found: it bounds every step"
case $BUDGET_S in ''|*[!0-9]*) die "CALIBRATE_BUDGET_S=$BUDGET_S is not a number of seconds" ;; esac
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || die "cannot find the source tree from $0"
cd "$ROOT" || die "cannot enter $ROOT"
TMP=$(mktemp -d) || die "mktemp -d failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM HUP
START=$(date +%s)
export CUDA_DEVICE_ORDER=PCI_BUS_ID
GPU=${CUDA_VISIBLE_DEVICES:-0}
GPU=${GPU%%,*}

# Seconds left of the budget, less $1 kept for the steps after this one.
left() { echo $((BUDGET_S - ($(date +%s) - START) - $1)); }

# step NAME RESERVE LOG CMD...: runs CMD under timeout with the budget left
# less RESERVE seconds, its output in LOG; fails naming the step.
step() {
    name=$1 reserve=$2 log=$3
    shift 3
    limit=$(left "$reserve")
    [ "$limit" -gt 0 ] || die "$name: no time left of the ${BUDGET_S} s budget"
    timeout -k 10 "$limit" "$@" >"$log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && return 0
    tail -n 40 "$log" >&2
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && die "$name: timed out after $limit s"
    die "$name: failed (exit status $rc): $*"
}

say "GPU: $(printf '%s\n' "$gpus" | head -n 1); budget ${BUDGET_S} s"

# ---- build ----
say "building (cmake --preset default) ..."
step "configure" 150 "$TMP/configure.log" cmake --preset default
step "build" 150 "$TMP/build.log" cmake --build --preset default -j"$(nproc)"

# ---- gpu_calibrate ----
say "measuring (build/default/bin/gpu_calibrate) ..."
step "gpu_calibrate" 60 "$TMP/calibrate.txt" build/default/bin/gpu_calibrate
cat "$TMP/calibrate.txt"
if grep -q 'nothing measured' "$TMP/calibrate.txt"; then
    die "nvidia-smi lists a GPU but gpu_calibrate cannot open it (see above): is libcuda.so.1 loadable?"
fi

# ---- replay on the GPU ----
free_mib=$("$NVIDIA_SMI" --query-gpu=memory.free --format=csv,noheader,nounits -i "$GPU" 2>&1 |
           head -n 1 | tr -d ' ')
case $free_mib in
    ''|*[!0-9]*) die "nvidia-smi --query-gpu=memory.free -i $GPU answered '$free_mib', not MiB" ;;
esac
[ "$free_mib" -gt $((MARGIN_MIB + 1024)) ] ||
    die "GPU $GPU has $free_mib MiB free: too little for a replay (a margin of $MARGIN_MIB MiB plus 1 GiB)"
capacity=$(((free_mib - MARGIN_MIB) * 1048576))
[ "$capacity" -le "$TRACE_CAPACITY" ] || capacity=$TRACE_CAPACITY
# Below the trace's 80 GiB the buddy policy evicts and restores hundreds of
# GiB (383 GiB at 75 GiB on the sim): minutes of PCIe copies, and nothing the
# calibration needs, so it runs only at the full 80 GiB.
policies=all
[ "$capacity" -lt "$TRACE_CAPACITY" ] && policies=bestfit,tlsf,pool,caching
say "replaying $TRACE on the cuda backend, capacity $capacity bytes ($free_mib MiB free less $MARGIN_MIB MiB, at most 80 GiB), policies $policies ..."
step "replay" 0 "$TMP/replay.txt" build/default/bin/replay "$TRACE" --backend cuda --no-db \
    --capacity "$capacity" --policy "$policies" --quiet
cat "$TMP/replay.txt"

# ---- summary ----
echo
say "measured on this GPU beside the model's defaults (docs/COST_MODEL.md):"
grep '^|' "$TMP/calibrate.txt"
grep -A 1 'vram_cost_model cost' "$TMP/calibrate.txt"
say "done in $(($(date +%s) - START)) s"
