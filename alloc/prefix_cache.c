/* prefix_cache.c - the prefix cache's calls (vram/prefix_cache.h): creation,
 * the block states and the moves between them. State and invariants:
 * prefix_cache_internal.h; the policies: prefix_cache_policy.c. */
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"
#include "prefix_cache_internal.h"

int vram__pc_evictable(const vram_prefix_cache *pc, const pc_block *b)
{
    return b->refs == 0 && b->cached && (!pc->ops->leaf_only || b->children == 0);
}

int vram__pc_link_valid(const vram_prefix_cache *pc, const pc_block *b)
{
    if (b->parent == PC_NIL || b->parent >= pc->nblocks)
        return 0;
    const pc_block *p = &pc->blocks[b->parent];
    return p->cached && p->gen == b->parent_gen && p->hash == b->parent_hash;
}

static vram_prefix_item item_of(const pc_block *b)
{
    return (vram_prefix_item){.stamp = b->stamp, .hits = b->hits, .depth = b->depth,
                              .priority = b->priority};
}

static uint32_t id_of(const vram_prefix_cache *pc, const pc_block *b)
{
    return (uint32_t)(b - pc->blocks);
}

static void policy_insert(vram_prefix_cache *pc, pc_block *b)
{
    vram_prefix_item it = item_of(b);
    pc->ops->insert(pc->policy, id_of(pc, b), &it);
    pc->st.evictable_blocks++;
}

static void policy_remove(vram_prefix_cache *pc, pc_block *b)
{
    pc->ops->remove(pc->policy, id_of(pc, b));
    pc->st.evictable_blocks--;
}

/* Clears what a block knows of its content: it is free or about to be reused. */
static void forget(pc_block *b)
{
    b->hash = b->parent_hash = 0;
    b->stamp = b->hits = 0;
    b->depth = b->children = 0;
    b->parent = PC_NIL;
    b->priority = 0;
    b->gen++;
}

/* Links cached block b to its parent block p (held by the caller, so no
 * change of p's evictability), when p is cached. */
static void link_parent(vram_prefix_cache *pc, pc_block *b, uint32_t p)
{
    b->parent = PC_NIL;
    if (p == PC_NIL || !pc->blocks[p].cached)
        return;
    b->parent = p;
    b->parent_gen = pc->blocks[p].gen;
    pc->blocks[p].children++;
}

/* Cached block b leaves the device index: its parent loses a child, which
 * may make the parent a leaf and so evictable. */
static void unlink_parent(vram_prefix_cache *pc, pc_block *b)
{
    if (!vram__pc_link_valid(pc, b))
        return;
    pc_block *p = &pc->blocks[b->parent];
    int before = vram__pc_evictable(pc, p);
    p->children--;
    if (!before && vram__pc_evictable(pc, p))
        policy_insert(pc, p);
}

/* A two-stage prefetch for the evictions to come, so that their cache misses
 * overlap with what the caller does between them: the next victim's record
 * was requested at the previous eviction (as the one after next), so its hash
 * is at hand and its index slot is requested now; the one after next has its
 * record requested. Hints only (the order may change before then). */
static void prefetch_victims(const vram_prefix_cache *pc)
{
    uint32_t next[2];
    int k = pc->ops->peek ? pc->ops->peek(pc->policy, next, 2) : 0;
    if (k >= 1)
        __builtin_prefetch(&pc->index.slots[vram__pc_index_home(&pc->index,
                                                                pc->blocks[next[0]].hash)]);
    if (k >= 2)
        __builtin_prefetch(&pc->blocks[next[1]]);
}

/* Evicts the policy's next victim, moving its key to the host tier when
 * there is one: 1, *out (the block, now without hash, in no list) and *hash
 * (the hash it had), or 0. */
