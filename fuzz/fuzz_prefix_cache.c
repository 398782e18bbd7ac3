/* fuzz_prefix_cache.c - vram_prefix_cache against a shadow model made of
 * plain arrays, compared after every operation.
 *
 * Input: two configuration bytes (policy: vllm, lru, lfu, priority; 1-16
 * device blocks; a host tier of 0-8 entries), then operations (opcode byte
 * mod 10 and operands; bytes 250-255, which came last, are the batch calls:
 * 250-253 a run of blocks by alloc_n and insert_n, 254-255 batch calls that
 * must be refused) until the input ends or MAX_OPS ran. Requests open
 * and close in 8 slots; each follows one of 6 documents, whose chains share
 * first blocks in pairs (documents 2k and 2k+1), so prefixes are shared,
 * split and evicted.
 *
 * The model re-derives every decision the header documents, the simple way:
 * a victim is the evictable block with the smallest key found by a scan
 * (vllm: the order blocks became evictable; lru, lfu, priority: their keys,
 * leaves only), a free block comes from a stack, a host entry is found by a
 * scan and the oldest one is dropped. Every status, every block number handed
 * out, the hits of every acquire and lookup, each block's references, hash,
 * cached and evictable flags, the host tier's contents and every counter must
 * agree, and vram_prefix_cache_check() must pass, after every operation. */
#include <math.h>
#include <string.h>

#include "fuzz_input.h"
#include "vram/vram.h"

#define TARGET "fuzz_prefix_cache"
#define MAXB 16
#define MAXH 8
#define NREQ 8
#define NDOC 6
#define DEPTH 8
#define MAX_OPS 512
#define BLOCK_BYTES 4096

enum { POL_VLLM, POL_LRU, POL_LFU, POL_PRIO };

typedef struct mblock {
    uint64_t hash, parent_hash, stamp, hits, qseq;
    uint32_t refs, depth, link, link_epoch, epoch;
    int prio, cached;
} mblock;

typedef struct mhost {
    uint64_t hash, parent_hash, hits, seq;
    uint32_t depth;
    int prio, used;
} mhost;

typedef struct mreq {
    int open, doc;
    uint32_t blocks[2 * DEPTH];
    size_t n;   /* blocks held, in chain order */
    size_t pos; /* the chain position of the next block to compute */
} mreq;

typedef struct model {
    vram_prefix_cache *pc;
    const char *policy_name;
    int policy;
    uint32_t nb, hcap;
    mblock b[MAXB];
    uint32_t free_stack[MAXB], nfree;
    mhost host[MAXH];
    uint64_t clock, qseq, hseq;
    mreq req[NREQ];
    uint64_t key[NDOC][DEPTH];
    vram_prefix_cache_stats st; /* the counters the model expects */
    double read_ns, write_ns;
    uint64_t op;
} model;

