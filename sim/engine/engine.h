/* engine.h - the serving engine model: one tensor-parallel shard serving a
 * recorded workload (Azure CSV or Mooncake JSONL) with continuous batching,
 * chunked prefill, first-come-first-served admission, vLLM's preemption rule
 * (the most recently admitted running request goes first), LoRA adapter
 * residency and a prefix cache (Mooncake hash ids; libvram's vram_prefix_cache
 * holds every paged KV block, as vLLM's block pool does). Byte sizes come from the
 * budget planner; time is engine time in microseconds (arrivals from the
 * recording, each step as engine_internal.h models it). Deterministic for a
 * seed.
 *
 * Every memory action is a trace event (trace.h's vocabulary: alloc, free,
 * acquire, release, use, pin, unpin, begin, end, step) handed to a sink, with
 * ids the engine gives. Two drivers:
 *   - open loop (tracegen.c writes the events as a trace):
 *     the engine admits and grows KV by the planner's byte count of the KV
 *     pool and never asks an allocator; the sink must place everything;
 *   - closed loop (serve.c gives them to live managers):
 *     the byte count still bounds the KV bytes (vLLM's KV budget), and the
 *     sink answers an alloc or acquire it cannot place with VRAM_ENOMEM; the
 *     engine then makes room (idle cached prefix blocks first, then preemption of
 *     the newest running request) or, for an admission, gives up and the
 *     request keeps waiting. docs/ENGINE_MODEL.md says which vLLM rules this
 *     follows. */
#ifndef VENGINE_H
#define VENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"
#include "vram/budget.h"
#include "vram/status.h"
#include "workload.h"

typedef enum vengine_kv_style {
    VENGINE_KV_PAGED,      /* blocks of block_tokens tokens, allocated as requests grow */
    VENGINE_KV_CONTIGUOUS, /* one buffer per request, replaced by one twice as large when full */
    /* one buffer per request reserved at admission, never grown (the PagedAttention
     * paper's Orca baselines): */
    VENGINE_KV_MAX,        /* the model's maximum context */
    VENGINE_KV_POW2,       /* prompt + output rounded up to a power of two */
    VENGINE_KV_ORACLE,     /* exactly prompt + output (the recorded output length) */
    VENGINE_KV_COUNT
} vengine_kv_style;

/* The styles' names ("paged", "contiguous", "max", "pow2", "oracle"), one table in engine_kv.c:
 * vengine_kv_name(VENGINE_KV_COUNT) and beyond is NULL; vengine_kv_parse
 * answers 0 and *out, or -1 for another name. */
const char *vengine_kv_name(vengine_kv_style s);
int vengine_kv_parse(const char *name, vengine_kv_style *out);

typedef struct vengine_config {
    const char *model;           /* a budget-planner built-in name; default "llama-3-70b" */
    uint32_t tp;                 /* tensor-parallel degree (one shard is modelled); default 4 */
    vengine_kv_style kv;         /* default paged */
    const char *workload;        /* path of the recording (required); with workload_data, the
                                    name its messages give */
    const void *workload_data;   /* if not NULL: the recording is these workload_size bytes (fuzzers) */
    size_t workload_size;
    vworkload_format format;     /* default azure */
    uint64_t capacity;           /* device bytes; default 80 GiB */
    uint64_t seed;               /* adapter assignment; default 1 */
    double start_s, duration_s;  /* arrivals in [start, start + duration) of recording time;
                                    duration 0 = to the end of the recording */
    double speedup;              /* arrivals come this many times faster (1e-6 to 1e6); default 1 */
    uint64_t max_batch_tokens;   /* tokens per engine step; default 8192 */
    uint64_t max_batch_seqs;     /* requests per engine step; default 256 */
    uint32_t block_tokens;       /* paged KV block; default 16 */
    uint32_t contig_min_tokens;  /* contiguous: a buffer's first size is the prompt rounded up
                                    to this; default 256 */
    double utilisation;          /* share of the device the engine plans with; default 0.9 */
    uint32_t adapters;           /* distinct LoRA adapters; default 8; 0 = none */
    uint32_t max_loras;          /* adapters resident at once; default 4 */
    uint32_t lora_rank;          /* default 64 */
    double adapter_share;        /* share of requests that use an adapter; default 0.3 */
    int prefix_cache;            /* paged + Mooncake: equal hash ids share KV; default 1 */
    const char *prefix_policy;   /* the cache's eviction policy (vram_prefix_policy_names);
                                    NULL: "vllm" */
} vengine_config;

