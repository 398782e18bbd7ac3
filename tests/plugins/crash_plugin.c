/* crash_plugin.c - a bump allocator that misbehaves at its 5th allocation, one
 * way per NAME, for `replay --isolate`: "segv" writes through a null pointer,
 * "abort" calls abort(), "exit" calls exit(7), "hang" sleeps for ever. The
 * first four allocations (and every free) are correct. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vram/plugin.h"

enum way { SEGV, ABORT, EXIT, HANG };

typedef struct bump {
    enum way way;
    uint64_t next, capacity, allocs;
    int *nowhere; /* NULL */
} bump;

static vram_status create(enum way way, const vram_plugin_config *cfg, void **impl)
{
    bump *b = calloc(1, sizeof *b);
    if (!b)
        return VRAM_ENOHOST;
    b->way = way;
    b->capacity = cfg->capacity;
    *impl = b;
    return VRAM_OK;
}

static vram_status create_segv(const vram_plugin_config *c, void **i) { return create(SEGV, c, i); }
static vram_status create_abort(const vram_plugin_config *c, void **i) { return create(ABORT, c, i); }
static vram_status create_exit(const vram_plugin_config *c, void **i) { return create(EXIT, c, i); }
static vram_status create_hang(const vram_plugin_config *c, void **i) { return create(HANG, c, i); }

static void destroy(void *impl) { free(impl); }

static vram_status alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                         uint64_t *block_size)
{
    bump *b = impl;
    (void)block_size;
    if (++b->allocs == 5) {
        switch (b->way) {
        case SEGV:
            *(volatile int *)b->nowhere = 1;
            break;
        case ABORT:
            abort();
        case EXIT:
            exit(7);
        case HANG:
            for (;;)
                sleep(1);
        }
    }
    uint64_t off = (b->next + align - 1) & ~(align - 1);
    if (off > b->capacity || size > b->capacity - off)
        return VRAM_ENOMEM;
    b->next = off + size;
    *offset = off;
    return VRAM_OK;
}

static vram_status release(void *impl, uint64_t offset)
{
    (void)impl;
    (void)offset;
    return VRAM_OK;
}

#define WAY(NAME, CREATE)                                                                  \
    {.version = VRAM_PLUGIN_VERSION, .size = sizeof(vram_plugin_ops), .name = NAME,        \
     .create = CREATE, .destroy = destroy, .alloc = alloc, .free = release}

static const vram_plugin_ops tables[] = {
    WAY("segv", create_segv), WAY("abort", create_abort), WAY("exit", create_exit),
    WAY("hang", create_hang),
};

VRAM_PLUGIN_EXPORT const vram_plugin_ops *vram_plugin_entry(uint32_t host_version,
                                                            const char *name)
{
    (void)host_version;
    for (size_t i = 0; name && i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}
