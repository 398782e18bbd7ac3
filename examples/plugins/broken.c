/* broken.c - a first-fit plugin with three deliberate bugs, one per NAME, for
 * showing (and testing) that the bench catches a plugin that breaks the heap
 * contract, whatever the plugin itself believes:
 *
 *   plugin:libvram_broken.so:overlap    (the default) freeing a block that
 *       merges into the free block before it adds one alignment unit too many,
 *       so the merged free block runs into the next block; the next allocation
 *       that reaches its end overlaps a live block;
 *   plugin:libvram_broken.so:misalign   alloc ignores any alignment above the
 *       minimum;
 *   plugin:libvram_broken.so:wrongfree  free releases the used block after the
 *       one asked for, when there is one (an off-by-one in the lookup).
 *
 * The structure is firstfit.c's (blocks in address order tiling the range),
 * with walk (so the bench's cross-check sees the wrong free at once) and
 * neither stats nor check: the plugin has no idea anything is wrong. */
#include <stdlib.h>
#include <string.h>

#include "vram/plugin.h"

enum bug { OVERLAP, MISALIGN, WRONGFREE };

typedef struct bk_block {
    uint64_t offset, size;
    int used;
} bk_block;

typedef struct bk_heap {
    enum bug bug;
    bk_block *b;
    size_t n, cap;
    uint64_t min_align;
} bk_heap;

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static vram_status create(enum bug bug, const vram_plugin_config *cfg, void **impl)
{
    bk_heap *h = calloc(1, sizeof *h);
    if (!h || !(h->b = malloc(64 * sizeof *h->b))) {
        free(h);
        return VRAM_ENOHOST;
    }
    h->bug = bug;
    h->cap = 64;
    h->min_align = cfg->min_align;
    h->b[h->n++] = (bk_block){0, cfg->capacity, 0};
    *impl = h;
    return VRAM_OK;
}

static vram_status create_overlap(const vram_plugin_config *c, void **i) { return create(OVERLAP, c, i); }
static vram_status create_misalign(const vram_plugin_config *c, void **i) { return create(MISALIGN, c, i); }
static vram_status create_wrongfree(const vram_plugin_config *c, void **i) { return create(WRONGFREE, c, i); }

static void destroy(void *impl)
{
    bk_heap *h = impl;
    free(h->b);
    free(h);
}

static void insert_at(bk_heap *h, size_t i, bk_block blk)
{
    memmove(&h->b[i + 1], &h->b[i], (h->n - i) * sizeof *h->b);
    h->b[i] = blk;
    h->n++;
}

static void remove_at(bk_heap *h, size_t i)
{
    memmove(&h->b[i], &h->b[i + 1], (h->n - i - 1) * sizeof *h->b);
    h->n--;
}

static vram_status alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                         uint64_t *block_size)
{
    bk_heap *h = impl;
    if (h->n + 2 > h->cap) {
        bk_block *b = realloc(h->b, 2 * h->cap * sizeof *b);
        if (!b)
            return VRAM_ENOHOST;
        h->b = b;
        h->cap *= 2;
    }
    if (h->bug == MISALIGN)
        align = h->min_align; /* the bug */
    uint64_t bytes = align_up(size, h->min_align);
    for (size_t i = 0; i < h->n; i++) {
        bk_block *f = &h->b[i];
        uint64_t start = align_up(f->offset, align), end = f->offset + f->size;
        if (f->used || start >= end || end - start < bytes)
            continue;
        if (end - start > bytes)
            insert_at(h, i + 1, (bk_block){start + bytes, end - start - bytes, 0});
        if (start > f->offset) {
            h->b[i].size = start - h->b[i].offset;
            insert_at(h, i + 1, (bk_block){start, bytes, 1});
        } else {
            h->b[i] = (bk_block){start, bytes, 1};
        }
        *offset = start;
        *block_size = bytes;
        return VRAM_OK;
    }
    return VRAM_ENOMEM;
}

static vram_status release(void *impl, uint64_t offset)
{
    bk_heap *h = impl;
    size_t i = 0;
    while (i < h->n && h->b[i].offset != offset)
        i++;
    if (h->bug == WRONGFREE && i + 1 < h->n && h->b[i + 1].used)
        i++; /* the bug */
    if (i == h->n || !h->b[i].used)
        return VRAM_ENOTFOUND;
    h->b[i].used = 0;
    if (i + 1 < h->n && !h->b[i + 1].used) {
        h->b[i].size += h->b[i + 1].size;
        remove_at(h, i + 1);
    }
    if (i > 0 && !h->b[i - 1].used) {
        h->b[i - 1].size += h->b[i].size + (h->bug == OVERLAP ? h->min_align : 0); /* the bug */
        remove_at(h, i);
    }
    return VRAM_OK;
}

static vram_status walk(const void *impl, vram_plugin_walk_fn fn, void *ctx)
{
    const bk_heap *h = impl;
    for (size_t i = 0; i < h->n; i++) {
        vram_plugin_block blk = {h->b[i].offset, h->b[i].size, (uint32_t)h->b[i].used, 0};
        if (fn(ctx, &blk))
            break;
    }
    return VRAM_OK;
}

#define BROKEN(NAME, CREATE)                                                               \
    {.version = VRAM_PLUGIN_VERSION, .size = sizeof(vram_plugin_ops), .name = NAME,        \
     .create = CREATE, .destroy = destroy, .alloc = alloc, .free = release, .walk = walk}

static const vram_plugin_ops tables[] = {
    BROKEN("overlap", create_overlap),
    BROKEN("misalign", create_misalign),
    BROKEN("wrongfree", create_wrongfree),
};

VRAM_PLUGIN_EXPORT const vram_plugin_ops *vram_plugin_entry(uint32_t host_version,
                                                            const char *name)
{
    (void)host_version;
    if (!name)
        return &tables[0];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}
