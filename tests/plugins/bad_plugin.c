/* bad_plugin.c - a plugin library whose tables break the ABI one way each,
 * for test_plugin: vram_plugin_entry(version, NAME) returns the table NAME
 * asks for, and NULL for no name (no default allocator). "bump" is the one
 * good table: a bump allocator that never reuses memory (correct, if useless). */
#include <stdlib.h>
#include <string.h>

#include "vram/plugin.h"

typedef struct bump {
    uint64_t next, capacity;
} bump;

static vram_status bump_create(const vram_plugin_config *cfg, void **impl)
{
    bump *b = calloc(1, sizeof *b);
    if (!b)
        return VRAM_ENOHOST;
    b->capacity = cfg->capacity;
    *impl = b;
    return VRAM_OK;
}

static void bump_destroy(void *impl) { free(impl); }

static vram_status bump_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                              uint64_t *block_size)
{
    bump *b = impl;
    uint64_t off = (b->next + align - 1) & ~(align - 1);
    if (off > b->capacity || size > b->capacity - off)
        return VRAM_ENOMEM;
    b->next = off + size;
    *offset = off;
    (void)block_size;
    return VRAM_OK;
}

static vram_status bump_free(void *impl, uint64_t offset)
{
    (void)impl;
    (void)offset;
    return VRAM_OK;
}

#define GOOD(NAME)                                                                         \
    {.version = VRAM_PLUGIN_VERSION, .size = sizeof(vram_plugin_ops), .name = NAME,        \
     .create = bump_create, .destroy = bump_destroy, .alloc = bump_alloc, .free = bump_free}

static vram_plugin_ops tables[] = {
    GOOD("bump"), GOOD("version0"), GOOD("version2"), GOOD("small"), GOOD(NULL),
    GOOD("bad name!"), GOOD("somebody-else"), GOOD("nocreate"), GOOD("nodestroy"),
    GOOD("noalloc"), GOOD("nofree"),
};

/* The names a test asks for, in the order of tables[]. */
static const char *const asked[] = {
    "bump", "version0", "version2", "small", "noname", "badname", "othername",
    "nocreate", "nodestroy", "noalloc", "nofree",
};

VRAM_PLUGIN_EXPORT const vram_plugin_ops *vram_plugin_entry(uint32_t host_version,
                                                            const char *name)
{
    (void)host_version;
    if (!name)
        return NULL;
    tables[1].version = 0;
    tables[2].version = VRAM_PLUGIN_VERSION + 1;
    tables[3].size = (uint32_t)offsetof(vram_plugin_ops, check);
    tables[7].create = NULL;
    tables[8].destroy = NULL;
    tables[9].alloc = NULL;
    tables[10].free = NULL;
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++)
        if (strcmp(asked[i], name) == 0)
            return &tables[i];
    return NULL;
}
