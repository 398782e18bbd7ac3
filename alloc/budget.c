/* budget.c - the memory budget planner (formulas in vram/budget.h).
 *
 * Every sum and product goes through mul()/add(), which fail instead of
 * wrapping; a function that sees one fail returns VRAM_EOVERFLOW. */
#include "vram/budget.h"

#include <math.h>

#define DEFAULT_BATCH_TOKENS 8192u
#define DEFAULT_BATCH_SEQS 256u
#define DEFAULT_CUDA_CONTEXT (UINT64_C(512) << 20)
#define LOGIT_BYTES 4u        /* logits are fp32 */
#define HOST_BYTES_PER_TOKEN 16u /* token id + position, int64 each */
#define HOST_BYTES_PER_SEQ 8u    /* sampled token id */

/* *acc = *acc * b; 0 on overflow (then *acc is unspecified and must not be used). */
static int mul(uint64_t *acc, uint64_t b)
{
    return !__builtin_mul_overflow(*acc, b, acc);
}

static int add(uint64_t *acc, uint64_t b)
{
    return !__builtin_add_overflow(*acc, b, acc);
}

static int valid_dtype(uint32_t bytes)
{
    return bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

vram_status vram_model_check(const vram_model_config *m)
{
    if (!m || !m->name)
        return VRAM_EINVAL;
    if (!m->layers || !m->hidden || !m->heads || !m->kv_heads || !m->head_dim ||
        !m->intermediate || !m->vocab || !m->tp || !m->context_max)
        return VRAM_EINVAL;
    if (!valid_dtype(m->dtype_bytes))
        return VRAM_EINVAL;
    if (m->heads % m->tp || m->heads % m->kv_heads)
        return VRAM_EINVAL;
    if (m->kv_heads % m->tp && m->tp % m->kv_heads)
        return VRAM_EINVAL;
    if (m->experts ? (m->active_experts < 1 || m->active_experts > m->experts)
                   : m->active_experts != 0)
        return VRAM_EINVAL;
    return VRAM_OK;
}

/* Per-shard widths shared by the weight and activation formulas. */
typedef struct shard_dims {
    uint64_t q, kv, f, v;
} shard_dims;

static void dims_of(const vram_model_config *m, shard_dims *s)
{
    uint64_t kv_heads = m->kv_heads >= m->tp ? m->kv_heads / m->tp : 1;
    s->q = (uint64_t)m->heads / m->tp * m->head_dim;   /* both < 2^32: fits */
    s->kv = kv_heads * m->head_dim;
    s->f = ceil_div(m->intermediate, m->tp);
    s->v = ceil_div(m->vocab, m->tp);
}

vram_status vram_model_weights(const vram_model_config *m, vram_weight_bytes *out)
{
    if (!out)
        return VRAM_EINVAL;
    vram_status st = vram_model_check(m);
    if (st)
        return st;
    shard_dims s;
    dims_of(m, &s);
    const uint64_t d = m->dtype_bytes, h = m->hidden;
    const uint64_t experts = m->experts ? m->experts : 1;
    vram_weight_bytes w = {0};
    int ok = 1;
    w.attn_q = d * h;
    ok &= mul(&w.attn_q, s.q);
    w.attn_k = d * h;
    ok &= mul(&w.attn_k, s.kv);
    w.attn_v = w.attn_k;
    w.attn_o = w.attn_q;
    w.mlp_gate = d * h;
    ok &= mul(&w.mlp_gate, experts) && mul(&w.mlp_gate, s.f);
    w.mlp_up = w.mlp_down = w.mlp_gate;
    w.router = m->experts ? d * h : 0;
    ok &= mul(&w.router, m->experts);
    w.norms = 2 * d * h;
    w.per_layer = w.attn_q;
    ok &= add(&w.per_layer, w.attn_k) && add(&w.per_layer, w.attn_v) &&
          add(&w.per_layer, w.attn_o) && add(&w.per_layer, w.mlp_gate) &&
          add(&w.per_layer, w.mlp_up) && add(&w.per_layer, w.mlp_down) &&
          add(&w.per_layer, w.router) && add(&w.per_layer, w.norms);
    w.embed = d * h;
    ok &= mul(&w.embed, s.v);
    w.lm_head = m->tied_embeddings ? 0 : w.embed;
    w.final_norm = d * h;
    w.total = w.per_layer;
    ok &= mul(&w.total, m->layers) && add(&w.total, w.embed) && add(&w.total, w.lm_head) &&
          add(&w.total, w.final_norm);
    if (!ok)
        return VRAM_EOVERFLOW;
    *out = w;
    return VRAM_OK;
}

vram_status vram_budget_profile_get(const vram_model_config *m, const vram_runtime_config *rt,
                                    vram_budget_profile *out)
{
    if (!out)
        return VRAM_EINVAL;
    vram_budget_profile p = {0};
    vram_status st = vram_model_weights(m, &p.weights);
    if (st)
        return st;
    vram_runtime_config r = rt ? *rt : (vram_runtime_config){0};
    if (!r.max_batch_tokens)
        r.max_batch_tokens = DEFAULT_BATCH_TOKENS;
    if (!r.max_batch_seqs)
        r.max_batch_seqs = DEFAULT_BATCH_SEQS;
    if (!r.cuda_context_bytes)
        r.cuda_context_bytes = DEFAULT_CUDA_CONTEXT;
    if (!r.kv_dtype_bytes)
        r.kv_dtype_bytes = m->dtype_bytes;
    if (!valid_dtype(r.kv_dtype_bytes))
        return VRAM_EINVAL;

    shard_dims s;
    dims_of(m, &s);
    const uint64_t active = m->experts ? m->active_experts : 1;
    int ok = 1;

    /* Per batch token: 2*hidden + 2*q + 2*kv + 3*f*A elements of d bytes. */
    uint64_t per_token = 3 * s.f; /* f < 2^32 */
    ok &= mul(&per_token, active) && add(&per_token, 2 * (uint64_t)m->hidden) &&
          add(&per_token, 2 * s.q) && add(&per_token, 2 * s.kv) && mul(&per_token, m->dtype_bytes);
    p.activation_bytes = per_token;
    uint64_t logits = (uint64_t)LOGIT_BYTES * s.v;
    ok &= mul(&p.activation_bytes, r.max_batch_tokens) && mul(&logits, r.max_batch_seqs) &&
          add(&p.activation_bytes, logits);

    p.cuda_context_bytes = r.cuda_context_bytes;
    p.fixed_bytes = p.activation_bytes;
    ok &= add(&p.fixed_bytes, r.cuda_context_bytes);

    p.kv_bytes_per_token = 2 * (uint64_t)m->layers; /* layers < 2^32 */
    ok &= mul(&p.kv_bytes_per_token, s.kv) && mul(&p.kv_bytes_per_token, r.kv_dtype_bytes);

    p.device_local_bytes = p.weights.total;
    ok &= add(&p.device_local_bytes, p.fixed_bytes);

    p.host_visible_bytes = HOST_BYTES_PER_TOKEN;
    uint64_t seq_bytes = HOST_BYTES_PER_SEQ;
    ok &= mul(&p.host_visible_bytes, r.max_batch_tokens) && mul(&seq_bytes, r.max_batch_seqs) &&
          add(&p.host_visible_bytes, seq_bytes) && add(&p.host_visible_bytes, r.host_swap_bytes);
    p.context_max = m->context_max;
    if (!ok)
        return VRAM_EOVERFLOW;
    *out = p;
    return VRAM_OK;
}

vram_status vram_budget_max_context(const vram_budget_profile *p, uint64_t device_bytes,
                                    uint64_t *tokens)
{
    if (!p || !tokens || !p->kv_bytes_per_token)
        return VRAM_EINVAL;
    if (device_bytes < p->device_local_bytes ||
        device_bytes - p->device_local_bytes < p->kv_bytes_per_token)
        return VRAM_ENOMEM;
    *tokens = (device_bytes - p->device_local_bytes) / p->kv_bytes_per_token;
    return VRAM_OK;
}

vram_status vram_budget_auto_context(const vram_budget_profile *p, uint64_t device_bytes,
                                     double utilisation, uint64_t *tokens, int *fits)
{
    if (!p || !tokens || !p->kv_bytes_per_token || !(utilisation > 0.0 && utilisation <= 1.0))
        return VRAM_EINVAL;
    /* utilisation <= 1 keeps the product <= device_bytes, but rounding to double
     * may reach 2^64, which cannot be converted back: saturate there. */
    double scaled = floor(utilisation * (double)device_bytes);
    uint64_t budget = scaled >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)scaled;
    if (budget > device_bytes)
        budget = device_bytes;
    if (budget < p->device_local_bytes)
        return VRAM_ENOMEM;
    const uint64_t avail = budget - p->device_local_bytes;
    uint64_t n = avail / p->kv_bytes_per_token;
    if (n > p->context_max)
        n = p->context_max;
    uint64_t floor_tokens = VRAM_BUDGET_MIN_AUTO_CONTEXT;
    if (floor_tokens > p->context_max)
        floor_tokens = p->context_max;
    if (n < floor_tokens)
        n = floor_tokens;
    *tokens = n;
    if (fits) {
        uint64_t need = n;
        *fits = mul(&need, p->kv_bytes_per_token) && need <= avail;
    }
    return VRAM_OK;
}

vram_status vram_budget_request(const vram_budget_profile *p, uint64_t context_tokens,
                                uint64_t prompt_tokens, uint64_t completion_tokens,
                                vram_request_budget *out)
{
    if (!p || !out || prompt_tokens > context_tokens)
        return VRAM_EINVAL;
    vram_request_budget b = {0};
    const uint64_t remaining = context_tokens - prompt_tokens;
    b.prompt_tokens = prompt_tokens;
    b.completion_tokens = completion_tokens < remaining ? completion_tokens : remaining;
    b.clamped = b.completion_tokens < completion_tokens;
    b.total_tokens = prompt_tokens + b.completion_tokens; /* <= context_tokens */
    b.kv_bytes = b.total_tokens;
    if (!mul(&b.kv_bytes, p->kv_bytes_per_token))
        return VRAM_EOVERFLOW;
    *out = b;
    return VRAM_OK;
}
