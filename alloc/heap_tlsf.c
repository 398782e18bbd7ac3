/* heap_tlsf.c - PLACEHOLDER until the tlsf policy lands: every create fails. */
#include "heap_internal.h"

static vram_status ph_create(const vram_heap_config *cfg, void **impl)
{
    (void)cfg;
    (void)impl;
    return VRAM_EUNSUPPORTED;
}

const vram_heap_ops vram__heap_tlsf_ops = {.name = "tlsf", .create = ph_create};