static void fail(model *md, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(model *md, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fz_fail(TARGET, md->policy_name, md->op, "%s", msg);
}

static void expect_status(model *md, vram_status got, vram_status want, const char *what)
{
    if (got != want)
        fail(md, "%s gave %s, the model expects %s", what, vram_status_name(got),
             vram_status_name(want));
}

/* ---- the model's rules ---- */

static int link_valid(const model *md, const mblock *x)
{
    return x->link != UINT32_MAX && md->b[x->link].cached &&
           md->b[x->link].epoch == x->link_epoch && md->b[x->link].hash == x->parent_hash;
}

static int is_leaf(const model *md, uint32_t i)
{
    for (uint32_t c = 0; c < md->nb; c++)
        if (md->b[c].cached && md->b[c].link == i && link_valid(md, &md->b[c]))
            return 0;
    return 1;
}

static int evictable(const model *md, uint32_t i)
{
    const mblock *x = &md->b[i];
    return !x->refs && x->cached && (md->policy == POL_VLLM || is_leaf(md, i));
}

/* 1 if block i goes before block j */
static int before(const model *md, uint32_t i, uint32_t j)
{
    const mblock *x = &md->b[i], *y = &md->b[j];
    if (md->policy == POL_VLLM)
        return x->qseq < y->qseq;
    uint64_t kx[3], ky[3];
    uint64_t dx = (uint64_t)(UINT32_MAX - x->depth) << 32 | i;
    uint64_t dy = (uint64_t)(UINT32_MAX - y->depth) << 32 | j;
    switch (md->policy) {
    case POL_LRU:
        kx[0] = x->stamp, kx[1] = dx, kx[2] = 0;
        ky[0] = y->stamp, ky[1] = dy, ky[2] = 0;
        break;
    case POL_LFU:
        kx[0] = x->hits, kx[1] = x->stamp, kx[2] = dx;
        ky[0] = y->hits, ky[1] = y->stamp, ky[2] = dy;
        break;
    default: /* priority: signed order */
        if (x->prio != y->prio)
            return x->prio < y->prio;
        kx[0] = 0, kx[1] = x->stamp, kx[2] = dx;
        ky[0] = 0, ky[1] = y->stamp, ky[2] = dy;
        break;
    }
    for (int k = 0; k < 3; k++)
        if (kx[k] != ky[k])
            return kx[k] < ky[k];
    return 0;
}

static uint32_t victim(const model *md)
{
    uint32_t v = UINT32_MAX;
    for (uint32_t i = 0; i < md->nb; i++)
        if (evictable(md, i) && (v == UINT32_MAX || before(md, i, v)))
            v = i;
    return v;
}

static uint64_t count_evictable(const model *md)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < md->nb; i++)
        n += evictable(md, i);
    return n;
}

static int host_find(const model *md, uint64_t hash)
{
    for (uint32_t s = 0; s < md->hcap; s++)
        if (md->host[s].used && md->host[s].hash == hash)
            return (int)s;
    return -1;
}

static void host_put(model *md, const mblock *x)
{
    int free_slot = -1, oldest = -1;
    for (uint32_t s = 0; s < md->hcap; s++) {
        if (!md->host[s].used)
            free_slot = free_slot < 0 ? (int)s : free_slot;
        else if (oldest < 0 || md->host[s].seq < md->host[oldest].seq)
            oldest = (int)s;
    }
    if (free_slot < 0) {
        md->host[oldest].used = 0;
        md->st.host_drops++;
        md->st.host_entries--;
        free_slot = oldest;
    }
    md->host[free_slot] = (mhost){.hash = x->hash, .parent_hash = x->parent_hash, .hits = x->hits,
                                  .seq = ++md->hseq, .depth = x->depth, .prio = x->prio,
                                  .used = 1};
    md->st.host_entries++;
}

static void forget(mblock *x)
{
    uint32_t epoch = x->epoch + 1, refs = x->refs;
    *x = (mblock){.link = UINT32_MAX, .epoch = epoch, .refs = refs};
}

/* Evicts the victim; 1 and *out, or 0. */
static int evict_one(model *md, uint32_t *out)
{
    uint32_t v = victim(md);
    if (v == UINT32_MAX)
        return 0;
    mblock *x = &md->b[v];
    x->cached = 0;
    if (md->hcap) {
        host_put(md, x);
        md->st.host_writes++;
        md->st.host_write_ns += md->write_ns;
    }
    forget(x);
    md->st.evictions++;
    *out = v;
    return 1;
}

static int take_block(model *md, uint32_t *out)
{
    if (md->nfree)
        *out = md->free_stack[--md->nfree];
    else if (!evict_one(md, out))
        return 0;
    md->b[*out].refs = 1;
    return 1;
}

static int find_device(const model *md, uint64_t hash, uint64_t parent)
{
    for (uint32_t i = 0; i < md->nb; i++)
        if (md->b[i].cached && md->b[i].hash == hash)
            return md->b[i].parent_hash == parent ? (int)i : -1;
    return -1;
}

