/* hostpool.c - the pinned host pool: first fit over a few big chunks of host
 * memory taken from the device's host allocator. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "vram/hostpool.h"

#define POOL_ALIGN 64u                   /* block and header alignment */
#define POOL_HDR 64u                     /* bytes of the header in front of each block */
#define POOL_MIN_CHUNK 4096u
#define POOL_DEFAULT_CHUNK (64ull << 20)
#define POOL_MAGIC 0x686f7374706f6f6cull /* "hostpool", xor the header's address */

/* The last bytes of the POOL_HDR bytes in front of every live block, so that
 * a writer running backwards from the block destroys it first. */
typedef struct block_hdr {
    uint64_t size;  /* bytes of the block with its header: > POOL_HDR, a multiple of POOL_ALIGN */
    uint64_t magic; /* POOL_MAGIC ^ (uintptr_t)hdr while live */
} block_hdr;

typedef struct free_range {
    uint64_t off, size;
} free_range;

/* A chunk's usable bytes [0, size) start at base. They are tiled, in address
 * order, by live blocks and by the free ranges; free ranges are sorted by
 * offset, never empty and never adjacent (put merges them). */
typedef struct chunk {
    unsigned char *raw; /* what the host allocator returned */
    unsigned char *base; /* raw rounded up to POOL_ALIGN */
    uint64_t raw_size, size;
    int pinned;
    uint64_t in_use;    /* bytes of live blocks */
    free_range *free;
    size_t nfree, capfree;
} chunk;

static block_hdr *hdr_at(const chunk *c, uint64_t off)
{
    return (block_hdr *)(void *)(c->base + off + POOL_HDR - sizeof(block_hdr));
}

/* Non-zero when the header at offset off of c is a live block's. */
static int hdr_valid(const chunk *c, uint64_t off)
{
    const block_hdr *h = hdr_at(c, off);
    return h->magic == (POOL_MAGIC ^ (uintptr_t)h) && h->size > POOL_HDR &&
           h->size % POOL_ALIGN == 0 && h->size <= c->size - off;
}

struct vram_hostpool {
    vram_device *dev;
    uint64_t chunk_bytes, max_bytes;
    chunk *chunks;
    size_t nchunks, capchunks;
    vram_hostpool_stats stats;
};

vram_status vram_hostpool_create(vram_device *d, const vram_hostpool_config *cfg,
                                 vram_hostpool **out)
{
    static const vram_hostpool_config defaults = {0};
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    if (!cfg)
        cfg = &defaults;
    if (!d || (cfg->chunk_bytes && cfg->chunk_bytes < POOL_MIN_CHUNK))
        return VRAM_EINVAL;
    vram_hostpool *p = calloc(1, sizeof *p);
    if (!p)
        return VRAM_ENOHOST;
    p->dev = d;
    p->chunk_bytes = cfg->chunk_bytes ? cfg->chunk_bytes : POOL_DEFAULT_CHUNK;
    p->max_bytes = cfg->max_bytes;
    *out = p;
    return VRAM_OK;
}

static void chunk_free(vram_hostpool *p, chunk *c)
{
    vram__device_host_free(p->dev, c->raw, c->pinned);
    free(c->free);
}

void vram_hostpool_destroy(vram_hostpool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nchunks; i++)
        chunk_free(p, &p->chunks[i]);
    free(p->chunks);
    free(p);
}

/* Room for one more free range in c. */
static vram_status reserve_free(chunk *c)
{
    if (c->nfree < c->capfree)
        return VRAM_OK;
    size_t cap = c->capfree ? 2 * c->capfree : 8;
    free_range *f = realloc(c->free, cap * sizeof *f);
    if (!f)
        return VRAM_ENOHOST;
    c->free = f;
    c->capfree = cap;
    return VRAM_OK;
}

