/* heap_fuzz.h - the heap policy fuzzing engine shared by fuzz_heap_<policy>
 * and fuzz_heap_all (heap_fuzz.c describes the input encoding and the checks). */
#ifndef VRAM_HEAP_FUZZ_H
#define VRAM_HEAP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs the operations `data` encodes on a fresh heap of `policy`, checking
 * every result; traps with a message on the first violation. `target` names
 * the fuzz target in messages and traces. Returns 0 (libFuzzer's convention). */
int fz_heap_run(const uint8_t *data, size_t size, const char *policy, const char *target);

#endif