static int evict_one(vram_prefix_cache *pc, uint32_t *out, uint64_t *hash)
{
    uint32_t v;
    if (!pc->ops->pop(pc->policy, &v))
        return 0;
    pc->st.evictable_blocks--;
    pc_block *b = &pc->blocks[v];
    vram__pc_index_del(&pc->index, b->hash);
    b->cached = 0;
    pc->st.cached_blocks--;
    if (pc->host_cap) {
        vram__pc_host_put(pc, b);
        pc->st.host_writes++;
        pc->st.host_write_ns += pc->write_ns;
    }
    unlink_parent(pc, b);
    *hash = b->hash;
    forget(b);
    pc->st.evictions++;
    *out = v;
    prefetch_victims(pc);
    return 1;
}

/* A block for the caller, held once: a free one, else a victim. */
static vram_status take_block(vram_prefix_cache *pc, uint32_t *out)
{
    uint32_t b;
    uint64_t h;
    if (pc->nfree) {
        b = pc->free_stack[--pc->nfree];
        pc->st.free_blocks--;
    } else if (!evict_one(pc, &b, &h)) {
        return VRAM_ENOMEM;
    }
    pc->blocks[b].refs = 1;
    pc->st.held_blocks++;
    *out = b;
    return VRAM_OK;
}

static void push_free(vram_prefix_cache *pc, uint32_t b)
{
    pc->free_stack[pc->nfree++] = b;
    pc->st.free_blocks++;
}

static vram_status resolve(double v, double def, double *out)
{
    if (!(v >= 0))
        return VRAM_EINVAL;
    *out = v > 0 ? v : def;
    return VRAM_OK;
}

static int ops_complete(const vram_prefix_policy_ops *o)
{
    return o->name && o->create && o->destroy && o->insert && o->remove && o->pop && o->member &&
           o->count && o->check;
}

vram_status vram_prefix_cache_create(const vram_prefix_cache_config *cfg, vram_prefix_cache **out)
{
    if (!out)
        return VRAM_EINVAL;
    *out = NULL;
    if (!cfg || !cfg->block_tokens || !cfg->device_blocks ||
        cfg->device_blocks > VRAM_PREFIX_MAX_BLOCKS || cfg->host_blocks > VRAM_PREFIX_MAX_BLOCKS ||
        ((cfg->pool || cfg->host_blocks) && !cfg->block_bytes))
        return VRAM_EINVAL;
    const vram_prefix_policy_ops *ops =
        cfg->policy_ops ? cfg->policy_ops : vram_prefix_policy(cfg->policy ? cfg->policy : "vllm");
    if (!ops || !ops_complete(ops))
        return VRAM_EINVAL;
    double lat, h2d, d2h;
    if (resolve(cfg->cost.copy_latency_ns, VRAM__COST_COPY_LATENCY_NS, &lat) ||
        resolve(cfg->cost.h2d_gbps, VRAM__COST_H2D_GBPS, &h2d) ||
        resolve(cfg->cost.d2h_gbps, VRAM__COST_D2H_GBPS, &d2h))
        return VRAM_EINVAL;

    vram_prefix_cache *pc = calloc(1, sizeof *pc);
    if (!pc)
        return VRAM_ENOHOST;
    uint32_t n = cfg->device_blocks;
    pc->ops = ops;
    pc->block_tokens = cfg->block_tokens;
    pc->block_bytes = cfg->block_bytes;
    pc->nblocks = n;
    /* GB/s is bytes per ns */
    pc->read_ns = lat + (double)cfg->block_bytes / h2d;
    pc->write_ns = lat + (double)cfg->block_bytes / d2h;
    pc->blocks = vram__pc_zalloc(n, sizeof *pc->blocks);
    pc->free_stack = vram__pc_zalloc(n, sizeof *pc->free_stack);
    vram_status st = VRAM_ENOHOST;
    if (!pc->blocks || !pc->free_stack || vram__pc_index_create(&pc->index, n) ||
        vram__pc_host_create(pc, cfg->host_blocks) || (st = ops->create(n, &pc->policy))) {
        vram_prefix_cache_destroy(pc);
        return st;
    }
    for (uint32_t i = 0; i < n; i++) {
        pc->blocks[i].parent = PC_NIL;
        pc->blocks[i].offset = (uint64_t)i * cfg->block_bytes;
        pc->free_stack[i] = n - 1 - i; /* block 0 on top */
    }
    pc->nfree = n;
    if (cfg->pool) {
        for (uint32_t i = 0; i < n; i++) {
            st = vram_heap_alloc(cfg->pool, cfg->block_bytes, 0, &pc->blocks[i].offset);
            if (st) {
                while (i--)
                    vram_heap_free(cfg->pool, pc->blocks[i].offset);
                vram_prefix_cache_destroy(pc);
                return st;
            }
        }
        pc->pool = cfg->pool;
    }
    pc->st.free_blocks = n;
    pc->st.block_tokens = cfg->block_tokens;
    pc->st.device_blocks = n;
    pc->st.host_capacity = cfg->host_blocks;
    *out = pc;
    return VRAM_OK;
}

