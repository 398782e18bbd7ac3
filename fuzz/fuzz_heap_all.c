/* fuzz_heap_all.c - the same operation stream on every heap policy, one after
 * another, each checked by the heap fuzzing engine (heap_fuzz.c). With
 * VRAM_FUZZ_TO_TRACE set, the trace is that of the policy named by
 * VRAM_FUZZ_POLICY (default bestfit), and only that policy runs. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "heap_fuzz.h"
#include "vram/heap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *traced = getenv("VRAM_FUZZ_TO_TRACE") ? getenv("VRAM_FUZZ_POLICY") : NULL;
    if (getenv("VRAM_FUZZ_TO_TRACE") && (!traced || !*traced))
        traced = "bestfit";
    for (const char *const *p = vram_heap_policy_names; *p; p++)
        if (!traced || strcmp(traced, *p) == 0)
            fz_heap_run(data, size, *p, "fuzz_heap_all");
    return 0;
}
