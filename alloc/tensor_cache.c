/* tensor_cache.c - idle device buffers by tensor shape (vram/tensor_cache.h).
 *
 * Each distinct (dims, dtype) has an entry with a stack of its idle buffers;
 * entries are found through a hash table of entry indexes. Every buffer, idle or
 * handed out, is in the buffer table (offset -> entry, state). Invariants
 * (vram_tensor_cache_check verifies them): an entry's idle stack holds exactly
 * its buffers in state IDLE, and its capacity covers all of its buffers, so a
 * release never allocates; idle_bytes + out_bytes <= limit. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"
#include "vram/tensor_cache.h"

enum { BUF_EMPTY = 0, BUF_IDLE = 1, BUF_OUT = 2 };

typedef struct tc_entry {
    vram_tensor_shape shape; /* dims past ndim are zero */
    uint64_t bytes;
    uint64_t *idle;          /* offsets of idle buffers, a stack */
    size_t nidle, cap;       /* cap >= nidle + nout */
    size_t nout;
} tc_entry;

typedef struct tc_buf {
    uint64_t offset;
    uint32_t entry;
    uint32_t state;          /* BUF_EMPTY marks a free slot */
} tc_buf;

struct vram_tensor_cache {
    vram_heap *heap;
    uint64_t limit, align;
    tc_entry *entries;
    size_t nentries, entcap;
    uint32_t *slots;         /* entry index + 1; 0 = empty; capacity a power of two */
    size_t slotcap;
    tc_buf *bufs;            /* open addressing by offset, backward-shift delete */
    size_t bufcap, nbufs;
    vram_tensor_cache_stats st;
};

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

/* The key: ndim, dtype and the used dims, nothing past ndim. */
static vram_tensor_shape normalise(const vram_tensor_shape *s)
{
    vram_tensor_shape k = {.ndim = s->ndim, .dtype = s->dtype};
    memcpy(k.dims, s->dims, s->ndim * sizeof k.dims[0]);
    return k;
}

static uint64_t mix(uint64_t h, uint64_t x) { return (h ^ x) * UINT64_C(0x100000001b3); }