static int find_host(const model *md, uint64_t hash, uint64_t parent)
{
    int s = host_find(md, hash);
    return s >= 0 && md->host[s].parent_hash == parent ? s : -1;
}

/* ---- comparison ---- */

static void compare(model *md)
{
    char msg[256];
    if (vram_prefix_cache_check(md->pc, msg, sizeof msg))
        fail(md, "check(): %s", msg);
    uint64_t free_n = 0, held = 0, cached = 0;
    for (uint32_t i = 0; i < md->nb; i++) {
        const mblock *x = &md->b[i];
        vram_prefix_block_info info;
        if (vram_prefix_cache_block_get(md->pc, i, &info))
            fail(md, "block_get(%u) failed", i);
        int ev = evictable(md, i);
        if (info.refs != x->refs || info.hash != x->hash || info.cached != x->cached ||
            info.evictable != ev || (x->hash && info.parent_hash != x->parent_hash))
            fail(md, "block %u: refs %u/%u hash %#" PRIx64 "/%#" PRIx64 " cached %d/%d"
                 " evictable %d/%d (cache/model)", i, info.refs, x->refs, info.hash, x->hash,
                 info.cached, x->cached, info.evictable, ev);
        if (x->cached && (info.depth != x->depth || info.hits != x->hits ||
                          info.priority != x->prio || info.stamp != x->stamp))
            fail(md, "block %u: depth %u/%u hits %" PRIu64 "/%" PRIu64 " priority %d/%d stamp %"
                 PRIu64 "/%" PRIu64, i, info.depth, x->depth, info.hits, x->hits, info.priority,
                 x->prio, info.stamp, x->stamp);
        held += x->refs > 0;
        cached += x->cached;
    }
    free_n = md->nfree;
    for (uint32_t s = 0; s < md->hcap; s++)
        if (md->host[s].used && !vram_prefix_cache_host_has(md->pc, md->host[s].hash))
            fail(md, "hash %#" PRIx64 " should be on the host tier", md->host[s].hash);
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(md->pc, &st);
    const vram_prefix_cache_stats *w = &md->st;
#define SAME(f)                                                                                    \
    if (st.f != w->f)                                                                              \
        fail(md, "stats." #f " %" PRIu64 ", the model expects %" PRIu64, (uint64_t)st.f,          \
             (uint64_t)w->f);
    SAME(lookups) SAME(lookup_blocks) SAME(hit_blocks) SAME(host_hit_blocks) SAME(inserts)
    SAME(duplicates) SAME(allocs) SAME(alloc_failures) SAME(evictions) SAME(host_writes)
    SAME(host_drops) SAME(host_entries)
#undef SAME
    if (st.free_blocks != free_n || st.held_blocks != held || st.cached_blocks != cached ||
        st.evictable_blocks != count_evictable(md))
        fail(md, "stats: free %" PRIu64 "/%" PRIu64 " held %" PRIu64 "/%" PRIu64 " cached %" PRIu64
             "/%" PRIu64 " evictable %" PRIu64 "/%" PRIu64, st.free_blocks, free_n, st.held_blocks,
             held, st.cached_blocks, cached, st.evictable_blocks, count_evictable(md));
    if (fabs(st.host_read_ns - w->host_read_ns) > 1e-6 * (1 + w->host_read_ns) ||
        fabs(st.host_write_ns - w->host_write_ns) > 1e-6 * (1 + w->host_write_ns))
        fail(md, "modelled host copies %g/%g and %g/%g ns", st.host_read_ns, w->host_read_ns,
             st.host_write_ns, w->host_write_ns);
}

/* ---- operations ---- */

static mreq *pick_open(model *md, fz_in *in)
{
    uint8_t k = fz_u8(in);
    for (int i = 0; i < NREQ; i++) {
        mreq *r = &md->req[(k + i) % NREQ];
        if (r->open)
            return r;
    }
    return NULL;
}

