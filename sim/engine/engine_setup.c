/* engine_setup.c - the engine's plan (options checked, every size from the
 * budget planner), start-up (weights, shared embeddings) and shut-down
 * (everything still held given back). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine_internal.h"

/* Activation and workspace bytes of a step of `tokens` tokens over `seqs` requests. */
vram_status vengine__step_buffers(vengine *e, uint64_t tokens, uint64_t seqs, uint64_t *act, uint64_t *ws)
{
    vram_runtime_config rt = {.max_batch_tokens = tokens, .max_batch_seqs = seqs};
    vram_budget_profile p;
    vram_status st = vram_budget_profile_get(&e->plan.model, &rt, &p);
    if (st)
        return vengine_fail(e, st, "budget planner: %s", vram_strerror(st));
    *act = p.activation_bytes;
    /* attention and GEMM split-K workspaces: fp32 per query head and token, plus a fixed part */
    *ws = WORKSPACE_FIXED + tokens * (e->plan.model.heads / e->plan.model.tp) * e->plan.model.head_dim * 4;
    return VRAM_OK;
}

#define SPEEDUP_MIN 1e-6      /* arrival times stay far below 2^63 us */
#define SPEEDUP_MAX 1e6
#define ADAPTERS_MAX (1u << 20) /* one table entry each */
#define WINDOW_MAX_S 1e12

/* The options the planner does not check, each named with its value. */
static vram_status check_options(vengine *e)
{
    const vengine_config *c = e->c;
    static const char at_least_1[] = "%s 0: expected at least 1";
    if (!c->max_batch_tokens)
        return vengine_fail(e, VRAM_EINVAL, at_least_1, "--max-batch-tokens");
    if (!c->max_batch_seqs)
        return vengine_fail(e, VRAM_EINVAL, at_least_1, "--max-batch-seqs");
    if (!c->block_tokens)
        return vengine_fail(e, VRAM_EINVAL, at_least_1, "--block-tokens");
    if (!c->contig_min_tokens)
        return vengine_fail(e, VRAM_EINVAL, at_least_1, "contig_min_tokens");
    if (!c->capacity)
        return vengine_fail(e, VRAM_EINVAL, at_least_1, "--capacity-gib");
    if (!(c->utilisation > 0 && c->utilisation <= 1))
        return vengine_fail(e, VRAM_EINVAL, "--utilisation %g: expected a share in (0, 1]", c->utilisation);
    if (!(c->speedup >= SPEEDUP_MIN && c->speedup <= SPEEDUP_MAX))
        return vengine_fail(e, VRAM_EINVAL, "--speedup %g: expected %g to %g", c->speedup, SPEEDUP_MIN,
                         SPEEDUP_MAX);
    if (c->adapters > ADAPTERS_MAX)
        return vengine_fail(e, VRAM_EINVAL, "--adapters %u: expected at most %u", c->adapters, ADAPTERS_MAX);
    if (c->adapters && !c->max_loras)
        return vengine_fail(e, VRAM_EINVAL,
                            "--max-loras 0 with %u adapters: expected at least 1 (or --adapters 0)", c->adapters);
    if (c->adapters && !c->lora_rank)
        return vengine_fail(e, VRAM_EINVAL,
                            "--lora-rank 0 with %u adapters: expected at least 1 (or --adapters 0)", c->adapters);
    if (!(c->adapter_share >= 0 && c->adapter_share <= 1))
        return vengine_fail(e, VRAM_EINVAL, "--adapter-share %g: expected a share in [0, 1]", c->adapter_share);
    if (!(c->start_s >= 0 && c->start_s <= WINDOW_MAX_S))
        return vengine_fail(e, VRAM_EINVAL, "--start-s %g: expected 0 to %g seconds", c->start_s, WINDOW_MAX_S);
    if (!(c->duration_s >= 0 && c->duration_s <= WINDOW_MAX_S))
        return vengine_fail(e, VRAM_EINVAL, "--duration-s %g: expected 0 to %g seconds", c->duration_s,
                         WINDOW_MAX_S);
    return VRAM_OK;
}

