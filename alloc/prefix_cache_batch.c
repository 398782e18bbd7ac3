/* prefix_cache_batch.c - the prefix cache's batch calls (vram/prefix_cache.h):
 * alloc_n and insert_n, a request's run of blocks taken or cached together.
 *
 * Each is its single call repeated (vram_prefix_cache_alloc, _insert), so the
 * results are those calls' by construction; what the batch adds is memory-
 * level parallelism. In a large cache every block taken evicts a victim whose
 * record, index slot and parent record are random lines among 100+ MB, and
 * every block cached probes a random index slot: one call at a time, those
 * misses come one after the other. Here the lines of up to AHEAD blocks are
 * requested at once first, so their misses overlap and the calls then find
 * them in the CPU's caches. Prefetches are hints: a wrong guess of the
 * policy's next victims costs a wasted line, never a different result. */
#include "prefix_cache_internal.h"

/* Blocks whose lines are requested together: enough to cover a vLLM request's
 * new blocks, few enough to stay in the L1/L2 caches until used. */
#define AHEAD 32

#define PREFETCH_W(p) __builtin_prefetch((p), 1)

/* The victims a leaf-only policy will take after v[0 .. k), in order, as far
 * as w[] holds (max): each listed victim is followed by its ancestors that its
 * eviction makes leaves in turn (idle, one cached child: the parent of an
 * evicted leaf joins the side heap with its older stamp and is next). Follows
 * the parent links, so each step waits for one record; the lines of the
 * victims themselves are requested as they are found. Returns how many. */
static int with_ancestors(const vram_prefix_cache *pc, const uint32_t *v, int k, uint32_t *w,
                          int max)
{
    int n = 0;
    for (int i = 0; i < k && n < max; i++) {
        uint32_t b = v[i];
        w[n++] = b;
        for (;;) {
            uint32_t p = pc->blocks[b].parent;
            if (n == max || p >= pc->nblocks || !vram__pc_link_valid(pc, &pc->blocks[b]))
                break;
            const pc_block *pb = &pc->blocks[p];
            if (pb->refs || pb->children != 1)
                break;
            w[n++] = b = p;
        }
    }
    return n;
}

/* Requests the lines of the next m (<= AHEAD) evictions, a software pipeline
 * over successive batches: the index slots (deleted there) and the parents'
 * records (unlink_parent reads them) of victims 0 .. m, whose records the
 * previous batch requested, and the records of up to AHEAD victims after
 * them, for the next batch (a request's blocks come in several calls). */
static void prefetch_evictions(const vram_prefix_cache *pc, int m)
{
    uint32_t v[2 * AHEAD], w[AHEAD];
    int k = pc->ops->peek ? pc->ops->peek(pc->policy, v, m + AHEAD) : 0;
    for (int i = 0; i < k; i++)
        PREFETCH_W(&pc->blocks[v[i]]);
    int now = k < m ? k : m;
    const uint32_t *list = v;
    if (pc->ops->leaf_only) {
        now = with_ancestors(pc, v, now, w, m);
        list = w;
    }
    for (int i = 0; i < now; i++) {
        const pc_block *b = &pc->blocks[list[i]];
        vram__pc_index_prefetch(&pc->index, b->hash);
        if (b->parent < pc->nblocks)
            PREFETCH_W(&pc->blocks[b->parent]);
    }
}

vram_status vram_prefix_cache_alloc_n(vram_prefix_cache *pc, size_t n, uint32_t *blocks,
                                      size_t *got)
{
    if (!pc || !blocks || !got || !n)
        return VRAM_EINVAL;
    size_t i = 0;
    vram_status st = VRAM_OK;
    while (i < n && !st) {
        /* alloc takes the free blocks first: only the rest evict */
        size_t chunk = n - i < AHEAD ? n - i : AHEAD;
        if (chunk > pc->nfree)
            prefetch_evictions(pc, (int)(chunk - pc->nfree));
        for (size_t end = i + chunk; i < end; i++) {
            st = vram_prefix_cache_alloc(pc, &blocks[i]);
            if (st)
                break;
        }
    }
    *got = i;
    return st;
}

/* A mark on the blocks of a chain being validated: `cached` is 0 for every
 * block without a hash (only a block with a hash is cached), so 2 there means
 * "met earlier in this chain". Cleared before insert_n returns. */
#define MARK 2

/* insert's checks for each element of the chain, in the order the successive
 * inserts would meet them: VRAM_OK when all of them would succeed. */
static vram_status check_insert_chain(vram_prefix_cache *pc, const uint32_t *blocks,
                                      uint32_t parent, const uint64_t *hashes, size_t n)
{
    vram_status st = VRAM_OK;
    size_t marked = 0;
    for (size_t i = 0; i < n && !st; i++) {
        uint32_t b = blocks[i];
        if (hashes[i] == VRAM_PREFIX_ROOT || b >= pc->nblocks || !pc->blocks[b].refs) {
            st = VRAM_EINVAL;
            break;
        }
        if (pc->blocks[b].hash || pc->blocks[b].cached == MARK) {
            st = VRAM_EBUSY;
            break;
        }
        pc->blocks[b].cached = MARK;
        marked++;
        /* the first block's parent; later ones have their predecessor, held
         * and (once it is inserted) with a hash */
        if (i == 0 && parent != VRAM_PREFIX_NONE &&
            (parent >= pc->nblocks || parent == b || !pc->blocks[parent].refs ||
             !pc->blocks[parent].hash))
            st = VRAM_EINVAL;
    }
    while (marked--)
        pc->blocks[blocks[marked]].cached = 0;
    return st;
}

vram_status vram_prefix_cache_insert_n(vram_prefix_cache *pc, const uint32_t *blocks,
                                       uint32_t parent, const uint64_t *hashes, size_t n,
                                       int priority, int *cached_out)
{
    if (!pc || !blocks || !hashes || !n)
        return VRAM_EINVAL;
    for (size_t i = 0; i < n && i < AHEAD; i++)
        if (blocks[i] < pc->nblocks)
            PREFETCH_W(&pc->blocks[blocks[i]]);
    vram_status st = check_insert_chain(pc, blocks, parent, hashes, n);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        if (i % AHEAD == 0)
            for (size_t j = i; j < n && j < i + AHEAD; j++) {
                vram__pc_index_prefetch(&pc->index, hashes[j]);
                if (pc->host_cap)
                    vram__pc_index_prefetch(&pc->host_index, hashes[j]);
            }
        int cached;
        /* cannot fail: check_insert_chain made every check insert makes */
        (void)vram_prefix_cache_insert(pc, blocks[i], i ? blocks[i - 1] : parent, hashes[i],
                                       priority, &cached);
        if (cached_out)
            cached_out[i] = cached;
    }
    return VRAM_OK;
}
