/* tensor_cache.c - idle device buffers by tensor shape (vram/tensor_cache.h):
 * element sizes, shape bytes, and the cache's calls. State and invariants:
 * tensor_cache_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "tensor_cache_internal.h"

static const struct {
    const char *name;
    uint64_t size;
} dtype_table[VRAM_DTYPE_COUNT] = {
    [VRAM_DTYPE_F32] = {"f32", 4}, [VRAM_DTYPE_F16] = {"f16", 2}, [VRAM_DTYPE_BF16] = {"bf16", 2},
    [VRAM_DTYPE_FP8] = {"fp8", 1}, [VRAM_DTYPE_F64] = {"f64", 8}, [VRAM_DTYPE_I64] = {"i64", 8},
    [VRAM_DTYPE_I32] = {"i32", 4}, [VRAM_DTYPE_I16] = {"i16", 2}, [VRAM_DTYPE_I8] = {"i8", 1},
    [VRAM_DTYPE_U8] = {"u8", 1},   [VRAM_DTYPE_BOOL] = {"bool", 1},
};

uint64_t vram_dtype_size(vram_dtype dtype)
{
    return (unsigned)dtype < VRAM_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

const char *vram_dtype_name(vram_dtype dtype)
{
    return (unsigned)dtype < VRAM_DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

vram_status vram_tensor_bytes(const vram_tensor_shape *shape, uint64_t *bytes)
{
    if (!shape || !bytes || shape->ndim > VRAM_TENSOR_MAX_DIMS || !vram_dtype_size(shape->dtype))
        return VRAM_EINVAL;
    uint64_t n = vram_dtype_size(shape->dtype);
    for (uint32_t i = 0; i < shape->ndim; i++) {
        if (!shape->dims[i])
            return VRAM_EINVAL;
        if (n > UINT64_MAX / shape->dims[i])
            return VRAM_EOVERFLOW;
        n *= shape->dims[i];
    }
    *bytes = n;
    return VRAM_OK;
}

/* Validates shape and finds or makes its entry with room for `extra` buffers. */
static vram_status prepare(vram_tensor_cache *tc, const vram_tensor_shape *shape, size_t extra,
                           tc_entry **out)
{
    uint64_t bytes;
    vram_status st = vram_tensor_bytes(shape, &bytes);
    if (st)
        return st;
    vram_tensor_shape k = vram__tc_normalise(shape);
    st = vram__tc_entry_get(tc, &k, bytes, out);
    return st ? st : vram__tc_entry_reserve(tc, *out, extra);
}

static void count_shapes(vram_tensor_cache *tc, const tc_entry *e, int delta)
{
    if (delta > 0 && e->nidle + e->nout == 1)
        tc->st.shapes++;
    if (delta < 0 && e->nidle + e->nout == 0)
        tc->st.shapes--;
}

static void add_idle(vram_tensor_cache *tc, tc_entry *e, uint64_t offset)
{
    e->idle[e->nidle++] = offset;
    vram__tc_buf_put(tc, offset, vram__tc_entry_index(tc, e), BUF_IDLE);
    tc->st.idle_bytes += e->bytes;
    tc->st.idle_buffers++;
    count_shapes(tc, e, +1);
}

vram_status vram_tensor_cache_create(vram_heap *heap, const vram_tensor_cache_config *cfg,
                                     vram_tensor_cache **out)
{
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    if (!heap || !cfg || !cfg->limit_bytes || (cfg->align && !vram__is_pow2(cfg->align)))
        return VRAM_EINVAL;
    vram_tensor_cache *tc = calloc(1, sizeof *tc);
    if (!tc)
        return VRAM_ENOHOST;
    tc->heap = heap;
    tc->limit = cfg->limit_bytes;
    tc->align = cfg->align;
    tc->st.limit_bytes = cfg->limit_bytes;
    *out = tc;
    return VRAM_OK;
}

void vram_tensor_cache_destroy(vram_tensor_cache *tc)
{
    if (!tc)
        return;
    for (size_t i = 0; i < tc->bufcap; i++)
        if (tc->bufs[i].state)
            vram_heap_free(tc->heap, tc->bufs[i].offset);
    for (size_t e = 0; e < tc->nentries; e++)
        free(tc->entries[e].idle);
    free(tc->entries);
    free(tc->slots);
    free(tc->bufs);
    free(tc);
}