void vram_prefix_cache_destroy(vram_prefix_cache *pc)
{
    if (!pc)
        return;
    if (pc->pool)
        for (uint32_t i = 0; i < pc->nblocks; i++)
            vram_heap_free(pc->pool, pc->blocks[i].offset);
    if (pc->policy)
        pc->ops->destroy(pc->policy);
    vram__pc_host_destroy(pc);
    vram__pc_index_destroy(&pc->index);
    free(pc->blocks);
    free(pc->free_stack);
    free(pc);
}

static vram_status check_chain(const uint64_t *hashes, size_t n)
{
    if (!hashes || !n)
        return VRAM_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (hashes[i] == VRAM_PREFIX_ROOT)
            return VRAM_EINVAL;
    return VRAM_OK;
}

/* The device block caching hash under parent hash `parent`, or PC_NIL. */
static uint32_t find_device(const vram_prefix_cache *pc, uint64_t hash, uint64_t parent)
{
    uint32_t b = vram__pc_index_find(&pc->index, hash);
    return b != PC_NIL && pc->blocks[b].parent_hash == parent ? b : PC_NIL;
}

static uint32_t find_host(const vram_prefix_cache *pc, uint64_t hash, uint64_t parent)
{
    uint32_t s = vram__pc_host_find(pc, hash);
    return s != PC_NIL && pc->host[s].parent_hash == parent ? s : PC_NIL;
}

vram_status vram_prefix_cache_lookup(const vram_prefix_cache *pc, const uint64_t *hashes,
                                     size_t n, size_t *device_hits, size_t *host_hits)
{
    if (!pc || check_chain(hashes, n))
        return VRAM_EINVAL;
    size_t dev = 0, host = 0;
    uint64_t parent = VRAM_PREFIX_ROOT;
    for (size_t i = 0; i < n; parent = hashes[i++]) {
        if (find_device(pc, hashes[i], parent) != PC_NIL)
            dev++;
        else if (find_host(pc, hashes[i], parent) != PC_NIL)
            host++;
        else
            break;
    }
    if (device_hits)
        *device_hits = dev;
    if (host_hits)
        *host_hits = host;
    return VRAM_OK;
}

vram_status vram_prefix_cache_match(const vram_prefix_cache *pc, const uint64_t *hashes, size_t n,
                                    size_t *hits, size_t *idle)
{
    if (!pc || !hits || check_chain(hashes, n))
        return VRAM_EINVAL;
    size_t dev = 0, unheld = 0;
    uint64_t parent = VRAM_PREFIX_ROOT;
    for (; dev < n; parent = hashes[dev++]) {
        uint32_t b = find_device(pc, hashes[dev], parent);
        if (b == PC_NIL)
            break;
        unheld += pc->blocks[b].refs == 0;
    }
    *hits = dev;
    if (idle)
        *idle = unheld;
    return VRAM_OK;
}

/* A hit on cached block b: one more reference, the access recorded. */
static void hold(vram_prefix_cache *pc, pc_block *b, int priority)
{
    if (b->refs == 0) {
        if (pc->ops->member(pc->policy, id_of(pc, b)))
            policy_remove(pc, b);
        pc->st.held_blocks++;
    }
    b->refs++;
    b->stamp = pc->clock;
    b->hits++;
    if (priority > b->priority)
        b->priority = priority;
}

/* Copies host entry s back into a device block (which the caller made sure
 * exists): the block is held, cached and linked to parent block p. */
