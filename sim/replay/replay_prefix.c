/* replay_prefix.c - the replay's prefix cache (replay_prefix.h): a trace's
 * pnode, lookup, fill and end events turned into vram_prefix_cache calls,
 * with the key stream kept for the references. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"
#include "prefix_ref.h"
#include "replay_prefix.h"
#include "vram/prefix_cache.h"

/* A prompt segment. Node 0 is the root: depth 0, last key VRAM_PREFIX_ROOT. */
typedef struct pnode {
    uint64_t hash_id;
    uint64_t last_key;   /* the key of its last block: the chain its children continue */
    uint32_t parent, depth;
} pnode;

/* A request between its lookup and its end. Invariants: nkeys >= inserted,
 * nblocks >= inserted; blocks[0 .. nblocks) are held by it (one reference
 * each), blocks[0 .. inserted) have their keys keys[0 ..) as hashes (a hit
 * or an insert); path[0 .. depth) are the nodes from the root's child to the
 * prompt's last. */
typedef struct preq {
    uint32_t *path;
    uint64_t *keys;
    uint32_t *blocks;
    uint32_t depth, prompt_blocks;
    uint32_t nkeys, nblocks, inserted;
    uint32_t keys_cap, blocks_cap;
    int stuck;             /* an allocation failed: no more blocks cached for it */
    uint64_t last_fill;    /* the TOKENS of its latest fill (0: none yet) */
    uint64_t lookup_line;
} preq;

struct vrprefix {
    vram_prefix_cache *pc;
    vsim_idmap *reqs;      /* request id -> preq */
    pnode *nodes;
    uint64_t nnodes, nodes_cap; /* node 0 is the root */
    uint32_t block_tokens, seg_blocks;
    double prefill_tokens_per_s;
    uint64_t *stream;      /* every lookup's keys, in order: the references' input */
    uint64_t nstream, stream_cap;
    vrprefix_result res;   /* the counters this module keeps (the cache's are read at the end) */
};

/* Grows *arr (elements of `size`) to hold `need`; 0 or -1 without memory. */
static int grow(void **arr, uint64_t *cap, uint64_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    uint64_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

static int grow32(void **arr, uint32_t *cap, uint64_t need, size_t size)
{
    uint64_t c = *cap;
    int rc = grow(arr, &c, need, size);
    *cap = (uint32_t)c;
    return rc;
}

vram_status vrprefix_create(const vtrace_header *h, const vrprefix_options *o,
                            double prefill_tokens_per_s, vrprefix **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!h->kv_block_tokens || !h->prefix_segment_tokens)
        return VRAM_OK;
    uint64_t blocks = o->blocks ? o->blocks : h->prefix_cache_blocks;
    if (!blocks && h->kv_block_bytes)
        blocks = h->capacity / h->kv_block_bytes;
    if (!blocks || blocks > VRAM_PREFIX_MAX_BLOCKS || o->host_blocks > VRAM_PREFIX_MAX_BLOCKS) {
        snprintf(err, errlen, "prefix cache of %llu blocks (host %llu): expected 1 to %llu%s",
                 (unsigned long long)blocks, (unsigned long long)o->host_blocks,
                 (unsigned long long)VRAM_PREFIX_MAX_BLOCKS,
                 blocks ? "" : " (the trace gives no prefix_cache_blocks: --prefix-cache-blocks N)");
        return VRAM_EINVAL;
    }
    const char *policy = o->policy ? o->policy : vram_prefix_policy_names[0];
    if (!vram_prefix_policy(policy)) {
        snprintf(err, errlen, "unknown prefix policy '%s' (expected vllm, lru, lfu or priority)",
                 policy);
        return VRAM_EINVAL;
    }
    if (o->host_blocks && !h->kv_block_bytes) {
        snprintf(err, errlen, "a prefix host tier prices its copies by kv_block_bytes, which the "
                              "trace does not give");
        return VRAM_EINVAL;
    }
    vrprefix *p = calloc(1, sizeof *p);
    if (!p)
        goto nomem;
    vram_prefix_cache_config cfg = {
        .block_tokens = (uint32_t)h->kv_block_tokens,
        .device_blocks = (uint32_t)blocks,
        .block_bytes = h->kv_block_bytes,
        .policy = policy,
        .host_blocks = (uint32_t)o->host_blocks,
    };
    if (vram_prefix_cache_create(&cfg, &p->pc) || vsim_idmap_create(sizeof(preq), &p->reqs) ||
        grow((void **)&p->nodes, &p->nodes_cap, 1, sizeof *p->nodes))
        goto nomem;
    p->nodes[0] = (pnode){.last_key = VRAM_PREFIX_ROOT};
    p->nnodes = 1;
    p->block_tokens = (uint32_t)h->kv_block_tokens;
    p->seg_blocks = (uint32_t)(h->prefix_segment_tokens / h->kv_block_tokens);
    p->prefill_tokens_per_s = prefill_tokens_per_s;
    p->res.on = 1;
    snprintf(p->res.policy, sizeof p->res.policy, "%s", policy);
    p->res.blocks = blocks;
    p->res.host_blocks = o->host_blocks;
    p->res.block_tokens = h->kv_block_tokens;
    *out = p;
    return VRAM_OK;
nomem:
    vrprefix_destroy(p);
    snprintf(err, errlen, "prefix cache of %llu blocks: out of host memory",
             (unsigned long long)blocks);
    return VRAM_ENOHOST;
}