/* A new request acquires the first `len` blocks of its document's chain. */
static void op_acquire(model *md, fz_in *in)
{
    mreq *r = NULL;
    for (int i = 0; i < NREQ && !r; i++)
        if (!md->req[i].open)
            r = &md->req[i];
    uint8_t a = fz_u8(in), p = fz_u8(in);
    int doc = a % NDOC, prio = (int)(p % 5) - 2;
    size_t len = 1 + a / NDOC % DEPTH;
    const uint64_t *chain = md->key[doc];
    uint32_t got[DEPTH];
    size_t hits = 99;
    if (!r) { /* no slot: a lookup only, which changes nothing */
        size_t dev = 99, host = 99;
        vram_status st = vram_prefix_cache_lookup(md->pc, chain, len, &dev, &host);
        expect_status(md, st, VRAM_OK, "lookup");
        size_t wd = 0, wh = 0;
        uint64_t parent = VRAM_PREFIX_ROOT;
        for (size_t i = 0; i < len; parent = chain[i++]) {
            if (find_device(md, chain[i], parent) >= 0)
                wd++;
            else if (find_host(md, chain[i], parent) >= 0)
                wh++;
            else
                break;
        }
        if (dev != wd || host != wh)
            fail(md, "lookup: %zu+%zu hits, the model expects %zu+%zu", dev, host, wd, wh);
        return;
    }
    vram_status st = vram_prefix_cache_acquire(md->pc, chain, len, prio, got, &hits);
    expect_status(md, st, VRAM_OK, "acquire");
    md->clock++;
    uint64_t parent = VRAM_PREFIX_ROOT;
    size_t i = 0;
    for (; i < len; parent = chain[i], i++) {
        int d = find_device(md, chain[i], parent);
        if (d >= 0) {
            mblock *x = &md->b[d];
            x->refs++;
            x->stamp = md->clock;
            x->hits++;
            x->prio = prio > x->prio ? prio : x->prio;
            md->st.hit_blocks++;
            r->blocks[i] = (uint32_t)d;
            continue;
        }
        int s = find_host(md, chain[i], parent);
        if (s < 0 || (!md->nfree && victim(md) == UINT32_MAX))
            break;
        mhost e = md->host[s];
        md->host[s].used = 0;
        md->st.host_entries--;
        uint32_t v;
        take_block(md, &v);
        mblock *x = &md->b[v];
        x->hash = e.hash;
        x->parent_hash = e.parent_hash;
        x->depth = e.depth;
        x->hits = e.hits + 1;
        x->prio = e.prio > prio ? e.prio : prio;
        x->stamp = md->clock;
        x->cached = 1;
        x->link = UINT32_MAX;
        if (i > 0 && md->b[r->blocks[i - 1]].cached) {
            x->link = r->blocks[i - 1];
            x->link_epoch = md->b[x->link].epoch;
        }
        md->st.host_hit_blocks++;
        md->st.host_read_ns += md->read_ns;
        r->blocks[i] = v;
    }
    md->st.lookups++;
    md->st.lookup_blocks += len;
    if (hits != i)
        fail(md, "acquire of %zu blocks of document %d: %zu hits, the model expects %zu", len,
             doc, hits, i);
    for (size_t k = 0; k < i; k++)
        if (got[k] != r->blocks[k])
            fail(md, "acquire: block %zu is %u, the model expects %u", k, got[k], r->blocks[k]);
    *r = (mreq){.open = 1, .doc = doc, .n = i, .pos = i};
    memcpy(r->blocks, got, i * sizeof *got);
    if (!i) /* nothing held: the request computes from its first block */
        r->pos = 0;
}

/* The model's insert of block b (held, no hash) under parent (held, with a
 * hash, or VRAM_PREFIX_NONE): the *cached it expects. */
