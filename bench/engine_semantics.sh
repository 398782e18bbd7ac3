#!/bin/sh
# engine_semantics.sh - the figures of docs/ENGINE_SEMANTICS.md in BENCHMARKS.md:
# traces/llama70b.trace replayed with every policy at 80, 72, 68 and 64 GiB,
# with Belady's reference, one database per capacity; prints one Markdown table
# (OOMs, forced preemptions, evictions by kind, re-materialised bytes, modelled
# time) built from the databases' runs and bounds rows.
#
# usage: bench/engine_semantics.sh [TRACE] [BUILD_DIR]   (from the project root)
#        PREEMPT=swap bench/engine_semantics.sh           (--preempt swap)
set -eu
trace="${1:-traces/llama70b.trace}"
bin="${2:-build/default}/bin"
preempt="${PREEMPT:-recompute}"
[ -x "$bin/replay" ] || { echo "engine_semantics.sh: $bin/replay not built" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "engine_semantics.sh: needs the sqlite3 shell" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "| capacity | policy | OOMs (despite free) | forced preemptions | preempted | restored (waits) | evictions weight/kv/adapter/other | remat GiB | preemption ms | modelled ms |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for gib in 80 72 68 64; do
    cap=$((gib * 1073741824))
    "$bin/replay" "$trace" --capacity "$cap" --preempt "$preempt" --quiet \
        --db "$dir/$gib.db" >"$dir/$gib.out" 2>&1 || {
        echo "engine_semantics.sh: replay at $gib GiB failed:" >&2
        tail -5 "$dir/$gib.out" >&2
        exit 1
    }
    sqlite3 -separator ' | ' "$dir/$gib.db" "
        SELECT '| $gib GiB', policy,
               ooms || ' (' || ooms_despite_free || ')',
               coalesce(preemptions, '-'),
               printf('%.2f GiB', coalesce(preempted_bytes, 0) / 1073741824.0),
               coalesce(restores, '-') || ' (' || coalesce(restore_waits, '-') || ')',
               evictions_weight || '/' || evictions_kv || '/' || evictions_adapter || '/' ||
                   evictions_other,
               printf('%.2f', bytes_rematerialised / 1073741824.0),
               printf('%.0f', coalesce(preempt_modelled_ms, 0)),
               printf('%.0f |', modelled_ms)
        FROM runs ORDER BY id;
        SELECT '| $gib GiB', 'Belady (ideal device)', belady_ooms, belady_preemptions,
               printf('%.2f GiB', belady_preempted_bytes / 1073741824.0), '-',
               belady_evictions || ' in all',
               printf('%.2f', belady_bytes_rematerialised / 1073741824.0), '-', '- |'
        FROM bounds ORDER BY run_id LIMIT 1;"
done
