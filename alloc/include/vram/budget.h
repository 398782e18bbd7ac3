/* vram/budget.h - the memory budget planner: what a model needs on one device.
 *
 * From a model configuration (one tensor-parallel shard of it) and a runtime
 * configuration the planner derives a memory profile: weight bytes, fixed
 * runtime bytes (activations of the largest step, CUDA context), KV bytes per
 * context token, and the host-visible (pinned host) bytes beside them. From the
 * profile: the largest context that fits a device budget, an automatic context
 * size, and per-request budgets.
 *
 * All arithmetic is checked (__builtin_*_overflow): a configuration whose
 * numbers do not fit in 64 bits is VRAM_EOVERFLOW, an inconsistent one
 * VRAM_EINVAL; nothing wraps, nothing is undefined. Every call is O(1) unless
 * said otherwise and keeps no state. */
#ifndef VRAM_BUDGET_H
#define VRAM_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "vram/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The smallest context the automatic size chooses (unless the model's ceiling is lower). */
#define VRAM_BUDGET_MIN_AUTO_CONTEXT 4096u

/* A decoder-only transformer (Llama / Mixtral family: RMSNorm, gated MLP, GQA).
 * Sizes are of the whole model; tp says how many shards it is split into. */
typedef struct vram_model_config {
    const char *name;          /* e.g. "llama-3-70b"; not owned */
    uint32_t layers;
    uint32_t hidden;           /* model width */
    uint32_t heads;            /* query heads */
    uint32_t kv_heads;         /* key/value heads (GQA); divides heads */
    uint32_t head_dim;
    uint32_t intermediate;     /* MLP width (of one expert for MoE) */
    uint32_t vocab;
    uint32_t dtype_bytes;      /* bytes per weight element: 1, 2, 4 or 8 */
    uint32_t tp;               /* tensor-parallel degree >= 1; divides heads; kv_heads
                                  and tp divide one another (KV heads are replicated
                                  when tp > kv_heads) */
    uint64_t context_max;      /* the model's context ceiling in tokens */
    uint32_t experts;          /* MoE: experts per layer; 0 = dense */
    uint32_t active_experts;   /* MoE: experts each token runs through (1..experts) */
    int tied_embeddings;       /* non-zero: the lm head is the embedding matrix */
} vram_model_config;

/* Weight bytes of ONE shard (tp = model.tp). Formulas, with
 *   q = heads/tp * head_dim, kv = max(kv_heads/tp, 1) * head_dim,
 *   f = ceil(intermediate/tp), v = ceil(vocab/tp), E = max(experts, 1), d = dtype_bytes:
 *   attn_q = d*hidden*q, attn_k = attn_v = d*hidden*kv, attn_o = d*q*hidden;
 *   mlp_gate = mlp_up = mlp_down = d*E*hidden*f; router = d*hidden*experts (replicated);
 *   norms = d*2*hidden (attention and MLP RMSNorm, replicated);
 *   per_layer = the sum of the above;
 *   embed = d*v*hidden, lm_head = embed (0 when tied), final_norm = d*hidden;
 *   total = layers*per_layer + embed + lm_head + final_norm.
 * Llama-3-70B at tp=1: 70,553,706,496 parameters. */
typedef struct vram_weight_bytes {
    uint64_t attn_q, attn_k, attn_v, attn_o;  /* per layer */
    uint64_t mlp_gate, mlp_up, mlp_down;      /* per layer, all experts */
    uint64_t router;                          /* per layer; 0 for dense models */
    uint64_t norms;                           /* per layer */
    uint64_t per_layer;
    uint64_t embed, lm_head, final_norm;
    uint64_t total;
} vram_weight_bytes;

/* How the model is served. Zero fields take the defaults named here. */
typedef struct vram_runtime_config {
    uint64_t max_batch_tokens;   /* tokens in the largest forward step; default 8192 */
    uint64_t max_batch_seqs;     /* sequences in one step (rows of logits); default 256 */
    uint64_t cuda_context_bytes; /* CUDA context plus cuBLAS/NCCL workspaces: an estimate,
                                    default 512 MiB; measure it (nvidia-smi of an idle
                                    process with the libraries loaded) for a real device */
    uint32_t kv_dtype_bytes;     /* bytes per KV element; default the model's dtype_bytes */
    uint64_t host_swap_bytes;    /* pinned host space for preempted KV; default 0 */
} vram_runtime_config;