/* Model, byte sizes and the KV pool from the planner; checks the options. */
vram_status vengine__plan(vengine *e)
{
    const vengine_config *c = e->c;
    if (!c->workload)
        return vengine_fail(e, VRAM_EINVAL, "no workload file given");
    if (vram_model_find(c->model, &e->plan.model))
        return vengine_fail(e, VRAM_EINVAL, "unknown model '%s' (see --help for the built-ins)",
                    c->model ? c->model : "(null)");
    e->plan.model.tp = c->tp;
    vram_status st = vram_model_check(&e->plan.model);
    if (st)
        return vengine_fail(e, VRAM_EINVAL, "model '%s' cannot be split %u ways", c->model, c->tp);
    TRY(check_options(e));
    vram_runtime_config rt = {.max_batch_tokens = c->max_batch_tokens, .max_batch_seqs = c->max_batch_seqs};
    st = vram_budget_profile_get(&e->plan.model, &rt, &e->plan.prof);
    if (st)
        return vengine_fail(e, st, "budget planner: %s", vram_strerror(st));
    e->plan.block_bytes = e->plan.prof.kv_bytes_per_token * c->block_tokens;
    e->plan.prefill_tokens_per_s = PREFILL_TOKENS_PER_S;
    /* LoRA on q, k, v, o: A (in x r) and B (r x out); column-parallel q/k/v shard
     * B, row-parallel o shards A */
    uint64_t q = (uint64_t)e->plan.model.heads / c->tp * e->plan.model.head_dim;
    uint64_t kv = (e->plan.model.kv_heads >= c->tp ? e->plan.model.kv_heads / c->tp : 1) *
                  (uint64_t)e->plan.model.head_dim;
    uint64_t h = e->plan.model.hidden;
    e->plan.adapter_bytes = (uint64_t)e->plan.model.layers * e->plan.model.dtype_bytes * c->lora_rank *
                       ((h + q) + 2 * (h + kv) + (q + h));
    uint64_t act, ws;
    TRY(vengine__step_buffers(e, c->max_batch_tokens, c->max_batch_seqs, &act, &ws));
    double usable = floor(c->utilisation * (double)c->capacity);
    double reserved = (double)e->plan.prof.device_local_bytes + (double)ws +
                      (double)(c->adapters ? c->max_loras : 0) * (double)e->plan.adapter_bytes;
    if (usable - reserved < (double)e->plan.block_bytes)
        return vengine_fail(e, VRAM_EINVAL, "no room for the KV cache: %.0f bytes usable, %.0f for weights, "
                    "activations, workspace and adapters", usable, reserved);
    e->plan.pool = (uint64_t)(usable - reserved);
    e->st.kv_pool_bytes = e->plan.pool;
    e->sharing = c->prefix_cache && c->kv == VENGINE_KV_PAGED && c->format == VWORKLOAD_MOONCAKE;
    e->win_start_us = (uint64_t)(c->start_s * 1e6);
    e->win_end_us = c->duration_s > 0 ? e->win_start_us + (uint64_t)(c->duration_s * 1e6) : UINT64_MAX;
    if (c->duration_s > 0) {
        double d = c->duration_s * 1e6 / c->speedup;
        if (d > 0x1p62) /* the window outlasts every arrival (each below 2^63 us) */
            d = 0x1p62;
        e->embed_attach_us = (uint64_t)(d / 4);
        e->embed_detach_us = (uint64_t)(d * 3 / 4);
    }
    snprintf(e->plan.embed_key, sizeof e->plan.embed_key, "base:%s:embed", e->plan.model.name);
    return VRAM_OK;
}

vram_status vengine__start_up(vengine *e)
{
    /* start-up: the chat model's shard, its embeddings shared by key; the engine
     * needs all of it at every step */
    const vram_weight_bytes *w = &e->plan.prof.weights;
    TRY(vengine__emit_key(e, VTRACE_SHARED_ACQUIRE, e->plan.embed_key, w->embed, PRIO_WEIGHT, VTRACE_NEED_ENGINE,
                          0));
    e->nweights = e->plan.model.layers + 2;
    e->weight_ids = calloc(e->nweights, sizeof *e->weight_ids);
    if (!e->weight_ids)
        return vengine_fail(e, VRAM_ENOHOST, "out of host memory");
    for (uint32_t l = 0; l < e->plan.model.layers; l++)
        TRY(vengine__emit_alloc(e, w->per_layer, VRAM_KIND_WEIGHT, PRIO_WEIGHT, VTRACE_NEED_ENGINE, 0,
                                &e->weight_ids[l]));
    TRY(vengine__emit_alloc(e, w->final_norm, VRAM_KIND_WEIGHT, PRIO_WEIGHT, VTRACE_NEED_ENGINE, 0,
                            &e->weight_ids[e->plan.model.layers]));
    if (w->lm_head)
        TRY(vengine__emit_alloc(e, w->lm_head, VRAM_KIND_WEIGHT, PRIO_WEIGHT, VTRACE_NEED_ENGINE, 0,
                                &e->weight_ids[e->plan.model.layers + 1]));
    return VRAM_OK;
}

/* Shut-down: everything still held is given back, in reverse order of taking. */
vram_status vengine__shut_down(vengine *e)
{
    for (uint32_t a = 0; a < e->c->adapters; a++)
        if (e->ad[a].id) {
            TRY(vengine__emit_id(e, VTRACE_FREE, e->ad[a].id));
            e->ad[a].id = 0;
        }
    TRY(vengine__blocks_drain(e));
    if (e->embed_state == 1)
        TRY(vengine__emit_key(e, VTRACE_SHARED_RELEASE, e->plan.embed_key, 0, 0, VTRACE_NEED_ENGINE, 0));
    for (size_t i = e->nweights; i-- > 0;)
        if (e->weight_ids[i])
            TRY(vengine__emit_id(e, VTRACE_FREE, e->weight_ids[i]));
    TRY(vengine__emit_key(e, VTRACE_SHARED_RELEASE, e->plan.embed_key, 0, 0, VTRACE_NEED_ENGINE, 0));
    return VRAM_OK;
}
