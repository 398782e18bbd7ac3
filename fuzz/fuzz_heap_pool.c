/* fuzz_heap_pool.c - the "pool" heap policy under the heap fuzzing engine (heap_fuzz.c). */
#include "fuzz_input.h"
#include "heap_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_heap_run(data, size, "pool", "fuzz_heap_pool");
}
