/* kind.c - names of the buffer kinds (vram_kind), as traces and reports spell them. */
#include <string.h>

#include "vram/manager.h"

static const char *const kind_names[VRAM_KIND_COUNT] = {
    [VRAM_KIND_WEIGHT] = "weight",         [VRAM_KIND_KV] = "kv",
    [VRAM_KIND_ACTIVATION] = "activation", [VRAM_KIND_WORKSPACE] = "workspace",
    [VRAM_KIND_ADAPTER] = "adapter",       [VRAM_KIND_OTHER] = "other",
};

const char *vram_kind_name(vram_kind k)
{
    if ((unsigned)k >= VRAM_KIND_COUNT)
        return "unknown";
    return kind_names[k];
}

vram_status vram_kind_parse(const char *name, vram_kind *out)
{
    if (!name || !out)
        return VRAM_EINVAL;
    for (int k = 0; k < VRAM_KIND_COUNT; k++)
        if (strcmp(kind_names[k], name) == 0) {
            *out = (vram_kind)k;
            return VRAM_OK;
        }
    return VRAM_ENOTFOUND;
}
