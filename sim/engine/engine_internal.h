/* engine_internal.h - the engine's state, shared by its parts: engine.c
 * (requests and the scheduler), engine_kv.c (events and the KV bookkeeping),
 * engine_blocks.c (paged KV in a prefix cache), engine_prefix.c (the trace's
 * prefix stream) and engine_setup.c (plan, start-up, shut-down). Internal to
 * sim/. */
#ifndef VENGINE_INTERNAL_H
#define VENGINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "fail.h"
#include "idmap.h"
#include "vram/prefix_cache.h"

#define PRIO_WEIGHT 100
#define PRIO_ACTIVATION 90
#define PRIO_ADAPTER 50
#define PRIO_KV 10
#define SEGMENT_TOKENS VWORKLOAD_MOONCAKE_BLOCK_TOKENS
/* A step lasts STEP_BASE_US + prefill tokens * PREFILL_NS_PER_TOKEN / 1000 +
 * context tokens read / KV_TOKENS_PER_US microseconds: a 4-GPU H100-class node
 * serving a 70B model, ~10 ms per decode step, ~16k prefill tokens/s. */
#define STEP_BASE_US 10000
#define PREFILL_NS_PER_TOKEN 60000
/* the header's prefill_tokens_per_s: 1e9 / PREFILL_NS_PER_TOKEN, rounded (16667) */
#define PREFILL_TOKENS_PER_S ((UINT64_C(1000000000) + PREFILL_NS_PER_TOKEN / 2) / PREFILL_NS_PER_TOKEN)
#define KV_TOKENS_PER_US 32
#define WORKSPACE_FIXED (UINT64_C(32) << 20) /* a step's workspace beside its per-token part */
#define ADMIT_LOOKAHEAD 64        /* waiting requests looked at for a free adapter slot */

typedef struct ereq {
    uint64_t rid;              /* request id: the workload line */
    uint64_t arrival_us;       /* engine time */
    uint64_t prompt;           /* tokens to prefill; after a preemption, prompt + generated (recompute) */
    uint64_t output;           /* tokens still to generate */
    uint64_t computed;         /* tokens whose KV exists */
    uint64_t generated;        /* tokens generated since (re)admission */
    uint64_t step_tokens;      /* tokens of the current step */
    uint64_t out_total;        /* the recorded output (output counts down through preemptions) */
    uint64_t admitted_us, first_token_us; /* first admission, first token; UINT64_MAX: not yet */
    int adapter;               /* -1: none */
    /* KV, paged (engine_blocks.c): blocks[0 .. nblocks) are the prefix cache's
     * blocks holding its tokens, in order, one reference each; the first nhit
     * were cached hits at admission (pinned); the first ninserted are hits or
     * full blocks inserted since (ninserted = min(computed / block_tokens,
     * nkeys) between steps), ndup of them duplicates (private); keys[0 ..
     * nkeys) are its full blocks' keys (traces/FORMAT.md; nkeys 0: none is
     * cached) */
    uint32_t *blocks;
    size_t nblocks, blocks_cap, nhit, ninserted, ndup;
    uint64_t *keys;
    size_t nkeys;
    /* KV, contiguous: one buffer of kv_tokens tokens (kv_id 0: none) */
    uint64_t kv_id, kv_tokens;
    /* the prefix block stream (engine_prefix.c): the hash ids of the segments
     * the prompt reaches (npath 0: none), the prompt's tokens along them, the
     * full blocks of the last fill since the lookup */
    uint64_t *path;
    size_t npath;
    uint64_t path_prompt, filled_blocks;
} ereq;

typedef struct adapter {
    uint64_t id;               /* alloc id while resident, else 0 */
    uint64_t last_step;
    uint32_t users;            /* running requests using it; pinned while > 0 */
} adapter;

struct vengine {
    const vengine_config *c;
    vengine_sink sink;
    vengine_stats st;
    vengine_plan plan;
    uint64_t now, next_id;
    uint64_t used;             /* KV bytes requests and the prefix cache hold (<= plan.pool);
                                  paged: the cache's blocks not free, times block_bytes */
    int sharing;               /* requests with hash ids key their blocks (the cache shares them) */
    /* input */
    vworkload_reader *wl;
    ereq *ahead;               /* the next request to arrive, NULL when none is left */
    uint64_t win_start_us, win_end_us;
    /* queues: waiting is a ring, running is in admission order */
    ereq **waiting;
    size_t wait_head, wait_len, wait_cap;
    ereq **running;
    size_t nrun;
    adapter *ad;
    uint32_t ad_resident;
    vram_prefix_cache *kvc;    /* paged: every KV block of the pool */
    uint64_t *blk_id;          /* paged: the trace id of each cache block in use, 0 when free */
    vsim_idmap *trie;          /* (parent node, hash id) -> its pnode; NULL: no prefix stream */
    uint64_t pnodes;           /* pnode events so far: nodes 1 .. pnodes */
    /* start-up state */
    uint64_t *weight_ids;
    size_t nweights;
    int embed_state;           /* the embedding model: 0 not yet attached, 1 attached, 2 gone */
    uint64_t embed_attach_us, embed_detach_us;
    char *err;
    size_t errlen;
};

static inline uint64_t vengine__ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* The tokens whose KV r will ever hold: the recorded prompt + output - 1 (the
 * last token generated is never fed back). */
