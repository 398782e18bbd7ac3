/* tracegen.h - the trace generator: a model configuration (from the budget
 * planner) x an engine style (paged or contiguous KV) x a recorded workload
 * (Azure CSV or Mooncake JSONL), run through a continuous-batching scheduler
 * model, written as a trace (traces/FORMAT.md). Deterministic for a seed.
 *
 * The scheduler admits a request only when its KV fits by the planner's byte
 * count (never by asking an allocator), so the trace is the same for every
 * allocator policy. traces/README.md describes the model in words. */
#ifndef VTRACEGEN_H
#define VTRACEGEN_H

#include <stdint.h>

#include "vram/status.h"
#include "workload.h"

typedef enum vtracegen_engine {
    VTRACEGEN_PAGED,      /* KV in blocks of block_tokens tokens, allocated as requests grow */
    VTRACEGEN_CONTIGUOUS  /* one KV buffer per request, replaced by one twice as large when full */
} vtracegen_engine;

typedef struct vtracegen_config {
    const char *model;           /* a budget-planner built-in name; default "llama-3-70b" */
    uint32_t tp;                 /* tensor-parallel degree (the trace is one shard); default 4 */
    vtracegen_engine engine;     /* default paged */
    const char *workload;        /* path of the recording (required) */
    vworkload_format format;     /* default azure */
    const char *source;          /* header `source`; default the workload's file name */
    const char *licence;         /* header `licence`; default by format (CC-BY-4.0 / Apache-2.0) */
    const char *comment;         /* written as a comment after the header (e.g. the command); may be NULL */
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
    int gzip;                    /* write gzip whatever the file name; default 0 */
} vtracegen_config;

typedef struct vtracegen_stats {
    uint64_t requests;           /* in the window */
    uint64_t rejected;           /* prompt beyond the context ceiling, or KV beyond the whole pool */
    uint64_t finished;
    uint64_t preemptions;
    uint64_t steps;
    uint64_t events;
    uint64_t prefix_hits, prefix_misses;  /* 512-token segments found resident or not */
    uint64_t kv_pool_bytes;      /* the planner's KV budget */
    uint64_t peak_kv_bytes;      /* most of it in use at once */
    uint64_t peak_running;       /* most requests in one step */
    uint64_t end_us;             /* engine time of the last event */
} vtracegen_stats;

/* Fills *c with the defaults above (workload NULL). */
void vtracegen_defaults(vtracegen_config *c);

/* Generates the trace into `path` (written to "path.tmp" and renamed at the end,
 * so a failed run leaves no trace behind; a device or link is written in place:
 * vtrace_output_begin). Cost: linear in the workload and in
 * the events written; memory: the requests waiting and running, and one table
 * entry per distinct prefix hash. Fails with err naming the cause: VRAM_EINVAL
 * (unknown model; an option out of range, named with its value: zero tp, batch
 * or block, utilisation outside (0, 1], speedup outside [1e-6, 1e6], more than
 * 2^20 adapters, adapters with max_loras or lora_rank 0, a window beyond 1e12 s;
 * no KV room left by the weights; an arrival beyond 2^63 us; an output that is
 * a directory or the workload file itself),
 * VRAM_EPARSE (workload file:line), VRAM_EIO (cannot read or write),
 * VRAM_ENOHOST. *st may be NULL. */
vram_status vtracegen_run(const vtracegen_config *c, const char *path, vtracegen_stats *st, char *err,
                          size_t errlen);

#endif