static int model_insert(model *md, uint32_t b, uint32_t parent, uint64_t hash, int prio)
{
    const mblock *pb = parent == VRAM_PREFIX_NONE ? NULL : &md->b[parent];
    md->clock++;
    mblock *x = &md->b[b];
    x->hash = hash;
    x->parent_hash = pb ? pb->hash : VRAM_PREFIX_ROOT;
    x->depth = pb ? pb->depth + 1 : 0;
    x->stamp = md->clock;
    x->hits = 0;
    x->prio = prio;
    int dup = 0;
    for (uint32_t i = 0; i < md->nb; i++)
        dup |= md->b[i].cached && md->b[i].hash == hash;
    if (dup) {
        md->st.duplicates++;
        return 0;
    }
    int s = host_find(md, hash);
    if (s >= 0) {
        md->host[s].used = 0;
        md->st.host_entries--;
    }
    x->cached = 1;
    md->st.inserts++;
    x->link = UINT32_MAX;
    if (pb && pb->cached) {
        x->link = parent;
        x->link_epoch = pb->epoch;
    }
    return 1;
}

/* The request computes its next block: alloc, then (mostly) insert. */
static void op_compute(model *md, fz_in *in)
{
    mreq *r = pick_open(md, in);
    uint8_t f = fz_u8(in);
    if (!r || r->n == 2 * DEPTH)
        return;
    uint32_t b = 99, w;
    vram_status st = vram_prefix_cache_alloc(md->pc, &b);
    if (!take_block(md, &w)) {
        md->st.alloc_failures++;
        expect_status(md, st, VRAM_ENOMEM, "alloc");
        return;
    }
    expect_status(md, st, VRAM_OK, "alloc");
    md->st.allocs++;
    if (b != w)
        fail(md, "alloc gave block %u, the model expects %u", b, w);
    r->blocks[r->n++] = b;
    if (f % 8 == 7) /* a partial block: stays without hash */
        return;
    uint32_t parent = r->n > 1 ? r->blocks[r->n - 2] : VRAM_PREFIX_NONE;
    /* mostly the document's next block; sometimes another document's block
     * (a chain that diverges) */
    int doc = f % 8 == 6 ? (r->doc + 1) % NDOC : r->doc;
    uint64_t hash = md->key[doc][r->pos % DEPTH] ^ (r->pos >= DEPTH ? 0x5a5a : 0);
    int prio = (int)(f / 8 % 5) - 2, cached = -1;
    st = vram_prefix_cache_insert(md->pc, b, parent, hash, prio, &cached);
    const mblock *pb = parent == VRAM_PREFIX_NONE ? NULL : &md->b[parent];
    if (pb && !pb->hash) {
        expect_status(md, st, VRAM_EINVAL, "insert under a parent without hash");
        return;
    }
    expect_status(md, st, VRAM_OK, "insert");
    r->pos++;
    int want = model_insert(md, b, parent, hash, prio);
    if (cached != want)
        fail(md, "insert: cached %d, the model expects %d", cached, want);
}

/* The request computes a run of up to 8 blocks: alloc_n, then insert_n of
 * them as a chain (all of them, or all but a last partial block). The model
 * does the successive single calls; alloc_n stops at the first failure. */