static void free_req(preq *q)
{
    free(q->path);
    free(q->keys);
    free(q->blocks);
}

static void free_each(uint64_t id, const char *key, void *value, void *ctx)
{
    (void)id, (void)key, (void)ctx;
    free_req(value);
}

void vrprefix_destroy(vrprefix *p)
{
    if (!p)
        return;
    if (p->reqs) {
        vsim_idmap_each(p->reqs, free_each, NULL);
        vsim_idmap_destroy(p->reqs);
    }
    vram_prefix_cache_destroy(p->pc);
    free(p->nodes);
    free(p->stream);
    free(p);
}

#define FAIL(st, ...) (snprintf(err, errlen, __VA_ARGS__), (st))

static vram_status add_node(vrprefix *p, const vtrace_event *ev)
{
    /* the reader checked the numbering: ev->id == nnodes, ev->node < nnodes */
    if (grow((void **)&p->nodes, &p->nodes_cap, p->nnodes + 1, sizeof *p->nodes))
        return VRAM_ENOHOST;
    const pnode *parent = &p->nodes[ev->node];
    pnode n = {.hash_id = ev->hash, .parent = (uint32_t)ev->node, .depth = parent->depth + 1};
    uint64_t k = parent->last_key;
    for (uint32_t j = 0; j < p->seg_blocks; j++)
        k = vtrace_segment_key(k, ev->hash, j);
    n.last_key = k;
    p->nodes[p->nnodes++] = n;
    return VRAM_OK;
}

/* Makes q->keys[0 .. n) (n <= what its tokens can name). */
static vram_status keys_upto(vrprefix *p, preq *q, uint64_t req, uint32_t n)
{
    if (grow32((void **)&q->keys, &q->keys_cap, n, sizeof *q->keys))
        return VRAM_ENOHOST;
    for (uint32_t i = q->nkeys; i < n; i++) {
        uint64_t prev = i ? q->keys[i - 1] : VRAM_PREFIX_ROOT;
        q->keys[i] = i < q->prompt_blocks
                         ? vtrace_segment_key(prev, p->nodes[q->path[i / p->seg_blocks]].hash_id,
                                       i % p->seg_blocks)
                         : vtrace_request_key(prev, req, i);
    }
    if (n > q->nkeys)
        q->nkeys = n;
    return VRAM_OK;
}

static vram_status lookup(vrprefix *p, const vtrace_event *ev, const char *path, char *err,
                          size_t errlen)
{
    const pnode *last = &p->nodes[ev->node];
    uint64_t seg = (uint64_t)p->seg_blocks * p->block_tokens;
    if (ev->prompt <= seg * (last->depth - 1) || ev->prompt > seg * last->depth)
        return FAIL(VRAM_EPARSE,
                    "%s:%llu: lookup %llu: PROMPT %llu does not end in node %llu, whose segment "
                    "holds tokens %llu to %llu of a prompt",
                    path, (unsigned long long)ev->line, (unsigned long long)ev->id,
                    (unsigned long long)ev->prompt, (unsigned long long)ev->node,
                    (unsigned long long)(seg * (last->depth - 1) + 1),
                    (unsigned long long)(seg * last->depth));
    int created;
    preq *q = vsim_idmap_put(p->reqs, ev->id, &created);
    if (!q)
        return VRAM_ENOHOST;
    if (!created)
        return FAIL(VRAM_EPARSE,
                    "%s:%llu: lookup of request %llu, which holds its blocks since its lookup at "
                    "line %llu (no end since)",
                    path, (unsigned long long)ev->line, (unsigned long long)ev->id,
                    (unsigned long long)q->lookup_line);
    q->lookup_line = ev->line;
    q->depth = last->depth;
    q->prompt_blocks = (uint32_t)(ev->prompt / p->block_tokens);
    uint32_t n = (uint32_t)((ev->tokens - 1) / p->block_tokens);
    q->path = malloc(q->depth * sizeof *q->path);
    if (!q->path ||
        grow32((void **)&q->blocks, &q->blocks_cap, n + 1, sizeof *q->blocks))
        return VRAM_ENOHOST;
    uint32_t node = (uint32_t)ev->node;
    for (uint32_t d = q->depth; d--; node = p->nodes[node].parent)
        q->path[d] = node;
    if (keys_upto(p, q, ev->id, n))
        return VRAM_ENOHOST;
    p->res.lookups++;
    p->res.lookup_tokens += ev->tokens;
    if (!n)
        return VRAM_OK;
    if (grow((void **)&p->stream, &p->stream_cap, p->nstream + n, sizeof *p->stream))
        return VRAM_ENOHOST;
    memcpy(p->stream + p->nstream, q->keys, n * sizeof *q->keys);
    p->nstream += n;
    size_t hits;
    vram_status st = vram_prefix_cache_acquire(p->pc, q->keys, n, 0, q->blocks, &hits);
    if (st)
        return FAIL(VRAM_ECORRUPT, "%s:%llu: vram_prefix_cache_acquire: %s", path,
                    (unsigned long long)ev->line, vram_strerror(st));
    q->nblocks = q->inserted = (uint32_t)hits;
    p->res.saved_tokens += hits * p->block_tokens;
    return VRAM_OK;
}

