/* tensor_cache_check.c - vram_tensor_cache_check: the invariants of
 * tensor_cache_internal.h, and every buffer a live heap block of its size. */
#include <inttypes.h>

#include "tensor_cache_internal.h"

typedef struct walk_ctx {
    const vram_tensor_cache *tc;
    uint64_t found;
    uint64_t bad_offset; /* UINT64_MAX while every buffer checked is large enough */
} walk_ctx;

static int walk_buffer(const vram_block_info *b, void *ctx)
{
    walk_ctx *w = ctx;
    if (!b->used)
        return 0;
    const tc_buf *buf = vram__tc_buf_find(w->tc, b->offset);
    if (!buf)
        return 0;
    w->found++;
    if (b->size < w->tc->entries[buf->entry].bytes) {
        w->bad_offset = b->offset;
        return 1;
    }
    return 0;
}

static vram_status check_entries(const vram_tensor_cache *tc, char *msg, size_t len)
{
    uint64_t idle = 0, out = 0, nidle = 0, nout = 0, shapes = 0, table_idle = 0;
    for (size_t i = 0; i < tc->nentries; i++) {
        const tc_entry *e = &tc->entries[i];
        if (e->nidle + e->nout > e->cap)
            return vram__violation(msg, len, "shape %zu: %zu buffers but room for %zu", i,
                                   e->nidle + e->nout, e->cap);
        for (size_t j = 0; j < e->nidle; j++) {
            const tc_buf *b = vram__tc_buf_find(tc, e->idle[j]);
            if (!b || b->state != BUF_IDLE || b->entry != i)
                return vram__violation(msg, len, "idle buffer at %" PRIu64 " of shape %zu"
                                       " is not an idle buffer of it in the table", e->idle[j], i);
        }
        idle += e->nidle * e->bytes;
        out += e->nout * e->bytes;
        nidle += e->nidle;
        nout += e->nout;
        shapes += e->nidle + e->nout > 0;
    }
    for (size_t i = 0; i < tc->bufcap; i++)
        table_idle += tc->bufs[i].state == BUF_IDLE;
    if (nidle + nout != tc->nbufs || table_idle != nidle)
        return vram__violation(msg, len, "%zu buffers in the table (%" PRIu64 " idle), the shapes"
                               " hold %" PRIu64 " idle and %" PRIu64 " out", tc->nbufs, table_idle,
                               nidle, nout);
    if (idle != tc->st.idle_bytes || out != tc->st.out_bytes || nidle != tc->st.idle_buffers ||
        nout != tc->st.out_buffers || shapes != tc->st.shapes)
        return vram__violation(msg, len, "counters disagree with the buffers (idle %" PRIu64
                               " vs %" PRIu64 " bytes, out %" PRIu64 " vs %" PRIu64 " bytes)",
                               tc->st.idle_bytes, idle, tc->st.out_bytes, out);
    if (idle + out > tc->limit)
        return vram__violation(msg, len, "%" PRIu64 " bytes held over the limit of %" PRIu64,
                               idle + out, tc->limit);
    return VRAM_OK;
}

vram_status vram_tensor_cache_check(const vram_tensor_cache *tc, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    vram_status st = check_entries(tc, msg, msglen);
    if (st)
        return st;
    walk_ctx w = {.tc = tc, .bad_offset = UINT64_MAX};
    st = vram_heap_walk(tc->heap, walk_buffer, &w);
    if (st)
        return st;
    if (w.bad_offset != UINT64_MAX)
        return vram__violation(msg, msglen, "buffer at %" PRIu64 " is a heap block smaller than"
                               " its shape", w.bad_offset);
    if (w.found != tc->nbufs)
        return vram__violation(msg, msglen, "%" PRIu64 " of %zu buffers are live heap blocks",
                               w.found, tc->nbufs);
    return VRAM_OK;
}
