/* firstfit.c - a first-fit allocator as a vramlab plugin (vram/plugin.h), in
 * plain C, written to be read: the smallest complete plugin, with every
 * optional entry.
 *
 * The state is one array of blocks in address order that tiles [0, capacity):
 * used and free blocks alike, no two free blocks adjacent (a free merges with
 * its free neighbours). alloc takes the first free block that holds the size,
 * rounded up to the minimum alignment, at an aligned start inside it; the
 * padding in front stays a free block, the rest after it too.
 *
 * Costs: alloc O(n) (the first-fit scan, and an insertion into the array),
 * free O(log n) to find the block plus O(n) to close the array. Fine for tests
 * and traces of a few thousand live blocks; for a million-event replay see
 * segfit.cpp (O(log n)) or tlsf_wrap.c.
 *
 * Build: cc -O2 -shared -fPIC -fvisibility=hidden -I PREFIX/include firstfit.c
 *        -o libvram_firstfit.so; run: replay --policy plugin:./libvram_firstfit.so TRACE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vram/plugin.h"

typedef struct ff_block {
    uint64_t offset, size;
    int used;
} ff_block;

typedef struct ff_heap {
    ff_block *b; /* blocks in address order, tiling [0, capacity) */
    size_t n, cap;
    uint64_t capacity, min_align, in_use;
} ff_heap;

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* Room for `more` blocks; VRAM_ENOHOST with nothing changed when malloc fails. */
static vram_status reserve(ff_heap *h, size_t more)
{
    if (h->n + more <= h->cap)
        return VRAM_OK;
    size_t cap = h->cap ? h->cap * 2 : 64;
    while (cap < h->n + more)
        cap *= 2;
    ff_block *b = realloc(h->b, cap * sizeof *b);
    if (!b)
        return VRAM_ENOHOST;
    h->b = b;
    h->cap = cap;
    return VRAM_OK;
}

static void insert_at(ff_heap *h, size_t i, ff_block blk)
{
    memmove(&h->b[i + 1], &h->b[i], (h->n - i) * sizeof *h->b);
    h->b[i] = blk;
    h->n++;
}

static void remove_at(ff_heap *h, size_t i)
{
    memmove(&h->b[i], &h->b[i + 1], (h->n - i - 1) * sizeof *h->b);
    h->n--;
}

static vram_status ff_create(const vram_plugin_config *cfg, void **impl)
{
    ff_heap *h = calloc(1, sizeof *h);
    if (!h || reserve(h, 1)) {
        free(h);
        return VRAM_ENOHOST;
    }
    h->capacity = cfg->capacity;
    h->min_align = cfg->min_align;
    h->b[h->n++] = (ff_block){0, cfg->capacity, 0};
    *impl = h;
    return VRAM_OK;
}

static void ff_destroy(void *impl)
{
    ff_heap *h = impl;
    free(h->b);
    free(h);
}

static vram_status ff_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                            uint64_t *block_size)
{
    ff_heap *h = impl;
    uint64_t bytes = align_up(size, h->min_align);
    if (reserve(h, 2))
        return VRAM_ENOHOST;
    for (size_t i = 0; i < h->n; i++) {
        ff_block *f = &h->b[i];
        if (f->used)
            continue;
        uint64_t start = align_up(f->offset, align), end = f->offset + f->size;
        if (start >= end || end - start < bytes)
            continue;
        ff_block used = {start, bytes, 1};
        if (end - start > bytes) /* the tail stays free */
            insert_at(h, i + 1, (ff_block){start + bytes, end - start - bytes, 0});
        if (start > f->offset) { /* so does the padding in front */
            h->b[i].size = start - h->b[i].offset;
            insert_at(h, i + 1, used);
        } else {
            h->b[i] = used;
        }
        h->in_use += bytes;
        *offset = start;
        *block_size = bytes;
        return VRAM_OK;
    }
    return VRAM_ENOMEM;
}

/* The index of the block starting at offset (binary search), or h->n. */
static size_t find(const ff_heap *h, uint64_t offset)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->b[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < h->n && h->b[lo].offset == offset ? lo : h->n;
}

