/* heap_fuzz.h - the heap policy fuzzing engine shared by fuzz_heap_<policy>
 * and fuzz_heap_all (heap_fuzz.c describes the input encoding and the checks). */
#ifndef VRAM_HEAP_FUZZ_H
#define VRAM_HEAP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "vram/heap.h"

/* Runs the operations `data` encodes on a fresh heap of `policy`, checking
 * every result; traps with a message on the first violation. `target` names
 * the fuzz target in messages and traces. Returns 0 (libFuzzer's convention). */
int fz_heap_run(const uint8_t *data, size_t size, const char *policy, const char *target);

/* The same on a heap of the table `ops` (a plugin's adapter, sim/replay/plugin.h),
 * called `label` in messages and judged by the shadow alone (no fit rule, no
 * known rounding). `explain`, if not NULL, gives words appended to a failure's
 * message when it returns a non-empty string (the adapter's first violation). */
int fz_heap_run_ops(const uint8_t *data, size_t size, const vram_heap_ops *ops, const char *label,
                    const char *target, const char *(*explain)(const void *ctx),
                    const void *explain_ctx);

#endif