static uint32_t promote(vram_prefix_cache *pc, uint32_t s, uint32_t p, int priority)
{
    pc_host e = pc->host[s];
    vram__pc_host_remove(pc, s); /* first: the eviction below then finds room on the host */
    uint32_t v = 0;
    take_block(pc, &v);
    pc_block *b = &pc->blocks[v];
    b->hash = e.hash;
    b->parent_hash = e.parent_hash;
    b->depth = e.depth;
    b->hits = e.hits + 1;
    b->priority = e.priority > priority ? e.priority : priority;
    b->stamp = pc->clock;
    b->cached = 1;
    vram__pc_index_put(&pc->index, b->hash, v);
    pc->st.cached_blocks++;
    link_parent(pc, b, p);
    pc->st.host_hit_blocks++;
    pc->st.host_read_ns += pc->read_ns;
    return v;
}

/* Memory-level parallelism for long chains over a large cache: the index
 * slots of every hash are requested at once (the inserts of the blocks that
 * miss later probe the same slots), then the records of the blocks found and
 * their lines in the policy (a hit checks its membership and may unlink it),
 * so the walk below finds them in cache instead of waiting for each in turn. */
static void prefetch_chain(const vram_prefix_cache *pc, const uint64_t *hashes, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = 0; i < n; i++)
        __builtin_prefetch(&pc->index.slots[vram__pc_index_home(&pc->index, hashes[i])]);
    for (size_t i = 0; i < n; i++) {
        uint32_t b = vram__pc_index_find(&pc->index, hashes[i]);
        if (b == PC_NIL)
            break;
        __builtin_prefetch(&pc->blocks[b]);
        vram__pc_policy_prefetch_hit(pc->ops, pc->policy, b);
    }
}

vram_status vram_prefix_cache_acquire(vram_prefix_cache *pc, const uint64_t *hashes, size_t n,
                                      int priority, uint32_t *blocks, size_t *hits)
{
    if (!pc || !blocks || !hits || check_chain(hashes, n))
        return VRAM_EINVAL;
    pc->clock++;
    prefetch_chain(pc, hashes, n);
    uint64_t parent = VRAM_PREFIX_ROOT;
    uint32_t pblock = PC_NIL;
    size_t i = 0;
    for (; i < n; parent = hashes[i], pblock = blocks[i], i++) {
        uint32_t b = find_device(pc, hashes[i], parent);
        if (b != PC_NIL) {
            hold(pc, &pc->blocks[b], priority);
            pc->st.hit_blocks++;
            blocks[i] = b;
            continue;
        }
        uint32_t s = find_host(pc, hashes[i], parent);
        /* a device block must be free or evictable before the entry moves */
        if (s == PC_NIL || (!pc->nfree && !pc->ops->count(pc->policy)))
            break;
        blocks[i] = promote(pc, s, pblock, priority);
    }
    *hits = i;
    pc->st.lookups++;
    pc->st.lookup_blocks += n;
    return VRAM_OK;
}

vram_status vram_prefix_cache_alloc(vram_prefix_cache *pc, uint32_t *block)
{
    if (!pc || !block)
        return VRAM_EINVAL;
    vram_status st = take_block(pc, block);
    if (st) {
        pc->st.alloc_failures++;
        return st;
    }
    pc->st.allocs++;
    return VRAM_OK;
}

