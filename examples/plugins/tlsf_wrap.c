/* tlsf_wrap.c - libvram's built-in "tlsf" policy behind the plugin ABI
 * (vram/plugin.h): every entry forwards to the vram_heap_* call, so a replay of
 * `--policy tlsf,plugin:./libvram_tlsf_wrap.so` places every block at the same
 * offset in both runs, and the difference in events/s is the cost of the ABI
 * and of the bench's validation of each answer (BENCHMARKS.md, "The plugin
 * ABI's cost").
 *
 * The library is built from libvram's sources with hidden visibility
 * (examples/CMakeLists.txt): it exports vram_plugin_entry only, and its copy of
 * libvram is its own. TLSF rounds every size up to the minimum alignment,
 * which alloc reports as the block size. */
#include <stdlib.h>
#include <string.h>

#include "vram/heap.h"
#include "vram/plugin.h"

typedef struct wrap {
    vram_heap *h;
    uint64_t min_align;
} wrap;

static vram_status tw_create(const vram_plugin_config *cfg, void **impl)
{
    wrap *w = calloc(1, sizeof *w);
    if (!w)
        return VRAM_ENOHOST;
    vram_heap_config hc = {.capacity = cfg->capacity, .min_align = cfg->min_align};
    vram_status st = vram_heap_create(vram_heap_policy("tlsf"), &hc, &w->h);
    if (st) {
        free(w);
        return st;
    }
    w->min_align = vram_heap_min_align(w->h);
    *impl = w;
    return VRAM_OK;
}

static void tw_destroy(void *impl)
{
    wrap *w = impl;
    vram_heap_destroy(w->h);
    free(w);
}

static vram_status tw_alloc(void *impl, uint64_t size, uint64_t align, uint64_t *offset,
                            uint64_t *block_size)
{
    wrap *w = impl;
    vram_status st = vram_heap_alloc(w->h, size, align, offset);
    if (st == VRAM_OK)
        *block_size = (size + w->min_align - 1) & ~(w->min_align - 1);
    return st;
}

static vram_status tw_free(void *impl, uint64_t offset)
{
    return vram_heap_free(((wrap *)impl)->h, offset);
}

static vram_status tw_grow(void *impl, uint64_t bytes)
{
    return vram_heap_grow(((wrap *)impl)->h, bytes);
}

static vram_status tw_free_batch(void *impl, size_t n, const uint64_t *offsets)
{
    return vram_heap_free_batch(((wrap *)impl)->h, n, offsets);
}

static void tw_stats(const void *impl, vram_plugin_stats *out)
{
    vram_heap_stats s;
    vram_heap_stats_get(((const wrap *)impl)->h, &s);
    out->in_use = s.in_use;
    out->largest_free = s.largest_free;
    out->free_blocks = s.free_blocks;
}

typedef struct walk_ctx {
    vram_plugin_walk_fn fn;
    void *ctx;
} walk_ctx;

static int tw_visit(const vram_block_info *b, void *ctx)
{
    walk_ctx *w = ctx;
    vram_plugin_block blk = {b->offset, b->size, b->used ? 1u : 0u, 0};
    return w->fn(w->ctx, &blk);
}

static vram_status tw_walk(const void *impl, vram_plugin_walk_fn fn, void *ctx)
{
    walk_ctx w = {fn, ctx};
    return vram_heap_walk(((const wrap *)impl)->h, tw_visit, &w);
}

static vram_status tw_check(const void *impl, char *msg, size_t msglen)
{
    return vram_heap_check(((const wrap *)impl)->h, msg, msglen);
}

static const vram_plugin_ops tlsf_wrap_ops = {
    .version = VRAM_PLUGIN_VERSION,
    .size = sizeof(vram_plugin_ops),
    .name = "tlsf_wrap",
    .create = tw_create,
    .destroy = tw_destroy,
    .alloc = tw_alloc,
    .free = tw_free,
    .grow = tw_grow,
    .free_batch = tw_free_batch,
    .stats = tw_stats,
    .walk = tw_walk,
    .check = tw_check,
};

VRAM_PLUGIN_EXPORT const vram_plugin_ops *vram_plugin_entry(uint32_t host_version,
                                                            const char *name)
{
    (void)host_version;
    if (name && strcmp(name, "tlsf_wrap") != 0)
        return NULL;
    return &tlsf_wrap_ops;
}