static void op_compute_n(model *md, fz_in *in)
{
    mreq *r = pick_open(md, in);
    uint8_t f = fz_u8(in);
    if (!r || r->n == 2 * DEPTH)
        return;
    size_t want = 1 + f % 8, got = 99, w = 0;
    if (want > 2 * DEPTH - r->n)
        want = 2 * DEPTH - r->n;
    uint32_t b[8];
    vram_status st = vram_prefix_cache_alloc_n(md->pc, want, b, &got);
    for (; w < want; w++) {
        uint32_t v;
        if (!take_block(md, &v)) {
            md->st.alloc_failures++;
            break;
        }
        md->st.allocs++;
        if (w < got && b[w] != v)
            fail(md, "alloc_n gave block %u as its %zu-th, the model expects %u", b[w], w, v);
    }
    expect_status(md, st, w < want ? VRAM_ENOMEM : VRAM_OK, "alloc_n");
    if (got != w)
        fail(md, "alloc_n gave %zu blocks, the model expects %zu", got, w);
    size_t first = r->n;
    memcpy(r->blocks + first, b, got * sizeof *b);
    r->n += got;
    size_t full = got - (got && f & 0x80); /* a last partial block stays without hash */
    if (!full)
        return;
    uint32_t parent = first ? r->blocks[first - 1] : VRAM_PREFIX_NONE;
    uint64_t hashes[8];
    for (size_t i = 0; i < full; i++) {
        size_t pos = r->pos + i;
        hashes[i] = md->key[r->doc][pos % DEPTH] ^ (pos >= DEPTH ? 0x5a5a : 0);
    }
    int prio = (int)(f / 8 % 5) - 2, cached[8];
    st = vram_prefix_cache_insert_n(md->pc, b, parent, hashes, full, prio, cached);
    if (parent != VRAM_PREFIX_NONE && !md->b[parent].hash) {
        expect_status(md, st, VRAM_EINVAL, "insert_n under a parent without hash");
        return;
    }
    expect_status(md, st, VRAM_OK, "insert_n");
    for (size_t i = 0; i < full; i++) {
        int want_c = model_insert(md, b[i], i ? b[i - 1] : parent, hashes[i], prio);
        if (cached[i] != want_c)
            fail(md, "insert_n: block %zu cached %d, the model expects %d", i, cached[i], want_c);
    }
    r->pos += full;
}

/* Batch calls that must be refused and change nothing. */
static void op_bad_batch(model *md, fz_in *in)
{
    uint8_t k = fz_u8(in);
    mreq *r = pick_open(md, in);
    uint32_t b[3] = {0};
    uint64_t h[3] = {md->key[0][0], md->key[0][1], md->key[0][2]};
    size_t got;
    int cached[3];
    switch (k % 4) {
    case 0:
        expect_status(md, vram_prefix_cache_alloc_n(md->pc, 0, b, &got), VRAM_EINVAL,
                      "alloc_n of nothing");
        expect_status(md, vram_prefix_cache_insert_n(md->pc, b, VRAM_PREFIX_NONE, h, 0, 0, cached),
                      VRAM_EINVAL, "insert_n of nothing");
        return;
    case 1: /* a block out of range after a good one */
        if (!r || !r->n || md->b[r->blocks[r->n - 1]].hash)
            return;
        b[0] = r->blocks[r->n - 1];
        b[1] = md->nb + k;
        expect_status(md, vram_prefix_cache_insert_n(md->pc, b, VRAM_PREFIX_NONE, h, 2, 0, cached),
                      VRAM_EINVAL, "insert_n out of range");
        return;
    case 2: /* a block twice */
        if (!r || !r->n || md->b[r->blocks[r->n - 1]].hash)
            return;
        b[0] = b[1] = r->blocks[r->n - 1];
        expect_status(md, vram_prefix_cache_insert_n(md->pc, b, VRAM_PREFIX_NONE, h, 2, 0, cached),
                      VRAM_EBUSY, "insert_n of a block twice");
        return;
    default: /* a zero hash last */
        if (!r || !r->n || md->b[r->blocks[r->n - 1]].hash)
            return;
        b[0] = r->blocks[r->n - 1];
        h[0] = 0;
        expect_status(md, vram_prefix_cache_insert_n(md->pc, b, VRAM_PREFIX_NONE, h, 1, 0, cached),
                      VRAM_EINVAL, "insert_n with a zero hash");
        return;
    }
}

/* The model's release of blocks[0 .. n) (already validated). */
static void model_release(model *md, const uint32_t *blocks, size_t n)
{
    for (size_t k = 0; k < n; k++)
        md->b[blocks[k]].refs--;
    md->clock++;
    uint8_t seen[MAXB] = {0};
    for (size_t k = n; k--;) {
        uint32_t i = blocks[k];
        if (seen[i])
            continue;
        seen[i] = 1;
        mblock *x = &md->b[i];
        x->stamp = md->clock;
        if (x->refs)
            continue;
        if (x->cached) {
            x->qseq = ++md->qseq;
        } else {
            forget(x);
            x->stamp = md->clock;
            md->free_stack[md->nfree++] = i;
        }
    }
}

