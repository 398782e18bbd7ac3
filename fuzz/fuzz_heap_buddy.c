/* fuzz_heap_buddy.c - the "buddy" heap policy under the heap fuzzing engine (heap_fuzz.c). */
#include "fuzz_input.h"
#include "heap_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_heap_run(data, size, "buddy", "fuzz_heap_buddy");
}