/* One more block for q, in chain order; a failure (every block held) leaves
 * q stuck: it holds what it has and caches nothing more. */
static vram_status take_block(vrprefix *p, preq *q, const vtrace_event *ev, const char *path,
                              char *err, size_t errlen)
{
    if (grow32((void **)&q->blocks, &q->blocks_cap, q->nblocks + 1, sizeof *q->blocks))
        return VRAM_ENOHOST;
    vram_status st = vram_prefix_cache_alloc(p->pc, &q->blocks[q->nblocks]);
    if (st == VRAM_ENOMEM)
        q->stuck = 1;
    else if (st)
        return FAIL(VRAM_ECORRUPT, "%s:%llu: vram_prefix_cache_alloc: %s", path,
                    (unsigned long long)ev->line, vram_strerror(st));
    else
        q->nblocks++;
    return VRAM_OK;
}

/* A kv alloc that NEEDs a request with a lookup: the generator took a block
 * for it then (engine_blocks.c), so the replay's cache takes one too, at the
 * same moment. */
static vram_status take(vrprefix *p, const vtrace_event *ev, const char *path, char *err,
                        size_t errlen)
{
    preq *q = vsim_idmap_get(p->reqs, ev->owner);
    if (!q || q->stuck)
        return VRAM_OK; /* a request without a lookup is not in the block stream */
    return take_block(p, q, ev, path, err, errlen);
}

static vram_status fill(vrprefix *p, const vtrace_event *ev, const char *path, char *err,
                        size_t errlen)
{
    preq *q = vsim_idmap_get(p->reqs, ev->id);
    if (!q)
        return FAIL(VRAM_EPARSE, "%s:%llu: fill of request %llu without a lookup (since its last "
                                 "end)",
                    path, (unsigned long long)ev->line, (unsigned long long)ev->id);
    if (ev->tokens < q->last_fill)
        return FAIL(VRAM_EPARSE, "%s:%llu: fill %llu %llu goes back (its last fill was %llu tokens)",
                    path, (unsigned long long)ev->line, (unsigned long long)ev->id,
                    (unsigned long long)ev->tokens, (unsigned long long)q->last_fill);
    q->last_fill = ev->tokens;
    uint32_t full = (uint32_t)(ev->tokens / p->block_tokens);
    uint32_t need = (uint32_t)((ev->tokens + p->block_tokens - 1) / p->block_tokens);
    if (keys_upto(p, q, ev->id, full))
        return VRAM_ENOHOST;
    vram_status st = VRAM_OK;
    while (!st && q->nblocks < need && !q->stuck) /* blocks no kv alloc took (a trace without them) */
        st = take_block(p, q, ev, path, err, errlen);
    if (st)
        return st;
    uint32_t upto = full < q->nblocks ? full : q->nblocks;
    for (; q->inserted < upto; q->inserted++) {
        uint32_t i = q->inserted;
        int cached;
        st = vram_prefix_cache_insert(p->pc, q->blocks[i], i ? q->blocks[i - 1] : VRAM_PREFIX_NONE,
                                      q->keys[i], 0, &cached);
        if (st)
            return FAIL(VRAM_ECORRUPT, "%s:%llu: vram_prefix_cache_insert: %s", path,
                        (unsigned long long)ev->line, vram_strerror(st));
    }
    return VRAM_OK;
}