/* A request ends (all its blocks), or lets go of its first block only (vLLM
 * frees blocks that leave a sliding window so). */
static void op_release(model *md, fz_in *in, int first_only)
{
    mreq *r = pick_open(md, in);
    if (!r)
        return;
    if (!r->n) {
        if (!first_only) {
            expect_status(md, vram_prefix_cache_release(md->pc, r->blocks, 0), VRAM_EINVAL,
                          "release of nothing");
            r->open = 0;
        }
        return;
    }
    size_t n = first_only ? 1 : r->n;
    expect_status(md, vram_prefix_cache_release(md->pc, r->blocks, n), VRAM_OK, "release");
    model_release(md, r->blocks, n);
    if (first_only) {
        memmove(r->blocks, r->blocks + 1, (r->n - 1) * sizeof *r->blocks);
        r->n--;
    } else {
        r->open = 0;
    }
}

static void op_evict(model *md)
{
    uint64_t h = 0;
    vram_status st = vram_prefix_cache_evict(md->pc, &h);
    uint32_t v = victim(md);
    if (v == UINT32_MAX) {
        expect_status(md, st, VRAM_ENOTFOUND, "evict with nothing evictable");
        return;
    }
    uint64_t want = md->b[v].hash;
    uint32_t got;
    evict_one(md, &got);
    md->free_stack[md->nfree++] = got;
    expect_status(md, st, VRAM_OK, "evict");
    if (h != want)
        fail(md, "evict took hash %#" PRIx64 ", the model expects %#" PRIx64 " (block %u)", h,
             want, v);
}

/* Calls that must be refused and change nothing. */
static void op_bad(model *md, fz_in *in)
{
    uint8_t k = fz_u8(in);
    mreq *r = pick_open(md, in);
    int cached;
    switch (k % 6) {
    case 0: { /* a block inserted twice */
        if (!r)
            return;
        for (size_t i = 0; i < r->n; i++)
            if (md->b[r->blocks[i]].hash) {
                expect_status(md, vram_prefix_cache_insert(md->pc, r->blocks[i], VRAM_PREFIX_NONE,
                                                           12345, 0, &cached),
                              VRAM_EBUSY, "insert twice");
                return;
            }
        return;
    }
    case 1: { /* a release naming a block once too often */
        if (!r || !r->n)
            return;
        uint32_t list[2 * DEPTH + 1];
        memcpy(list, r->blocks, r->n * sizeof *list);
        uint32_t extra = r->blocks[k / 6 % r->n];
        size_t times = 0;
        for (size_t i = 0; i < r->n; i++)
            times += r->blocks[i] == extra;
        if (md->b[extra].refs > times) /* others hold it too: not too often */
            return;
        list[r->n] = extra;
        expect_status(md, vram_prefix_cache_release(md->pc, list, r->n + 1), VRAM_EDOUBLEFREE,
                      "release once too often");
        return;
    }
    case 2: { /* a block number out of range */
        uint32_t bad = md->nb + k;
        expect_status(md, vram_prefix_cache_release(md->pc, &bad, 1), VRAM_EINVAL,
                      "release out of range");
        expect_status(md, vram_prefix_cache_insert(md->pc, bad, VRAM_PREFIX_NONE, 7, 0, &cached),
                      VRAM_EINVAL, "insert out of range");
        return;
    }
    case 3: { /* a chain with a zero hash; an empty chain */
        uint64_t chain[2] = {md->key[0][0], 0};
        uint32_t blocks[2];
        size_t hits;
        expect_status(md, vram_prefix_cache_acquire(md->pc, chain, 2, 0, blocks, &hits),
                      VRAM_EINVAL, "acquire with a zero hash");
        expect_status(md, vram_prefix_cache_acquire(md->pc, chain, 0, 0, blocks, &hits),
                      VRAM_EINVAL, "acquire of nothing");
        return;
    }
    case 4: { /* insert into a block nobody holds */
        for (uint32_t i = 0; i < md->nb; i++)
            if (!md->b[i].refs) {
                expect_status(md, vram_prefix_cache_insert(md->pc, i, VRAM_PREFIX_NONE, 7, 0,
                                                           &cached),
                              VRAM_EINVAL, "insert into a block not held");
                return;
            }
        return;
    }
    default: { /* insert under a parent nobody holds, or itself */
        if (!r || !r->n)
            return;
        uint32_t b = r->blocks[r->n - 1];
        if (md->b[b].hash)
            return;
        uint32_t parent = b;
        for (uint32_t i = 0; i < md->nb; i++)
            if (!md->b[i].refs)
                parent = i;
        expect_status(md, vram_prefix_cache_insert(md->pc, b, parent, 7, 0, &cached), VRAM_EINVAL,
                      "insert under a parent not held");
        return;
    }
    }
}