static vram_status ff_free(void *impl, uint64_t offset)
{
    ff_heap *h = impl;
    size_t i = find(h, offset);
    if (i == h->n || !h->b[i].used)
        return VRAM_ENOTFOUND; /* the host never asks; a plugin may still say */
    h->in_use -= h->b[i].size;
    h->b[i].used = 0;
    if (i + 1 < h->n && !h->b[i + 1].used) { /* merge the next free block */
        h->b[i].size += h->b[i + 1].size;
        remove_at(h, i + 1);
    }
    if (i > 0 && !h->b[i - 1].used) { /* and merge into the previous one */
        h->b[i - 1].size += h->b[i].size;
        remove_at(h, i);
    }
    return VRAM_OK;
}

static vram_status ff_grow(void *impl, uint64_t bytes)
{
    ff_heap *h = impl;
    if (reserve(h, 1))
        return VRAM_ENOHOST;
    if (!h->b[h->n - 1].used)
        h->b[h->n - 1].size += bytes;
    else
        h->b[h->n++] = (ff_block){h->capacity, bytes, 0};
    h->capacity += bytes;
    return VRAM_OK;
}

static void ff_stats(const void *impl, vram_plugin_stats *out)
{
    const ff_heap *h = impl;
    out->in_use = h->in_use;
    out->largest_free = 0;
    out->free_blocks = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!h->b[i].used) {
            out->free_blocks++;
            if (h->b[i].size > out->largest_free)
                out->largest_free = h->b[i].size;
        }
}

static vram_status ff_walk(const void *impl, vram_plugin_walk_fn fn, void *ctx)
{
    const ff_heap *h = impl;
    for (size_t i = 0; i < h->n; i++) {
        vram_plugin_block blk = {h->b[i].offset, h->b[i].size, (uint32_t)h->b[i].used, 0};
        if (fn(ctx, &blk))
            break;
    }
    return VRAM_OK;
}

/* The invariants: blocks tile [0, capacity), no two free blocks touch, the
 * used bytes add up to in_use. */
static vram_status ff_check(const void *impl, char *msg, size_t msglen)
{
    const ff_heap *h = impl;
    uint64_t pos = 0, used = 0;
    for (size_t i = 0; i < h->n; i++) {
        const ff_block *f = &h->b[i];
        if (f->offset != pos || f->size == 0) {
            snprintf(msg, msglen, "block %zu at %llu does not follow the previous (end %llu)", i,
                     (unsigned long long)f->offset, (unsigned long long)pos);
            return VRAM_ECORRUPT;
        }
        if (i > 0 && !f->used && !h->b[i - 1].used) {
            snprintf(msg, msglen, "free blocks at %llu and %llu should have merged",
                     (unsigned long long)h->b[i - 1].offset, (unsigned long long)f->offset);
            return VRAM_ECORRUPT;
        }
        pos += f->size;
        used += f->used ? f->size : 0;
    }
    if (pos != h->capacity || used != h->in_use) {
        snprintf(msg, msglen, "blocks end at %llu (capacity %llu), used %llu (in_use %llu)",
                 (unsigned long long)pos, (unsigned long long)h->capacity,
                 (unsigned long long)used, (unsigned long long)h->in_use);
        return VRAM_ECORRUPT;
    }
    return VRAM_OK;
}

static const vram_plugin_ops firstfit_ops = {
    .version = VRAM_PLUGIN_VERSION,
    .size = sizeof(vram_plugin_ops),
    .name = "firstfit",
    .create = ff_create,
    .destroy = ff_destroy,
    .alloc = ff_alloc,
    .free = ff_free,
    .grow = ff_grow,
    .stats = ff_stats,
    .walk = ff_walk,
    .check = ff_check,
};

VRAM_PLUGIN_EXPORT const vram_plugin_ops *vram_plugin_entry(uint32_t host_version,
                                                            const char *name)
{
    (void)host_version; /* version 1 is the first: every host reads it */
    if (name && strcmp(name, "firstfit") != 0)
        return NULL;
    return &firstfit_ops;
}