/* Why a running request was preempted (vLLM's rule picks the newest). */
typedef enum vengine_preempt_cause {
    VENGINE_PREEMPT_BUDGET,    /* a running request's next KV is beyond the KV budget */
    VENGINE_PREEMPT_PLACEMENT, /* closed loop: within the budget, but the allocator could not place it */
    VENGINE_PREEMPT_BUFFERS,   /* closed loop: the step's activation or workspace could not be placed */
    VENGINE_PREEMPT_COUNT
} vengine_preempt_cause;

typedef struct vengine_stats {
    uint64_t requests;           /* in the window */
    uint64_t rejected;           /* prompt beyond the context ceiling, or KV beyond the whole pool */
    uint64_t finished;
    uint64_t preemptions;        /* the sum of preempt_by_cause */
    uint64_t preempt_by_cause[VENGINE_PREEMPT_COUNT];
    uint64_t admissions_refused; /* closed loop: admissions undone, the allocator could not place them */
    uint64_t ooms;               /* closed loop: steps run without their buffers (one request left) */
    uint64_t tokens_out;         /* the recorded outputs of the finished requests */
    uint64_t running_sum;        /* running requests summed over the steps (mean batch: / steps) */
    uint64_t steps;
    uint64_t events;             /* handed to the sink and accepted */
    uint64_t prefix_lookup_blocks; /* full prompt blocks looked up at admissions (those that
                                      went through: closed loop, not the ones undone) */
    uint64_t prefix_hit_blocks;    /* of those, found cached (not computed again) */
    uint64_t prefix_evictions;     /* cached blocks evicted (reused for new KV, or to make room) */
    uint64_t kv_pool_bytes;      /* the planner's KV budget */
    uint64_t peak_kv_bytes;      /* most of it in use at once */
    uint64_t peak_running;       /* most requests in one step */
    uint64_t end_us;             /* engine time of the last event */
} vengine_stats;

/* What the planner sized, for a driver's header and notes. */
typedef struct vengine_plan {
    vram_model_config model;     /* the built-in, split tp ways */
    vram_budget_profile prof;    /* at max_batch_tokens / max_batch_seqs */
    uint64_t block_bytes;        /* a paged KV block */
    uint64_t adapter_bytes;      /* one LoRA adapter's shard */
    uint64_t pool;               /* the KV budget */
    uint64_t prefill_tokens_per_s; /* the step model's prefill rate */
    uint64_t prefix_blocks;      /* the prefix cache's blocks: the pool in KV blocks (paged
                                    + Mooncake); 0: no prefix cache, no prefix events */
    char embed_key[VTRACE_KEY_MAX]; /* the shared token embeddings */
} vengine_plan;

/* A finished request's times, engine microseconds. */
typedef struct vengine_request_times {
    uint64_t rid;                /* the workload line */
    uint64_t arrival_us, admitted_us, first_token_us, end_us; /* admitted: first admission */
    uint64_t output;             /* tokens generated (the recorded output) */
} vengine_request_times;

/* Where the engine's events go. `event` gets every event with ts_us set; any
 * failure but VRAM_ENOMEM ends the run (the sink writes its message first,
 * through vengine_fail). VRAM_ENOMEM (closed loop only): the alloc or the
 * first acquire of a key was not placed and nothing is held for it. `note`
 * (may be NULL) gets a line of commentary, e.g. a rejected request; `done`
 * (may be NULL) each finished request's times; `stepped` below. */