vram_status vram_tensor_cache_reserve(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                      uint32_t count)
{
    if (!tc || !count)
        return VRAM_EINVAL;
    tc_entry *e;
    vram_status st = prepare(tc, shape, count, &e);
    if (st)
        return st;
    uint64_t held = tc->st.idle_bytes + tc->st.out_bytes;
    if (e->bytes > (tc->limit - held) / count)
        return VRAM_ENOMEM;
    uint64_t *offs = malloc(count * sizeof *offs);
    if (!offs)
        return VRAM_ENOHOST;
    for (uint32_t i = 0; i < count; i++) {
        st = vram_heap_alloc(tc->heap, e->bytes, tc->align, &offs[i]);
        if (st) {
            while (i--)
                vram_heap_free(tc->heap, offs[i]);
            free(offs);
            return st;
        }
    }
    for (uint32_t i = 0; i < count; i++)
        add_idle(tc, e, offs[i]);
    free(offs);
    return VRAM_OK;
}

vram_status vram_tensor_cache_acquire(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                      uint64_t *offset)
{
    uint64_t bytes;
    if (!tc || !offset)
        return VRAM_EINVAL;
    vram_status st = vram_tensor_bytes(shape, &bytes);
    if (st)
        return st;
    vram_tensor_shape k = vram__tc_normalise(shape);
    tc_entry *e = vram__tc_entry_find(tc, &k);
    if (!e || !e->nidle) {
        tc->st.misses++;
        return VRAM_ENOTFOUND;
    }
    uint64_t off = e->idle[--e->nidle];
    e->nout++;
    vram__tc_buf_find(tc, off)->state = BUF_OUT;
    tc->st.hits++;
    tc->st.idle_bytes -= e->bytes;
    tc->st.idle_buffers--;
    tc->st.out_bytes += e->bytes;
    tc->st.out_buffers++;
    *offset = off;
    return VRAM_OK;
}

vram_status vram_tensor_cache_release(vram_tensor_cache *tc, uint64_t offset)
{
    if (!tc)
        return VRAM_EINVAL;
    tc_buf *b = vram__tc_buf_find(tc, offset);
    if (!b)
        return VRAM_ENOTFOUND;
    if (b->state == BUF_IDLE)
        return VRAM_EDOUBLEFREE;
    tc_entry *e = &tc->entries[b->entry];
    b->state = BUF_IDLE;
    e->nout--;
    e->idle[e->nidle++] = offset; /* cap >= nidle + nout: no allocation */
    tc->st.out_bytes -= e->bytes;
    tc->st.out_buffers--;
    tc->st.idle_bytes += e->bytes;
    tc->st.idle_buffers++;
    return VRAM_OK;
}

vram_status vram_tensor_cache_adopt(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                    uint64_t offset)
{
    if (!tc)
        return VRAM_EINVAL;
    uint64_t bytes;
    vram_status st = vram_tensor_bytes(shape, &bytes);
    if (st)
        return st;
    if (vram__tc_buf_find(tc, offset))
        return VRAM_EBUSY;
    if (bytes > tc->limit - tc->st.idle_bytes - tc->st.out_bytes) {
        tc->st.refused++;
        return VRAM_ENOMEM;
    }
    tc_entry *e;
    st = prepare(tc, shape, 1, &e);
    if (st)
        return st;
    add_idle(tc, e, offset);
    tc->st.adopted++;
    return VRAM_OK;
}

/* Frees e's idle buffers to the heap, newest first. */
static vram_status trim_entry(vram_tensor_cache *tc, tc_entry *e, uint64_t *freed)
{
    while (e->nidle) {
        uint64_t off = e->idle[e->nidle - 1];
        vram_status st = vram_heap_free(tc->heap, off);
        if (st)
            return st;
        e->nidle--;
        vram__tc_buf_del(tc, vram__tc_buf_find(tc, off));
        tc->st.idle_bytes -= e->bytes;
        tc->st.idle_buffers--;
        count_shapes(tc, e, -1);
        *freed += e->bytes;
    }
    return VRAM_OK;
}

vram_status vram_tensor_cache_trim(vram_tensor_cache *tc, const vram_tensor_shape *shape,
                                   uint64_t *freed)
{
    uint64_t total = 0;
    vram_status st = VRAM_OK;
    if (!tc)
        return VRAM_EINVAL;
    if (shape) {
        uint64_t bytes;
        st = vram_tensor_bytes(shape, &bytes);
        if (st)
            return st;
        vram_tensor_shape k = vram__tc_normalise(shape);
        tc_entry *e = vram__tc_entry_find(tc, &k);
        if (e)
            st = trim_entry(tc, e, &total);
    } else {
        for (size_t i = 0; i < tc->nentries && !st; i++)
            st = trim_entry(tc, &tc->entries[i], &total);
    }
    if (freed)
        *freed = total;
    return st;
}

void vram_tensor_cache_stats_get(const vram_tensor_cache *tc, vram_tensor_cache_stats *out)
{
    *out = tc->st;
}