/* Takes a new chunk able to hold a block of `need` bytes. */
static vram_status add_chunk(vram_hostpool *p, uint64_t need)
{
    uint64_t raw = need > p->chunk_bytes - POOL_ALIGN ? need + POOL_ALIGN : p->chunk_bytes;
    if (p->max_bytes && raw > p->max_bytes - (p->stats.held < p->max_bytes ? p->stats.held : p->max_bytes))
        return VRAM_ENOHOST;
    if (p->nchunks == p->capchunks) {
        size_t cap = p->capchunks ? 2 * p->capchunks : 4;
        chunk *cs = realloc(p->chunks, cap * sizeof *cs);
        if (!cs)
            return VRAM_ENOHOST;
        p->chunks = cs;
        p->capchunks = cap;
    }
    chunk c = {.raw_size = raw};
    vram_status st = reserve_free(&c);
    if (st)
        return st;
    void *mem;
    st = vram__device_host_alloc(p->dev, raw, &mem, &c.pinned);
    if (st) {
        free(c.free);
        return st;
    }
    c.raw = mem;
    uintptr_t b = ((uintptr_t)mem + POOL_ALIGN - 1) & ~(uintptr_t)(POOL_ALIGN - 1);
    c.base = (unsigned char *)b;
    c.size = (raw - (b - (uintptr_t)mem)) & ~(uint64_t)(POOL_ALIGN - 1);
    c.free[0] = (free_range){0, c.size};
    c.nfree = 1;
    p->chunks[p->nchunks++] = c;
    p->stats.held += raw;
    p->stats.chunks++;
    p->stats.pinned_chunks += c.pinned != 0;
    p->stats.chunk_allocs++;
    return VRAM_OK;
}

/* Carves need bytes from free range i of chunk c; returns the block's offset. */
static uint64_t carve(chunk *c, size_t i, uint64_t need)
{
    uint64_t off = c->free[i].off;
    if (c->free[i].size == need) {
        memmove(&c->free[i], &c->free[i + 1], (c->nfree - i - 1) * sizeof *c->free);
        c->nfree--;
    } else {
        c->free[i].off += need;
        c->free[i].size -= need;
    }
    return off;
}

vram_status vram_hostpool_get(vram_hostpool *p, uint64_t size, void **out)
{
    if (size == 0 || !out)
        return VRAM_EINVAL;
    if (size > UINT64_MAX - 2 * POOL_ALIGN - POOL_HDR)
        return VRAM_EOVERFLOW;
    uint64_t need = POOL_HDR + ((size + POOL_ALIGN - 1) & ~(uint64_t)(POOL_ALIGN - 1));
    chunk *c = NULL;
    size_t fi = 0;
    for (size_t k = 0; k < p->nchunks && !c; k++) {
        chunk *ck = &p->chunks[k];
        for (size_t i = 0; i < ck->nfree; i++) {
            if (ck->free[i].size >= need) {
                c = ck;
                fi = i;
                break;
            }
        }
    }
    if (!c) {
        vram_status st = add_chunk(p, need);
        if (st)
            return st;
        c = &p->chunks[p->nchunks - 1];
        fi = 0;
    }
    uint64_t off = carve(c, fi, need);
    block_hdr *h = hdr_at(c, off);
    h->magic = POOL_MAGIC ^ (uintptr_t)h;
    h->size = need;
    c->in_use += need;
    p->stats.in_use += need;
    if (p->stats.in_use > p->stats.peak_in_use)
        p->stats.peak_in_use = p->stats.in_use;
    p->stats.live_blocks++;
    p->stats.gets++;
    *out = c->base + off + POOL_HDR;
    return VRAM_OK;
}