typedef struct vengine_sink {
    vram_status (*event)(void *ctx, const vtrace_event *ev);
    vram_status (*note)(void *ctx, const char *text);
    vram_status (*done)(void *ctx, const vengine_request_times *t);
    /* (may be NULL) after a step's memory is placed, before it runs for dur_us */
    vram_status (*stepped)(void *ctx, uint64_t dur_us);
    void *ctx;
} vengine_sink;

typedef struct vengine vengine;

/* Fills *c with the defaults above (workload NULL). */
void vengine_defaults(vengine_config *c);

/* Checks the options, sizes everything with the planner and opens the
 * workload. err (errlen bytes, may be NULL) keeps the first error message of
 * everything the engine and its sink report until vengine_destroy. Fails
 * with VRAM_EINVAL (unknown model; an option out of range, named with its
 * value: zero tp, batch or block, utilisation outside (0, 1], speedup outside
 * [1e-6, 1e6], more than 2^20 adapters, adapters with max_loras or lora_rank
 * 0, a window beyond 1e12 s; no KV room left by the weights), the workload's
 * open status (file:line), VRAM_ENOHOST. *out is NULL on failure. */
vram_status vengine_create(const vengine_config *c, const vengine_sink *sink, char *err, size_t errlen,
                           vengine **out);
void vengine_destroy(vengine *e);
const vengine_plan *vengine_plan_of(const vengine *e);
const vengine_stats *vengine_stats_of(const vengine *e);

/* Start-up: the shared embeddings and the weights, then the first arrival
 * read. Then vengine_advance until *done, then vengine_finish (what is still
 * held given back). Each fails with the sink's status, VRAM_EPARSE (workload
 * file:line), VRAM_EINVAL (an arrival beyond 2^63 us), VRAM_ECORRUPT (an
 * engine bug, in words), VRAM_ENOHOST, VRAM_ENOMEM (closed loop: memory the
 * engine cannot do without, the weights, did not fit); the message is in err.
 * Cost: linear in the workload and in the events. */
vram_status vengine_start(vengine *e);
/* Takes the arrivals due, then runs one step, or jumps to the next arrival
 * when nothing can run. */
vram_status vengine_advance(vengine *e, int *done);
vram_status vengine_finish(vengine *e);

/* The engine's side of the KV ledger: the KV bytes it holds (requests'
 * blocks and buffers, cached prefix blocks) split by what their token
 * slots hold. tokens + reserved + unused == held at every moment
 * (vengine_check). */
typedef struct vengine_kv_ledger {
    uint64_t held;      /* KV bytes held, within the budget (plan.pool) */
    uint64_t tokens;    /* token states: tokens computed; a cached block (full by definition)
                           counts once however many requests hold it */
    uint64_t reserved;  /* slots that running requests' future tokens will fill */
    uint64_t unused;    /* slots no token will fill: a reservation beyond the request's true
                           length (the tail of its last block, a doubled, rounded or maximal buffer) */
} vengine_kv_ledger;

/* O(running requests). */
void vengine_kv_ledger_get(const vengine *e, vengine_kv_ledger *out);
/* The engine's invariants: VRAM_OK, or VRAM_ECORRUPT with the first violation
 * in words (msg, len): the KV bytes held are the requests' and the cache's
 * and within the budget, the ledger adds up, no running request computed
 * beyond what it holds, each request's full keyed blocks cached, the batch
 * within max_batch_seqs, and (paged) the prefix cache's own check. O(running
 * + the pool's blocks). */
vram_status vengine_check(const vengine *e, char *msg, size_t len);
uint64_t vengine_now(const vengine *e);
/* Requests running and waiting now. */
void vengine_load(const vengine *e, uint64_t *running, uint64_t *waiting);
/* The smallest KV allocation the engine asks for next, bytes: paged, a
 * block; the buffer styles, the head of the queue's buffer or a running
 * contiguous request's next one (0 when none is wanted). O(running). */
uint64_t vengine_next_kv_bytes(const vengine *e);

/* Records the first error message in err (of vengine_create) and returns st. */
vram_status vengine_fail(vengine *e, vram_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