static vram_status end(vrprefix *p, const vtrace_event *ev, const char *path, char *err,
                       size_t errlen)
{
    preq *q = vsim_idmap_get(p->reqs, ev->id);
    if (!q)
        return VRAM_OK; /* a request without a lookup */
    vram_status st = q->nblocks ? vram_prefix_cache_release(p->pc, q->blocks, q->nblocks) : VRAM_OK;
    free_req(q);
    vsim_idmap_remove(p->reqs, ev->id);
    if (st)
        return FAIL(VRAM_ECORRUPT, "%s:%llu: vram_prefix_cache_release: %s", path,
                    (unsigned long long)ev->line, vram_strerror(st));
    return VRAM_OK;
}

vram_status vrprefix_event(vrprefix *p, const vtrace_event *ev, const char *path, char *err,
                           size_t errlen)
{
    vram_status st;
    switch (ev->type) {
    case VTRACE_PNODE:
        st = add_node(p, ev);
        break;
    case VTRACE_LOOKUP:
        st = lookup(p, ev, path, err, errlen);
        break;
    case VTRACE_FILL:
        st = fill(p, ev, path, err, errlen);
        break;
    case VTRACE_ALLOC:
        if (ev->kind != VRAM_KIND_KV || ev->need != VTRACE_NEED_REQUEST)
            return VRAM_OK;
        st = take(p, ev, path, err, errlen);
        break;
    case VTRACE_REQUEST_END:
        st = end(p, ev, path, err, errlen);
        break;
    default:
        return VRAM_OK;
    }
    if (st == VRAM_ENOHOST)
        snprintf(err, errlen, "%s:%llu: prefix cache: out of host memory", path,
                 (unsigned long long)ev->line);
    return st;
}

typedef struct check_ctx {
    const vrprefix *p;
    char *msg;
    size_t len;
    int bad;
} check_ctx;

static void check_req(uint64_t id, const char *key, void *value, void *ctx)
{
    (void)key;
    check_ctx *c = ctx;
    const preq *q = value;
    if (c->bad)
        return;
    if (q->inserted > q->nblocks || q->inserted > q->nkeys) {
        snprintf(c->msg, c->len, "prefix request %llu: %u blocks inserted of %u held, %u keys",
                 (unsigned long long)id, q->inserted, q->nblocks, q->nkeys);
        c->bad = 1;
        return;
    }
    for (uint32_t i = 0; i < q->nblocks && !c->bad; i++) {
        vram_prefix_block_info b;
        if (vram_prefix_cache_block_get(c->p->pc, q->blocks[i], &b) || b.refs == 0 ||
            (i < q->inserted && b.hash != q->keys[i])) {
            snprintf(c->msg, c->len, "prefix request %llu: its block %u (number %u) is not held "
                                     "or not keyed by its chain",
                     (unsigned long long)id, i, q->blocks[i]);
            c->bad = 1;
        }
    }
}

vram_status vrprefix_check(const vrprefix *p, char *msg, size_t msglen)
{
    vram_status st = vram_prefix_cache_check(p->pc, msg, msglen);
    if (st)
        return st;
    check_ctx c = {p, msg, msglen, 0};
    vsim_idmap_each(p->reqs, check_req, &c);
    return c.bad ? VRAM_ECORRUPT : VRAM_OK;
}

vram_status vrprefix_result_get(const vrprefix *p, int references, vrprefix_result *out)
{
    *out = p->res;
    vram_prefix_cache_stats s;
    vram_prefix_cache_stats_get(p->pc, &s);
    out->lookup_blocks = s.lookup_blocks;
    out->hit_blocks = s.hit_blocks;
    out->host_hit_blocks = s.host_hit_blocks;
    out->evictions = s.evictions;
    out->alloc_failures = s.alloc_failures;
    uint64_t hit = s.hit_blocks + s.host_hit_blocks;
    out->hit_ratio = s.lookup_blocks ? (double)hit / (double)s.lookup_blocks : 0;
    out->token_hit_ratio =
        out->lookup_tokens ? (double)out->saved_tokens / (double)out->lookup_tokens : 0;
    out->saved_ms = (double)out->saved_tokens / p->prefill_tokens_per_s * 1e3 - s.host_read_ns / 1e6;
    if (!references)
        return VRAM_OK;
    vram_status st = vprefix_ref_lru(p->stream, p->nstream, p->res.blocks, &out->lru_hits);
    if (!st)
        st = vprefix_ref_belady(p->stream, p->nstream, p->res.blocks, &out->belady_hits);
    if (!st)
        st = vprefix_ref_unlimited(p->stream, p->nstream, &out->unlimited_hits);
    return st;
}
