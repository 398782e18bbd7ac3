/* fuzz_heap_tlsf.c - the "tlsf" heap policy under the heap fuzzing engine (heap_fuzz.c). */
#include "fuzz_input.h"
#include "heap_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_heap_run(data, size, "tlsf", "fuzz_heap_tlsf");
}
