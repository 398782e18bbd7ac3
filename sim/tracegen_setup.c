/* tracegen_setup.c - the generator's plan (options checked, every size from
 * the budget planner), start-up (header, weights, shared embeddings) and
 * shut-down (everything still held given back). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracegen_internal.h"

/* Activation and workspace bytes of a step of `tokens` tokens over `seqs` requests. */
vram_status vtg__step_buffers(gen *g, uint64_t tokens, uint64_t seqs, uint64_t *act, uint64_t *ws)
{
    vram_runtime_config rt = {.max_batch_tokens = tokens, .max_batch_seqs = seqs};
    vram_budget_profile p;
    vram_status st = vram_budget_profile_get(&g->model, &rt, &p);
    if (st)
        return vtg__fail(g, st, "budget planner: %s", vram_strerror(st));
    *act = p.activation_bytes;
    /* attention and GEMM split-K workspaces: fp32 per query head and token, plus a fixed part */
    *ws = WORKSPACE_FIXED + tokens * (g->model.heads / g->model.tp) * g->model.head_dim * 4;
    return VRAM_OK;
}

static const char *dtype_name(uint32_t bytes)
{
    return bytes == 1 ? "fp8" : bytes == 2 ? "bf16" : bytes == 4 ? "fp32" : "fp64";
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

#define SPEEDUP_MIN 1e-6      /* arrival times stay far below 2^63 us */
#define SPEEDUP_MAX 1e6
#define ADAPTERS_MAX (1u << 20) /* one table entry each */
#define WINDOW_MAX_S 1e12

/* The options the planner does not check, each named with its value. */
static vram_status check_options(gen *g)
{
    const vtracegen_config *c = g->c;
    static const char at_least_1[] = "%s 0: expected at least 1";
    if (!c->max_batch_tokens)
        return vtg__fail(g, VRAM_EINVAL, at_least_1, "--max-batch-tokens");
    if (!c->max_batch_seqs)
        return vtg__fail(g, VRAM_EINVAL, at_least_1, "--max-batch-seqs");
    if (!c->block_tokens)
        return vtg__fail(g, VRAM_EINVAL, at_least_1, "--block-tokens");
    if (!c->contig_min_tokens)
        return vtg__fail(g, VRAM_EINVAL, at_least_1, "contig_min_tokens");
    if (!c->capacity)
        return vtg__fail(g, VRAM_EINVAL, at_least_1, "--capacity-gib");
    if (!(c->utilisation > 0 && c->utilisation <= 1))
        return vtg__fail(g, VRAM_EINVAL, "--utilisation %g: expected a share in (0, 1]", c->utilisation);
    if (!(c->speedup >= SPEEDUP_MIN && c->speedup <= SPEEDUP_MAX))
        return vtg__fail(g, VRAM_EINVAL, "--speedup %g: expected %g to %g", c->speedup, SPEEDUP_MIN,
                         SPEEDUP_MAX);
    if (c->adapters > ADAPTERS_MAX)
        return vtg__fail(g, VRAM_EINVAL, "--adapters %u: expected at most %u", c->adapters, ADAPTERS_MAX);
    if (c->adapters && !c->max_loras)
        return vtg__fail(g, VRAM_EINVAL, "--max-loras 0 with %u adapters: expected at least 1 (or --adapters 0)",
                         c->adapters);
    if (c->adapters && !c->lora_rank)
        return vtg__fail(g, VRAM_EINVAL, "--lora-rank 0 with %u adapters: expected at least 1 (or --adapters 0)",
                         c->adapters);
    if (!(c->adapter_share >= 0 && c->adapter_share <= 1))
        return vtg__fail(g, VRAM_EINVAL, "--adapter-share %g: expected a share in [0, 1]", c->adapter_share);
    if (!(c->start_s >= 0 && c->start_s <= WINDOW_MAX_S))
        return vtg__fail(g, VRAM_EINVAL, "--start-s %g: expected 0 to %g seconds", c->start_s, WINDOW_MAX_S);
    if (!(c->duration_s >= 0 && c->duration_s <= WINDOW_MAX_S))
        return vtg__fail(g, VRAM_EINVAL, "--duration-s %g: expected 0 to %g seconds", c->duration_s,
                         WINDOW_MAX_S);
    return VRAM_OK;
}

/* Model, byte sizes and the KV pool from the planner; checks the options. */
vram_status vtg__plan(gen *g)
{
    const vtracegen_config *c = g->c;
    if (!c->workload)
        return vtg__fail(g, VRAM_EINVAL, "no workload file given");
    if (vram_model_find(c->model, &g->model))
        return vtg__fail(g, VRAM_EINVAL, "unknown model '%s' (see tracegen --help for the built-ins)",
                    c->model ? c->model : "(null)");
    g->model.tp = c->tp;
    vram_status st = vram_model_check(&g->model);
    if (st)
        return vtg__fail(g, VRAM_EINVAL, "model '%s' cannot be split %u ways", c->model, c->tp);
    TRY(check_options(g));
    vram_runtime_config rt = {.max_batch_tokens = c->max_batch_tokens, .max_batch_seqs = c->max_batch_seqs};
    st = vram_budget_profile_get(&g->model, &rt, &g->prof);
    if (st)
        return vtg__fail(g, st, "budget planner: %s", vram_strerror(st));
    g->block_bytes = g->prof.kv_bytes_per_token * c->block_tokens;
    g->seg_bytes = g->prof.kv_bytes_per_token * SEGMENT_TOKENS;
    /* LoRA on q, k, v, o: A (in x r) and B (r x out); column-parallel q/k/v shard
     * B, row-parallel o shards A */
    uint64_t q = (uint64_t)g->model.heads / c->tp * g->model.head_dim;
    uint64_t kv = (g->model.kv_heads >= c->tp ? g->model.kv_heads / c->tp : 1) * (uint64_t)g->model.head_dim;
    uint64_t h = g->model.hidden;
    g->adapter_bytes = (uint64_t)g->model.layers * g->model.dtype_bytes * c->lora_rank *
                       ((h + q) + 2 * (h + kv) + (q + h));
    uint64_t act, ws;
    TRY(vtg__step_buffers(g, c->max_batch_tokens, c->max_batch_seqs, &act, &ws));
    double usable = floor(c->utilisation * (double)c->capacity);
    double reserved = (double)g->prof.device_local_bytes + (double)ws +
                      (double)(c->adapters ? c->max_loras : 0) * (double)g->adapter_bytes;
    if (usable - reserved < (double)(g->block_bytes > g->seg_bytes ? g->block_bytes : g->seg_bytes))
        return vtg__fail(g, VRAM_EINVAL, "no room for the KV cache: %.0f bytes usable, %.0f for weights, "
                    "activations, workspace and adapters", usable, reserved);
    g->pool = (uint64_t)(usable - reserved);
    g->st.kv_pool_bytes = g->pool;
    g->sharing = c->prefix_cache && c->engine == VTRACEGEN_PAGED && c->format == VWORKLOAD_MOONCAKE;
    g->win_start_us = (uint64_t)(c->start_s * 1e6);
    g->win_end_us = c->duration_s > 0 ? g->win_start_us + (uint64_t)(c->duration_s * 1e6) : UINT64_MAX;
    if (c->duration_s > 0) {
        double d = c->duration_s * 1e6 / c->speedup;
        if (d > 0x1p62) /* the window outlasts every arrival (each below 2^63 us) */
            d = 0x1p62;
        g->embed_attach_us = (uint64_t)(d / 4);
        g->embed_detach_us = (uint64_t)(d * 3 / 4);
    }
    snprintf(g->embed_key, sizeof g->embed_key, "base:%s:embed", g->model.name);
    return VRAM_OK;
}

vram_status vtg__write_start(gen *g, const char *path)
{
    const vtracegen_config *c = g->c;
    vtrace_header h = {.version = VTRACE_VERSION, .capacity = c->capacity,
                       .kv_block_bytes = c->engine == VTRACEGEN_PAGED ? g->block_bytes : 0,
                       .kv_token_bytes = g->prof.kv_bytes_per_token,
                       .prefill_tokens_per_s = PREFILL_TOKENS_PER_S};
    snprintf(h.model, sizeof h.model, "%s tp=%u %s", g->model.name, c->tp, dtype_name(g->model.dtype_bytes));
    snprintf(h.engine, sizeof h.engine, "%s", c->engine == VTRACEGEN_PAGED ? "paged" : "contiguous");
    snprintf(h.source, sizeof h.source, "%s", c->source ? c->source : base_name(c->workload));
    snprintf(h.licence, sizeof h.licence, "%s",
             c->licence ? c->licence : c->format == VWORKLOAD_AZURE ? "CC-BY-4.0" : "Apache-2.0");
    errno = 0;
    vram_status st = vtrace_writer_open_as(path, &h, c->gzip, &g->w);
    if (st)
        return vtg__fail(g, st, "%s: cannot write: %s", path, errno ? strerror(errno) : vram_strerror(st));
    char note[512];
    snprintf(note, sizeof note,
             "weights %llu bytes (%u layers of %llu, embeddings shared as %s), KV %llu bytes/token, "
             "KV pool %llu bytes, adapters %u x %llu bytes (at most %u resident), batch %llu tokens / "
             "%llu requests, speedup %g, window %g s + %g s, seed %llu",
             (unsigned long long)g->prof.weights.total, g->model.layers,
             (unsigned long long)g->prof.weights.per_layer, g->embed_key,
             (unsigned long long)g->prof.kv_bytes_per_token, (unsigned long long)g->pool, c->adapters,
             (unsigned long long)g->adapter_bytes, c->max_loras, (unsigned long long)c->max_batch_tokens,
             (unsigned long long)c->max_batch_seqs, c->speedup, c->start_s, c->duration_s,
             (unsigned long long)c->seed);
    if (c->comment && (st = vtrace_write_comment(g->w, c->comment)))
        return st == VRAM_EINVAL ? vtg__fail(g, st, "invalid comment (one line of text expected)")
                                 : vtg__write_failed(g, st);
    if ((st = vtrace_write_comment(g->w, note)))
        return vtg__write_failed(g, st);
    /* start-up: the chat model's shard, its embeddings shared by key; the engine
     * needs all of it at every step */
    TRY(vtg__emit_key(g, VTRACE_SHARED_ACQUIRE, g->embed_key, g->prof.weights.embed, PRIO_WEIGHT,
                      VTRACE_NEED_ENGINE, 0));
    g->nweights = g->model.layers + 2;
    g->weight_ids = calloc(g->nweights, sizeof *g->weight_ids);
    if (!g->weight_ids)
        return vtg__fail(g, VRAM_ENOHOST, "out of host memory");
    for (uint32_t l = 0; l < g->model.layers; l++)
        TRY(vtg__emit_alloc(g, g->prof.weights.per_layer, VRAM_KIND_WEIGHT, PRIO_WEIGHT, VTRACE_NEED_ENGINE, 0,
                            &g->weight_ids[l]));
    TRY(vtg__emit_alloc(g, g->prof.weights.final_norm, VRAM_KIND_WEIGHT, PRIO_WEIGHT, VTRACE_NEED_ENGINE, 0,
                        &g->weight_ids[g->model.layers]));
    if (g->prof.weights.lm_head)
        TRY(vtg__emit_alloc(g, g->prof.weights.lm_head, VRAM_KIND_WEIGHT, PRIO_WEIGHT, VTRACE_NEED_ENGINE, 0,
                            &g->weight_ids[g->model.layers + 1]));
    return VRAM_OK;
}

/* Shut-down: everything still held is given back, in reverse order of taking. */
vram_status vtg__write_end(gen *g)
{
    for (uint32_t a = 0; a < g->c->adapters; a++)
        if (g->ad[a].id) {
            TRY(vtg__emit_id(g, VTRACE_FREE, g->ad[a].id));
            g->ad[a].id = 0;
        }
    int evicted = 1;
    while (evicted)
        TRY(vtg__evict_segment(g, &evicted));
    if (g->embed_state == 1)
        TRY(vtg__emit_key(g, VTRACE_SHARED_RELEASE, g->embed_key, 0, 0, VTRACE_NEED_ENGINE, 0));
    for (size_t i = g->nweights; i-- > 0;)
        if (g->weight_ids[i])
            TRY(vtg__emit_id(g, VTRACE_FREE, g->weight_ids[i]));
    TRY(vtg__emit_key(g, VTRACE_SHARED_RELEASE, g->embed_key, 0, 0, VTRACE_NEED_ENGINE, 0));
    g->st.end_us = g->now;
    char note[320];
    snprintf(note, sizeof note,
             "end: %llu requests, %llu finished, %llu rejected, %llu preemptions, %llu steps, "
             "%llu events, peak KV %llu of %llu bytes, peak %llu running, prefix hits %llu misses %llu",
             (unsigned long long)g->st.requests, (unsigned long long)g->st.finished,
             (unsigned long long)g->st.rejected, (unsigned long long)g->st.preemptions,
             (unsigned long long)g->st.steps, (unsigned long long)g->st.events,
             (unsigned long long)g->st.peak_kv_bytes, (unsigned long long)g->pool,
             (unsigned long long)g->st.peak_running, (unsigned long long)g->st.prefix_hits,
             (unsigned long long)g->st.prefix_misses);
    vram_status st = vtrace_write_comment(g->w, note);
    return st ? vtg__write_failed(g, st) : VRAM_OK;
}