static inline uint64_t vengine__kv_total(const ereq *r)
{
    return r->prompt + r->output - 1;
}

/* Events at the engine time e->now. need/owner is the NEED field
 * (traces/FORMAT.md, "Needed memory"): VTRACE_NEED_ENGINE for the weights and
 * the shared embeddings, VTRACE_NEED_REQUEST with the request id for a
 * request's KV, VTRACE_NEED_NONE for the rest (owner 0). */
vram_status vengine__emit_alloc(vengine *e, uint64_t size, vram_kind kind, int prio, vtrace_need need,
                                uint64_t owner, uint64_t *id);
vram_status vengine__emit_id(vengine *e, vtrace_type t, uint64_t id);
/* acquire (size, prio) or release of a shared key; a release names the NEED of its acquire */
vram_status vengine__emit_key(vengine *e, vtrace_type t, const char *key, uint64_t size, int prio,
                              vtrace_need need, uint64_t owner);
vram_status vengine__note(vengine *e, const char *text);
/* Any event (its ts_us set here). */
vram_status vengine__emit(vengine *e, vtrace_event *ev);

/* The prefix block stream (engine_prefix.c; traces/FORMAT.md, "Prefix cache"),
 * when requests share blocks: open sizes plan.prefix_blocks and the trie;
 * path keeps the hash ids a new request's prompt reaches; lookup emits the
 * pnodes its path adds and its lookup, at each admission; fill emits a fill
 * when its full blocks grew. */
vram_status vengine__prefix_open(vengine *e);
void vengine__prefix_close(vengine *e);
vram_status vengine__prefix_path(vengine *e, ereq *r, const uint64_t *hash_ids, size_t n);
vram_status vengine__prefix_lookup(vengine *e, ereq *r);
vram_status vengine__prefix_fill(vengine *e, ereq *r);

/* Paged KV (engine_blocks.c): the pool as a vram_prefix_cache of
 * plan.pool / block_bytes blocks. open/close the cache; keys computes r's
 * block keys from its path (none without one); fit says whether r can hold
 * `tokens` now (not yet admitted: its cached hits taken, the rest from free
 * blocks or evictable cached ones, the idle hits not counted as evictable);
 * acquire takes the hits at admission (pins them); grow gives r blocks up to
 * `tokens` (evicting cached blocks the policy picks when none is free); fill
 * caches r's newly full blocks; release drops all of r's blocks (the
 * uncached ones are freed); evict frees one idle cached block (*evicted 0
 * when none; counted in prefix_evictions, as are the victims grow reuses). grow fails with the sink's VRAM_ENOMEM (closed loop) with
 * nothing held for the block it could not place. */
vram_status vengine__blocks_open(vengine *e);
void vengine__blocks_close(vengine *e);
vram_status vengine__blocks_keys(vengine *e, ereq *r);
int vengine__blocks_fit(const vengine *e, const ereq *r, uint64_t tokens);
vram_status vengine__blocks_acquire(vengine *e, ereq *r);
/* Counts an admission's lookup and hits in the stats, once it went through
 * (a closed-loop admission undone and tried again counts once). */
void vengine__blocks_admitted(vengine *e, const ereq *r);
vram_status vengine__blocks_grow(vengine *e, ereq *r, uint64_t tokens);
vram_status vengine__blocks_fill(vengine *e, ereq *r);
vram_status vengine__blocks_release(vengine *e, ereq *r);
vram_status vengine__blocks_evict(vengine *e, int *evicted);
/* Shut-down: frees every idle cached block (not counted as evictions). */
vram_status vengine__blocks_drain(vengine *e);
/* The ledger's paged part and the cache's invariants (see vengine_check). */
void vengine__blocks_ledger(const vengine *e, vengine_kv_ledger *out);
vram_status vengine__blocks_check(const vengine *e, char *msg, size_t len);

/* KV bookkeeping against the planner's pool: e->used never exceeds plan.pool
 * (callers make room first). */
uint64_t vengine__kv_free(const vengine *e);
void vengine__add_used(vengine *e, uint64_t bytes);
/* Whether r can grow to hold `tokens` now: paged, its blocks come from free
 * or evictable blocks; the buffer styles, the bytes are free. */
int vengine__kv_room(const vengine *e, const ereq *r, uint64_t tokens);
/* Bytes to add so that r holds `tokens` (paged: blocks; contiguous: the next buffer). */
uint64_t vengine__kv_need(const vengine *e, const ereq *r, uint64_t tokens);
/* Grows r's KV to hold `tokens` (kv_room said it can). */
vram_status vengine__kv_grow(vengine *e, ereq *r, uint64_t tokens);
/* Frees all of r's KV: its blocks (the cached ones stay) or its buffer. */
vram_status vengine__kv_release(vengine *e, ereq *r);

/* Activation (the planner's) and workspace bytes of a step. */
vram_status vengine__step_buffers(vengine *e, uint64_t tokens, uint64_t seqs, uint64_t *act, uint64_t *ws);
/* Checks the options and sizes everything with the planner. */
vram_status vengine__plan(vengine *e);
/* The start-up events: the shared embeddings, the weights. */
vram_status vengine__start_up(vengine *e);
/* Frees what is still held. */
vram_status vengine__shut_down(vengine *e);

#endif
