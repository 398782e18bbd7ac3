/* heap_buddy.c - PLACEHOLDER until the buddy policy lands: every create fails. */
#include "heap_internal.h"

static vram_status ph_create(const vram_heap_config *cfg, void **impl)
{
    (void)cfg;
    (void)impl;
    return VRAM_EUNSUPPORTED;
}

const vram_heap_ops vram__heap_buddy_ops = {.name = "buddy", .create = ph_create};
