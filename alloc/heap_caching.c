/* heap_caching.c - PLACEHOLDER until the caching policy lands: every create fails. */
#include "heap_internal.h"

static vram_status ph_create(const vram_heap_config *cfg, void **impl)
{
    (void)cfg;
    (void)impl;
    return VRAM_EUNSUPPORTED;
}

const vram_heap_ops vram__heap_caching_ops = {.name = "caching", .create = ph_create};