static size_t shape_hash(const vram_tensor_shape *k, size_t cap)
{
    uint64_t h = mix(mix(UINT64_C(0xcbf29ce484222325), k->ndim), (uint64_t)k->dtype);
    for (uint32_t i = 0; i < k->ndim; i++)
        h = mix(h, k->dims[i]);
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static int same_shape(const vram_tensor_shape *a, const vram_tensor_shape *b)
{
    return a->ndim == b->ndim && a->dtype == b->dtype &&
           memcmp(a->dims, b->dims, a->ndim * sizeof a->dims[0]) == 0;
}

static size_t buf_home(uint64_t offset, size_t cap)
{
    return (size_t)((offset * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (cap - 1);
}

static tc_buf *buf_find(const vram_tensor_cache *tc, uint64_t offset)
{
    if (!tc->bufcap)
        return NULL;
    for (size_t i = buf_home(offset, tc->bufcap); tc->bufs[i].state; i = (i + 1) & (tc->bufcap - 1))
        if (tc->bufs[i].offset == offset)
            return &tc->bufs[i];
    return NULL;
}

/* Room for `extra` more buffers at a load of at most 1/2. */
static vram_status buf_reserve(vram_tensor_cache *tc, size_t extra)
{
    if ((tc->nbufs + extra) * 2 <= tc->bufcap)
        return VRAM_OK;
    size_t cap = tc->bufcap ? tc->bufcap : 64;
    while ((tc->nbufs + extra) * 2 > cap)
        cap *= 2;
    tc_buf *b = calloc(cap, sizeof *b);
    if (!b)
        return VRAM_ENOHOST;
    for (size_t i = 0; i < tc->bufcap; i++) {
        if (!tc->bufs[i].state)
            continue;
        size_t j = buf_home(tc->bufs[i].offset, cap);
        while (b[j].state)
            j = (j + 1) & (cap - 1);
        b[j] = tc->bufs[i];
    }
    free(tc->bufs);
    tc->bufs = b;
    tc->bufcap = cap;
    return VRAM_OK;
}

static void buf_put(vram_tensor_cache *tc, uint64_t offset, uint32_t entry, uint32_t state)
{
    size_t i = buf_home(offset, tc->bufcap);
    while (tc->bufs[i].state)
        i = (i + 1) & (tc->bufcap - 1);
    tc->bufs[i] = (tc_buf){.offset = offset, .entry = entry, .state = state};
    tc->nbufs++;
}

static void buf_del(vram_tensor_cache *tc, tc_buf *slot)
{
    size_t mask = tc->bufcap - 1, hole = (size_t)(slot - tc->bufs);
    tc->bufs[hole].state = BUF_EMPTY;
    tc->nbufs--;
    /* Backward shift: an entry moves into the hole unless its home lies
     * cyclically in (hole, j]. */
    for (size_t j = (hole + 1) & mask; tc->bufs[j].state; j = (j + 1) & mask) {
        size_t home = buf_home(tc->bufs[j].offset, tc->bufcap);
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        tc->bufs[hole] = tc->bufs[j];
        tc->bufs[j].state = BUF_EMPTY;
        hole = j;
    }
}

static tc_entry *entry_find(const vram_tensor_cache *tc, const vram_tensor_shape *k)
{
    if (!tc->slotcap)
        return NULL;
    for (size_t i = shape_hash(k, tc->slotcap); tc->slots[i]; i = (i + 1) & (tc->slotcap - 1))
        if (same_shape(&tc->entries[tc->slots[i] - 1].shape, k))
            return &tc->entries[tc->slots[i] - 1];
    return NULL;
}

static vram_status slots_rebuild(vram_tensor_cache *tc, size_t cap)
{
    uint32_t *s = calloc(cap, sizeof *s);
    if (!s)
        return VRAM_ENOHOST;
    for (size_t e = 0; e < tc->nentries; e++) {
        size_t i = shape_hash(&tc->entries[e].shape, cap);
        while (s[i])
            i = (i + 1) & (cap - 1);
        s[i] = (uint32_t)(e + 1);
    }
    free(tc->slots);
    tc->slots = s;
    tc->slotcap = cap;
    return VRAM_OK;
}

/* The entry of shape k, created if new; entries are never removed. */
static vram_status entry_get(vram_tensor_cache *tc, const vram_tensor_shape *k, uint64_t bytes,
                             tc_entry **out)
{
    if ((*out = entry_find(tc, k)))
        return VRAM_OK;
    if (tc->nentries >= UINT32_MAX - 1)
        return VRAM_ENOHOST;
    if (tc->nentries == tc->entcap) {
        size_t cap = tc->entcap ? tc->entcap * 2 : 16;
        tc_entry *e = realloc(tc->entries, cap * sizeof *e);
        if (!e)
            return VRAM_ENOHOST;
        tc->entries = e;
        tc->entcap = cap;
    }
    if ((tc->nentries + 1) * 2 > tc->slotcap) {
        vram_status st = slots_rebuild(tc, tc->slotcap ? tc->slotcap * 2 : 32);
        if (st)
            return st;
    }
    tc_entry *e = &tc->entries[tc->nentries];
    *e = (tc_entry){.shape = *k, .bytes = bytes};
    size_t i = shape_hash(k, tc->slotcap);
    while (tc->slots[i])
        i = (i + 1) & (tc->slotcap - 1);
    tc->slots[i] = (uint32_t)++tc->nentries;
    *out = e;
    return VRAM_OK;
}

/* Room in e's stack for `extra` more buffers, and in the buffer table. */
static vram_status entry_reserve(vram_tensor_cache *tc, tc_entry *e, size_t extra)
{
    size_t need = e->nidle + e->nout + extra;
    if (need > e->cap) {
        size_t cap = e->cap ? e->cap : 4;
        while (cap < need)
            cap *= 2;
        uint64_t *idle = realloc(e->idle, cap * sizeof *idle);
        if (!idle)
            return VRAM_ENOHOST;
        e->idle = idle;
        e->cap = cap;
    }
    return buf_reserve(tc, extra);
}

static uint32_t entry_index(const vram_tensor_cache *tc, const tc_entry *e)
{
    return (uint32_t)(e - tc->entries);
}

/* Validates shape and finds or makes its entry with room for `extra` buffers. */
static vram_status prepare(vram_tensor_cache *tc, const vram_tensor_shape *shape, size_t extra,
                           tc_entry **out)
{
    uint64_t bytes;
    vram_status st = vram_tensor_bytes(shape, &bytes);
    if (st)
        return st;
    vram_tensor_shape k = normalise(shape);
    st = entry_get(tc, &k, bytes, out);
    return st ? st : entry_reserve(tc, *out, extra);
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
    buf_put(tc, offset, entry_index(tc, e), BUF_IDLE);
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
    vram_tensor_shape k = normalise(shape);
    tc_entry *e = entry_find(tc, &k);
    if (!e || !e->nidle) {
        tc->st.misses++;
        return VRAM_ENOTFOUND;
    }
    uint64_t off = e->idle[--e->nidle];
    e->nout++;
    buf_find(tc, off)->state = BUF_OUT;
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
    tc_buf *b = buf_find(tc, offset);
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
    if (buf_find(tc, offset))
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
        buf_del(tc, buf_find(tc, off));
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
        vram_tensor_shape k = normalise(shape);
        tc_entry *e = entry_find(tc, &k);
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
    const tc_buf *buf = buf_find(w->tc, b->offset);
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
            const tc_buf *b = buf_find(tc, e->idle[j]);
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
