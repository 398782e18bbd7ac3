/* tracegen_internal.h - the generator's state, shared by its three parts:
 * tracegen.c (requests and the scheduler), tracegen_kv.c (trace output and the
 * KV bookkeeping) and tracegen_setup.c (plan, start-up, shut-down). Internal
 * to sim/. */
#ifndef VTRACEGEN_INTERNAL_H
#define VTRACEGEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"
#include "tracegen.h"
#include "tracegen_prefix.h"
#include "vram/budget.h"

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

typedef struct greq {
    uint64_t rid;              /* request id: the workload line */
    uint64_t arrival_us;       /* engine time */
    uint64_t prompt;           /* tokens to prefill; after a preemption, prompt + generated (recompute) */
    uint64_t output;           /* tokens still to generate */
    uint64_t computed;         /* tokens whose KV exists */
    uint64_t generated;        /* tokens generated since (re)admission */
    uint64_t step_tokens;      /* tokens of the current step */
    int adapter;               /* -1: none */
    /* KV, paged: the first segs_held segments are shared, then nblocks private blocks */
    uint64_t *blocks;
    size_t nblocks, blocks_cap;
    uint64_t *segs;            /* hash ids of the full 512-token segments of the prompt */
    size_t nsegs, segs_held;
    /* KV, contiguous: one buffer of kv_tokens tokens (kv_id 0: none) */
    uint64_t kv_id, kv_tokens;
} greq;

typedef struct adapter {
    uint64_t id;               /* alloc id while resident, else 0 */
    uint64_t last_step;
    uint32_t users;            /* running requests using it; pinned in the trace while > 0 */
} adapter;

typedef struct gen {
    const vtracegen_config *c;
    vtrace_writer *w;
    const char *out_path;      /* the file w writes, for messages */
    vtracegen_stats st;
    vram_model_config model;
    vram_budget_profile prof;
    uint64_t now, next_id;
    uint64_t block_bytes, seg_bytes, adapter_bytes;
    uint64_t pool, used;       /* KV bytes: the planner's budget and what requests and cache hold */
    int sharing;               /* prefix segments are shared */
    /* input */
    vworkload_reader *wl;
    greq *ahead;               /* the next request to arrive, NULL when none is left */
    uint64_t win_start_us, win_end_us;
    /* queues: waiting is a ring, running is in admission order */
    greq **waiting;
    size_t wait_head, wait_len, wait_cap;
    greq **running;
    size_t nrun;
    adapter *ad;
    uint32_t ad_resident;
    vtg_prefix *prefix;
    /* start-up state */
    uint64_t *weight_ids;
    size_t nweights;
    char embed_key[VTRACE_KEY_MAX];
    int embed_state;           /* the embedding model: 0 not yet attached, 1 attached, 2 gone */
    uint64_t embed_attach_us, embed_detach_us;
    char *err;
    size_t errlen;
} gen;

#define TRY(x)                                                                             \
    do {                                                                                   \
        vram_status st_ = (x);                                                             \
        if (st_)                                                                           \
            return st_;                                                                    \
    } while (0)

static inline uint64_t vtg__ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* Records the first error message in g->err and returns st. */
vram_status vtg__fail(gen *g, vram_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "OUT: cannot write: reason" for a failed trace write (errno as vtrace_write left it). */
vram_status vtg__write_failed(gen *g, vram_status st);
/* Trace output at the engine time g->now; a failed write is VRAM_EIO with the message set.
 * need/owner is the NEED field (traces/FORMAT.md, "Needed memory"): VTRACE_NEED_ENGINE for
 * the weights and the shared embeddings, VTRACE_NEED_REQUEST with the request id for a
 * request's KV, VTRACE_NEED_NONE for the rest (owner 0). */
vram_status vtg__emit_alloc(gen *g, uint64_t size, vram_kind kind, int prio, vtrace_need need,
                            uint64_t owner, uint64_t *id);
vram_status vtg__emit_id(gen *g, vtrace_type t, uint64_t id);
/* acquire (size, prio) or release of a shared key; a release names the NEED of its acquire */
vram_status vtg__emit_key(gen *g, vtrace_type t, const char *key, uint64_t size, int prio,
                          vtrace_need need, uint64_t owner);
/* acquire or release of the prefix segment "kv:HASH": r's reference (NEED r->rid), or the
 * prefix cache's own (r NULL: NEED '-', the cache may drop it) */
vram_status vtg__emit_segment(gen *g, vtrace_type t, uint64_t hash, const greq *r);

/* KV bookkeeping against the planner's pool: g->used never exceeds g->pool
 * (callers make room first). */
uint64_t vtg__kv_free(const gen *g);
void vtg__add_used(gen *g, uint64_t bytes);
/* Bytes to add so that r holds `tokens` tokens (paged: blocks; contiguous: the next buffer). */
uint64_t vtg__kv_need(const gen *g, const greq *r, uint64_t tokens);
/* Grows r's KV to hold `tokens` (the bytes are free). */
vram_status vtg__kv_grow(gen *g, greq *r, uint64_t tokens);
/* Frees all of r's KV: blocks or buffer, and its segment references. */
vram_status vtg__kv_release(gen *g, greq *r);
/* Evicts the least recently used idle prefix segment; *evicted = 0 when none is idle. */
vram_status vtg__evict_segment(gen *g, int *evicted);

/* Activation (the planner's) and workspace bytes of a step. */
vram_status vtg__step_buffers(gen *g, uint64_t tokens, uint64_t seqs, uint64_t *act, uint64_t *ws);
/* Checks the options and sizes everything with the planner. */
vram_status vtg__plan(gen *g);
/* Opens the trace, writes the header, comments and the start-up. */
vram_status vtg__write_start(gen *g, const char *path);
/* Frees what is still held and writes the summary comment. */
vram_status vtg__write_end(gen *g);

#endif