static void make_keys(model *md)
{
    for (int d = 0; d < NDOC; d++) {
        uint64_t parent = VRAM_PREFIX_ROOT;
        for (int j = 0; j < DEPTH; j++) {
            /* documents 2k and 2k+1 share their first block */
            uint32_t tok[2] = {(uint32_t)(j ? d : d / 2), (uint32_t)j};
            vram_prefix_hash(parent, tok, 2, j ? 0 : 1000, &md->key[d][j]);
            parent = md->key[d][j];
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    uint8_t c0 = fz_u8(&in), c1 = fz_u8(&in);
    static model md; /* large: not on the stack */
    memset(&md, 0, sizeof md);
    md.policy = c0 % 4;
    md.policy_name = vram_prefix_policy_names[md.policy];
    md.nb = 1 + c0 / 4 % MAXB;
    md.hcap = c1 % (MAXH + 1);
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = md.nb,
                                    .block_bytes = BLOCK_BYTES, .policy = md.policy_name,
                                    .host_blocks = md.hcap};
    if (vram_prefix_cache_create(&cfg, &md.pc))
        fail(&md, "create failed");
    md.read_ns = 10000.0 + BLOCK_BYTES / 25.0;
    md.write_ns = md.read_ns;
    for (uint32_t i = 0; i < md.nb; i++) {
        md.b[i].link = UINT32_MAX;
        md.free_stack[i] = md.nb - 1 - i;
    }
    md.nfree = md.nb;
    make_keys(&md);
    compare(&md);
    for (md.op = 1; in.n && md.op <= MAX_OPS; md.op++) {
        uint8_t op = fz_u8(&in);
        if (op >= 250) {
            if (op < 254)
                op_compute_n(&md, &in);
            else
                op_bad_batch(&md, &in);
            compare(&md);
            continue;
        }
        switch (op % 10) {
        case 0: case 1: op_acquire(&md, &in); break;
        case 2: case 3: case 4: op_compute(&md, &in); break;
        case 5: case 6: op_release(&md, &in, 0); break;
        case 7: op_release(&md, &in, 1); break;
        case 8: op_evict(&md); break;
        default: op_bad(&md, &in); break;
        }
        compare(&md);
    }
    /* Every request ends; then everything cached is evicted. */
    for (int i = 0; i < NREQ; i++)
        if (md.req[i].open && md.req[i].n) {
            expect_status(&md, vram_prefix_cache_release(md.pc, md.req[i].blocks, md.req[i].n),
                          VRAM_OK, "final release");
            model_release(&md, md.req[i].blocks, md.req[i].n);
        }
    compare(&md);
    while (victim(&md) != UINT32_MAX)
        op_evict(&md);
    compare(&md);
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(md.pc, &st);
    if (st.free_blocks != md.nb)
        fail(&md, "after the end %" PRIu64 " of %u blocks are free", st.free_blocks, md.nb);
    vram_prefix_cache_destroy(md.pc);
    return 0;
}