vram_status vram_prefix_cache_insert(vram_prefix_cache *pc, uint32_t block, uint32_t parent,
                                     uint64_t hash, int priority, int *cached)
{
    if (!pc || !cached || hash == VRAM_PREFIX_ROOT || block >= pc->nblocks ||
        !pc->blocks[block].refs)
        return VRAM_EINVAL;
    pc_block *b = &pc->blocks[block];
    if (b->hash)
        return VRAM_EBUSY;
    if (parent != VRAM_PREFIX_NONE &&
        (parent >= pc->nblocks || parent == block || !pc->blocks[parent].refs ||
         !pc->blocks[parent].hash))
        return VRAM_EINVAL;
    pc->clock++;
    const pc_block *p = parent == VRAM_PREFIX_NONE ? NULL : &pc->blocks[parent];
    b->hash = hash;
    b->parent_hash = p ? p->hash : VRAM_PREFIX_ROOT;
    b->depth = p ? p->depth + 1 : 0;
    b->stamp = pc->clock;
    b->hits = 0;
    b->priority = priority;
    if (vram__pc_index_find(&pc->index, hash) != PC_NIL) {
        pc->st.duplicates++;
        *cached = 0;
        return VRAM_OK;
    }
    uint32_t s = vram__pc_host_find(pc, hash);
    if (s != PC_NIL)
        vram__pc_host_remove(pc, s);
    b->cached = 1;
    vram__pc_index_put(&pc->index, hash, block);
    pc->st.cached_blocks++;
    pc->st.inserts++;
    link_parent(pc, b, parent == VRAM_PREFIX_NONE ? PC_NIL : parent);
    *cached = 1;
    return VRAM_OK;
}

vram_status vram_prefix_cache_release(vram_prefix_cache *pc, const uint32_t *blocks, size_t n)
{
    if (!pc || !blocks || !n)
        return VRAM_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (blocks[k] >= pc->nblocks)
            return VRAM_EINVAL;
    /* Validate by dropping every reference, restoring them on failure. */
    for (size_t k = 0; k < n; k++) {
        if (!pc->blocks[blocks[k]].refs) {
            while (k--)
                pc->blocks[blocks[k]].refs++;
            return VRAM_EDOUBLEFREE;
        }
        pc->blocks[blocks[k]].refs--;
    }
    /* Last to first; a block's first visit (its stamp not yet this call's
     * tick) decides where it goes. */
    pc->clock++;
    for (size_t k = n; k--;) {
        pc_block *b = &pc->blocks[blocks[k]];
        if (b->stamp == pc->clock)
            continue;
        b->stamp = pc->clock;
        if (b->refs)
            continue;
        pc->st.held_blocks--;
        if (b->cached) {
            if (vram__pc_evictable(pc, b))
                policy_insert(pc, b);
        } else {
            forget(b); /* a partial block or a duplicate */
            b->stamp = pc->clock; /* still visited: a later occurrence skips it */
            push_free(pc, blocks[k]);
        }
    }
    return VRAM_OK;
}

vram_status vram_prefix_cache_evict_block(vram_prefix_cache *pc, uint32_t *block, uint64_t *hash)
{
    if (!pc)
        return VRAM_EINVAL;
    uint32_t v;
    uint64_t h;
    if (!evict_one(pc, &v, &h))
        return VRAM_ENOTFOUND;
    push_free(pc, v);
    if (block)
        *block = v;
    if (hash)
        *hash = h;
    return VRAM_OK;
}

vram_status vram_prefix_cache_evict(vram_prefix_cache *pc, uint64_t *hash)
{
    return vram_prefix_cache_evict_block(pc, NULL, hash);
}

vram_status vram_prefix_cache_block_get(const vram_prefix_cache *pc, uint32_t block,
                                        vram_prefix_block_info *out)
{
    if (!pc || !out || block >= pc->nblocks)
        return VRAM_EINVAL;
    const pc_block *b = &pc->blocks[block];
    *out = (vram_prefix_block_info){
        .hash = b->hash, .parent_hash = b->parent_hash, .offset = b->offset, .stamp = b->stamp,
        .hits = b->hits, .refs = b->refs, .depth = b->depth, .children = b->children,
        .priority = b->priority, .cached = b->cached,
        .evictable = pc->ops->member(pc->policy, block)};
    return VRAM_OK;
}

int vram_prefix_cache_host_has(const vram_prefix_cache *pc, uint64_t hash)
{
    return pc && hash && vram__pc_host_find(pc, hash) != PC_NIL;
}

const char *vram_prefix_cache_policy_name(const vram_prefix_cache *pc)
{
    return pc ? pc->ops->name : "?";
}

void vram_prefix_cache_stats_get(const vram_prefix_cache *pc, vram_prefix_cache_stats *out)
{
    if (pc && out)
        *out = pc->st;
}