/* Index of the first free range of c at or after offset off. */
static size_t free_index(const chunk *c, uint64_t off)
{
    size_t lo = 0, hi = c->nfree;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->free[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

vram_status vram_hostpool_put(vram_hostpool *p, void *ptr)
{
    uintptr_t a = (uintptr_t)ptr;
    chunk *c = NULL;
    for (size_t k = 0; k < p->nchunks && !c; k++) {
        uintptr_t b = (uintptr_t)p->chunks[k].base;
        if (a >= b + POOL_HDR && a - b < p->chunks[k].size)
            c = &p->chunks[k];
    }
    if (!c || (a - (uintptr_t)c->base) % POOL_ALIGN)
        return VRAM_ENOTFOUND;
    uint64_t off = a - (uintptr_t)c->base - POOL_HDR;
    size_t i = free_index(c, off + 1); /* free range i - 1 is the last starting at or before off */
    if (i > 0 && off - c->free[i - 1].off < c->free[i - 1].size)
        return VRAM_EDOUBLEFREE;
    if (!hdr_valid(c, off))
        return VRAM_ENOTFOUND;
    block_hdr *h = hdr_at(c, off);
    if (reserve_free(c))
        return VRAM_ENOHOST;
    uint64_t size = h->size;
    h->magic = 0;
    int merge_prev = i > 0 && c->free[i - 1].off + c->free[i - 1].size == off;
    int merge_next = i < c->nfree && off + size == c->free[i].off;
    if (merge_prev && merge_next) {
        c->free[i - 1].size += size + c->free[i].size;
        memmove(&c->free[i], &c->free[i + 1], (c->nfree - i - 1) * sizeof *c->free);
        c->nfree--;
    } else if (merge_prev) {
        c->free[i - 1].size += size;
    } else if (merge_next) {
        c->free[i].off = off;
        c->free[i].size += size;
    } else {
        memmove(&c->free[i + 1], &c->free[i], (c->nfree - i) * sizeof *c->free);
        c->free[i] = (free_range){off, size};
        c->nfree++;
    }
    c->in_use -= size;
    p->stats.in_use -= size;
    p->stats.live_blocks--;
    return VRAM_OK;
}

uint64_t vram_hostpool_trim(vram_hostpool *p)
{
    uint64_t freed = 0;
    size_t kept = 0;
    for (size_t k = 0; k < p->nchunks; k++) {
        chunk *c = &p->chunks[k];
        if (c->in_use) {
            p->chunks[kept++] = *c;
            continue;
        }
        p->stats.held -= c->raw_size;
        p->stats.chunks--;
        p->stats.pinned_chunks -= c->pinned != 0;
        chunk_free(p, c);
        freed++;
    }
    p->nchunks = kept;
    return freed;
}

void vram_hostpool_stats_get(const vram_hostpool *p, vram_hostpool_stats *out) { *out = p->stats; }

static vram_status violation(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static vram_status violation(char *msg, size_t msglen, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return VRAM_ECORRUPT;
}

/* Walks chunk k: free ranges and block headers must tile it. */
static vram_status check_chunk(const chunk *c, size_t k, uint64_t *live, char *msg, size_t msglen)
{
    uint64_t off = 0, in_use = 0;
    size_t fi = 0;
    while (off < c->size) {
        if (fi < c->nfree && c->free[fi].off == off) {
            const free_range *f = &c->free[fi];
            if (f->size == 0 || f->size % POOL_ALIGN || f->size > c->size - off)
                return violation(msg, msglen, "chunk %zu: free range at %" PRIu64
                                 " has bad size %" PRIu64, k, off, f->size);
            if (fi > 0 && c->free[fi - 1].off + c->free[fi - 1].size == off)
                return violation(msg, msglen, "chunk %zu: free ranges at %" PRIu64
                                 " and before should have merged", k, off);
            off += f->size;
            fi++;
            continue;
        }
        if (fi < c->nfree && c->free[fi].off < off)
            return violation(msg, msglen, "chunk %zu: free range at %" PRIu64
                             " overlaps a block or is out of order", k, c->free[fi].off);
        if (!hdr_valid(c, off))
            return violation(msg, msglen, "chunk %zu: no valid block header at %" PRIu64
                             " (overwritten?)", k, off);
        const block_hdr *h = hdr_at(c, off);
        in_use += h->size;
        (*live)++;
        off += h->size;
    }
    if (fi != c->nfree)
        return violation(msg, msglen, "chunk %zu: %zu free ranges lie outside the walk", k,
                         c->nfree - fi);
    if (in_use != c->in_use)
        return violation(msg, msglen, "chunk %zu: blocks hold %" PRIu64 " bytes, counter says %" PRIu64,
                         k, in_use, c->in_use);
    return VRAM_OK;
}

vram_status vram_hostpool_check(const vram_hostpool *p, char *msg, size_t msglen)
{
    uint64_t live = 0, in_use = 0, held = 0, pinned = 0;
    for (size_t k = 0; k < p->nchunks; k++) {
        const chunk *c = &p->chunks[k];
        vram_status st = check_chunk(c, k, &live, msg, msglen);
        if (st)
            return st;
        in_use += c->in_use;
        held += c->raw_size;
        pinned += c->pinned != 0;
    }
    const vram_hostpool_stats *s = &p->stats;
    if (live != s->live_blocks || in_use != s->in_use || held != s->held ||
        p->nchunks != s->chunks || pinned != s->pinned_chunks)
        return violation(msg, msglen,
                         "stats disagree with the chunks: live %" PRIu64 "/%" PRIu64
                         ", in use %" PRIu64 "/%" PRIu64 ", held %" PRIu64 "/%" PRIu64,
                         live, s->live_blocks, in_use, s->in_use, held, s->held);
    return VRAM_OK;
}