/* The memory profile of one shard.
 *   activation_bytes = max_batch_tokens * d * (2*hidden + 2*q + 2*kv + 3*f*A)
 *                      + max_batch_seqs * 4 * v
 *     (one layer's peak, layers run one after another: residual and normed input,
 *      q/k/v, attention output, gate/up/product of the A = max(active_experts, 1)
 *      experts a token visits; fp32 logits of the sampled rows);
 *   fixed_bytes = activation_bytes + cuda_context_bytes;
 *   kv_bytes_per_token = 2 (K and V) * layers * max(kv_heads/tp, 1) * head_dim * kv_dtype_bytes
 *     (= 2*layers*kv_heads*head_dim*kv_dtype_bytes/tp when tp divides kv_heads;
 *      Llama-3-70B bf16: 327,680 at tp=1, 81,920 at tp=4);
 *   device_local_bytes = weights.total + fixed_bytes (the KV cache comes on top);
 *   host_visible_bytes = max_batch_tokens * 16 (token ids and positions, int64)
 *                        + max_batch_seqs * 8 (sampled ids) + host_swap_bytes. */
typedef struct vram_budget_profile {
    vram_weight_bytes weights;
    uint64_t activation_bytes;
    uint64_t cuda_context_bytes;
    uint64_t fixed_bytes;
    uint64_t kv_bytes_per_token;
    uint64_t device_local_bytes;
    uint64_t host_visible_bytes;
    uint64_t context_max;        /* copied from the model */
} vram_budget_profile;

/* A request's share of the context. */
typedef struct vram_request_budget {
    uint64_t prompt_tokens;
    uint64_t completion_tokens;  /* granted: min(asked, context - prompt) */
    uint64_t total_tokens;       /* prompt + completion <= context */
    uint64_t kv_bytes;           /* total_tokens * kv_bytes_per_token */
    int clamped;                 /* non-zero when fewer completion tokens than asked */
} vram_request_budget;

/* Built-in configurations (tp = 1), public numbers from each model's config.json:
 * "llama-3-70b" and "llama-3-8b" (Llama 3, ceiling 8192), "llama-3.1-70b" (ceiling
 * 131072), "mixtral-8x7b" (MoE, 8 experts, 2 active, ceiling 32768).
 * Copies the named one into *out. VRAM_ENOTFOUND for an unknown name, VRAM_EINVAL
 * for NULL arguments. O(number of built-ins). */
vram_status vram_model_find(const char *name, vram_model_config *out);
/* The i-th built-in configuration, NULL past the last (for listings). */
const vram_model_config *vram_model_builtin(size_t i);

/* VRAM_OK when the configuration is usable, else VRAM_EINVAL (a zero field, a
 * dtype that is not 1/2/4/8 bytes, tp not dividing heads, kv_heads not dividing
 * heads, kv_heads and tp not dividing one another, active_experts outside
 * 1..experts for MoE or non-zero for dense, NULL name). */
vram_status vram_model_check(const vram_model_config *m);

/* Weight bytes of one shard (formulas at vram_weight_bytes). VRAM_EINVAL as
 * vram_model_check, VRAM_EOVERFLOW when a product exceeds 64 bits. */
vram_status vram_model_weights(const vram_model_config *m, vram_weight_bytes *out);

/* The profile of one shard served with `rt` (NULL = all defaults). Fails as
 * vram_model_weights, and VRAM_EINVAL for a kv_dtype_bytes not 1/2/4/8. */
vram_status vram_budget_profile_get(const vram_model_config *m, const vram_runtime_config *rt,
                                    vram_budget_profile *out);

/* The largest number of context (KV) tokens that fit in `device_bytes` beside
 * the device-local bytes: (device_bytes - device_local_bytes) / kv_bytes_per_token,
 * not clamped to the ceiling. VRAM_ENOMEM when not one token fits, VRAM_EINVAL for
 * a NULL argument or a profile with kv_bytes_per_token 0. */
vram_status vram_budget_max_context(const vram_budget_profile *p, uint64_t device_bytes,
                                    uint64_t *tokens);

/* The automatic context size: floor(utilisation * device_bytes) minus the
 * device-local bytes, divided by kv_bytes_per_token, clamped to the model's
 * ceiling, and raised to VRAM_BUDGET_MIN_AUTO_CONTEXT (or the ceiling, if lower)
 * when smaller: the floor may exceed what fits; *fits tells (may be NULL).
 * VRAM_EINVAL when utilisation is not in (0, 1] (NaN included) or an argument is
 * NULL; VRAM_ENOMEM when the weights and fixed bytes alone exceed the budget. */
vram_status vram_budget_auto_context(const vram_budget_profile *p, uint64_t device_bytes,
                                     double utilisation, uint64_t *tokens, int *fits);

/* A request's budget within a context of `context_tokens`: the completion is
 * clamped to what the prompt leaves (asking UINT64_MAX means "as much as fits").
 * VRAM_EINVAL when the prompt is longer than the context or an argument is NULL,
 * VRAM_EOVERFLOW when the KV bytes exceed 64 bits. */
vram_status vram_budget_request(const vram_budget_profile *p, uint64_t context_tokens,
                                uint64_t prompt_tokens, uint64_t completion_tokens,
                                vram_request_budget *out);

#ifdef __cplusplus
}
#endif
#endif
