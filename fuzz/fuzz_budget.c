/* fuzz_budget.c - the budget planner (vram/budget.h) for any model and runtime
 * configuration: no arithmetic wraps (UBSan and the checks below), and every
 * answer agrees with an independent evaluation of the header's formulas in
 * 128-bit saturating arithmetic:
 *   - vram_model_check is VRAM_EINVAL exactly when the header's rules say so;
 *   - weights and profile are VRAM_EOVERFLOW exactly when some formula's value
 *     reaches 2^64, and otherwise equal the formulas field by field;
 *   - max_context, auto_context and request follow their definitions (the
 *     automatic size between min(4096, ceiling) and the ceiling, *fits exactly
 *     when its KV bytes fit beside the device-local bytes).
 * Input: the model fields (each decoded to favour 0, 1, small values, powers
 * of two and values near 2^32), the runtime fields, a device size, a
 * utilisation and a request, in that order. */
#include <math.h>
#include <string.h>

#include "fuzz_input.h"
#include "vram/budget.h"

#define TARGET "fuzz_budget"

typedef unsigned __int128 u128;
#define LIMIT ((u128)1 << 100) /* saturation: anything >= 2^64 is an overflow, and stays one */
#define TOO_BIG(x) ((x) >> 64 != 0)

static u128 smul(u128 a, u128 b) { return a && b > LIMIT / a ? LIMIT : a * b > LIMIT ? LIMIT : a * b; }
static u128 sadd(u128 a, u128 b) { return a + b > LIMIT ? LIMIT : a + b; }

/* A 32-bit field: 0, 1, small, a power of two, near 2^32, or raw. */
static uint32_t field32(fz_in *in)
{
    uint8_t b = fz_u8(in);
    switch (b % 6) {
    case 0: return b / 6 % 2;
    case 1: return 1 + b / 6 % 16;
    case 2: return UINT32_C(1) << (b / 6 % 32);
    case 3: return UINT32_MAX - b / 6 % 4;
    case 4: return 64 * (1 + fz_u8(in));
    default: return fz_u32(in);
    }
}

static uint64_t field64(fz_in *in)
{
    uint8_t b = fz_u8(in);
    switch (b % 4) {
    case 0: return b / 4 % 3;
    case 1: return UINT64_C(1) << (b / 4 % 64);
    case 2: return UINT64_MAX - b / 4 % 4;
    default: return fz_u64(in);
    }
}

static int dtype_ok(uint32_t d) { return d == 1 || d == 2 || d == 4 || d == 8; }

/* The header's validity rules, written again. */
static int model_valid(const vram_model_config *m)
{
    if (!m->name || !m->layers || !m->hidden || !m->heads || !m->kv_heads || !m->head_dim ||
        !m->intermediate || !m->vocab || !m->tp || !m->context_max || !dtype_ok(m->dtype_bytes))
        return 0;
    if (m->heads % m->tp || m->heads % m->kv_heads || (m->kv_heads % m->tp && m->tp % m->kv_heads))
        return 0;
    return m->experts ? m->active_experts >= 1 && m->active_experts <= m->experts : m->active_experts == 0;
}

typedef struct expect_w {
    u128 q, k, mlp, router, norms, per_layer, embed, lm_head, final_norm, total;
} expect_w;

static expect_w weights_formula(const vram_model_config *m, u128 *kv_width)
{
    u128 d = m->dtype_bytes, h = m->hidden, tp = m->tp;
    u128 q = (u128)(m->heads / m->tp) * m->head_dim;
    u128 kv = (u128)(m->kv_heads >= m->tp ? m->kv_heads / m->tp : 1) * m->head_dim;
    u128 f = (m->intermediate + tp - 1) / tp, v = (m->vocab + tp - 1) / tp;
    u128 e = m->experts ? m->experts : 1;
    expect_w w;
    w.q = smul(smul(d, h), q);
    w.k = smul(smul(d, h), kv);
    w.mlp = smul(smul(smul(d, e), h), f);
    w.router = smul(smul(d, h), m->experts);
    w.norms = 2 * d * h;
    w.per_layer = sadd(sadd(sadd(sadd(smul(2, w.q), smul(2, w.k)), smul(3, w.mlp)), w.router), w.norms);
    w.embed = smul(smul(d, v), h);
    w.lm_head = m->tied_embeddings ? 0 : w.embed;
    w.final_norm = d * h;
    w.total = sadd(sadd(sadd(smul(w.per_layer, m->layers), w.embed), w.lm_head), w.final_norm);
    *kv_width = kv;
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    vram_model_config m = {.name = "fuzz"};
    m.layers = field32(&in);
    m.hidden = field32(&in);
    m.heads = field32(&in);
    m.kv_heads = field32(&in);
    m.head_dim = field32(&in);
    m.intermediate = field32(&in);
    m.vocab = field32(&in);
    m.dtype_bytes = field32(&in) % 10;
    m.tp = field32(&in);
    m.context_max = field64(&in);
    m.experts = field32(&in) % 3 ? 0 : field32(&in);
    m.active_experts = m.experts ? (uint32_t)(field32(&in) % ((uint64_t)m.experts + 2)) : fz_u8(&in) == 0;
    uint8_t flags = fz_u8(&in);
    m.tied_embeddings = flags & 1;
    if (flags == 255)
        m.name = NULL;
    vram_runtime_config rt = {.max_batch_tokens = field64(&in), .max_batch_seqs = field64(&in),
                              .cuda_context_bytes = field64(&in), .kv_dtype_bytes = field32(&in) % 10,
                              .host_swap_bytes = field64(&in)};

    int valid = model_valid(&m);
    vram_status st = vram_model_check(&m);
    if ((st == VRAM_OK) != valid || (st && st != VRAM_EINVAL))
        fz_fail(TARGET, "model_check", 0, "%s for a configuration the rules call %s", vram_status_name(st),
                valid ? "valid" : "invalid");
    vram_weight_bytes w;
    st = vram_model_weights(&m, &w);
    if (!valid) {
        if (st != VRAM_EINVAL)
            fz_fail(TARGET, "weights", 0, "%s for an invalid configuration", vram_status_name(st));
        return 0;
    }
    u128 kv;
    expect_w e = weights_formula(&m, &kv);
    if (TOO_BIG(e.total) != (st == VRAM_EOVERFLOW) || (st && st != VRAM_EOVERFLOW))
        fz_fail(TARGET, "weights", 0, "%s; the formulas' total is %s 2^64", vram_status_name(st),
                TOO_BIG(e.total) ? "at least" : "below");
    if (st)
        return 0;
    if (w.attn_q != e.q || w.attn_k != e.k || w.attn_v != e.k || w.attn_o != e.q || w.mlp_gate != e.mlp ||
        w.mlp_up != e.mlp || w.mlp_down != e.mlp || w.router != e.router || w.norms != e.norms ||
        w.per_layer != e.per_layer || w.embed != e.embed || w.lm_head != e.lm_head ||
        w.final_norm != e.final_norm || w.total != e.total)
        fz_fail(TARGET, "weights", 0, "a field differs from the formulas (total %" PRIu64 ")", w.total);

    /* The profile, with defaults filled in as the header says. */
    vram_runtime_config r = rt;
    r.max_batch_tokens = r.max_batch_tokens ? r.max_batch_tokens : 8192;
    r.max_batch_seqs = r.max_batch_seqs ? r.max_batch_seqs : 256;
    r.cuda_context_bytes = r.cuda_context_bytes ? r.cuda_context_bytes : UINT64_C(512) << 20;
    r.kv_dtype_bytes = r.kv_dtype_bytes ? r.kv_dtype_bytes : m.dtype_bytes;
    vram_budget_profile p;
    st = vram_budget_profile_get(&m, &rt, &p);
    if (!dtype_ok(r.kv_dtype_bytes)) {
        if (st != VRAM_EINVAL)
            fz_fail(TARGET, "profile", 0, "%s for kv_dtype_bytes %u", vram_status_name(st), r.kv_dtype_bytes);
        return 0;
    }
    u128 tp = m.tp, f = (m.intermediate + tp - 1) / tp, v = (m.vocab + tp - 1) / tp;
    u128 q = (u128)(m.heads / m.tp) * m.head_dim, active = m.experts ? m.active_experts : 1;
    u128 per_token = sadd(sadd(sadd(smul(smul(3, f), active), 2 * (u128)m.hidden), 2 * q), 2 * kv);
    u128 act = sadd(smul(smul(r.max_batch_tokens, m.dtype_bytes), per_token), smul(smul(r.max_batch_seqs, 4), v));
    u128 fixed = sadd(act, r.cuda_context_bytes);
    u128 kvpt = smul(smul(2 * (u128)m.layers, kv), r.kv_dtype_bytes);
    u128 local = sadd(e.total, fixed);
    u128 host = sadd(sadd(smul(r.max_batch_tokens, 16), smul(r.max_batch_seqs, 8)), r.host_swap_bytes);
    int over = TOO_BIG(act) || TOO_BIG(fixed) || TOO_BIG(kvpt) || TOO_BIG(local) || TOO_BIG(host);
    if (over != (st == VRAM_EOVERFLOW) || (st && st != VRAM_EOVERFLOW))
        fz_fail(TARGET, "profile", 0, "%s; the formulas %s", vram_status_name(st),
                over ? "overflow" : "fit in 64 bits");
    if (st)
        return 0;
    if (p.activation_bytes != act || p.fixed_bytes != fixed || p.kv_bytes_per_token != kvpt ||
        p.device_local_bytes != local || p.host_visible_bytes != host || p.context_max != m.context_max ||
        p.cuda_context_bytes != r.cuda_context_bytes)
        fz_fail(TARGET, "profile", 0, "a field differs from the formulas (activation %" PRIu64 ")",
                p.activation_bytes);

    uint64_t device = field64(&in), tokens = 0;
    st = vram_budget_max_context(&p, device, &tokens);
    int room = device >= p.device_local_bytes && device - p.device_local_bytes >= p.kv_bytes_per_token;
    if (st != (room ? VRAM_OK : VRAM_ENOMEM) ||
        (room && tokens != (device - p.device_local_bytes) / p.kv_bytes_per_token))
        fz_fail(TARGET, "max_context", 0, "%s, %" PRIu64 " tokens", vram_status_name(st), tokens);

    static const double utils[8] = {0.0, 0.5, 0.9, 1.0, 1.5, -0.25, 1e-300, 0.999999999999};
    uint8_t ub = fz_u8(&in);
    double util = ub == 255 ? NAN : utils[ub % 8];
    int fits = -1;
    st = vram_budget_auto_context(&p, device, util, &tokens, &fits);
    if (!(util > 0.0 && util <= 1.0)) {
        if (st != VRAM_EINVAL)
            fz_fail(TARGET, "auto_context", 0, "%s for utilisation %g", vram_status_name(st), util);
    } else if (st == VRAM_OK || st == VRAM_ENOMEM) {
        /* ENOMEM when floor(util * device) < local: compared with a margin
         * for the rounding of util * device to a double. */
        long double budget = (long double)util * device, dl = p.device_local_bytes;
        if (st == VRAM_ENOMEM ? budget > dl * (1 + 1e-9L) + 1 : budget < dl * (1 - 1e-9L) - 1)
            fz_fail(TARGET, "auto_context", 0, "%s with %Lg budget bytes for %Lg device-local bytes",
                    vram_status_name(st), budget, dl);
    } else {
        fz_fail(TARGET, "auto_context", 0, "%s", vram_status_name(st));
    }
    if (st == VRAM_OK && util > 0.0 && util <= 1.0) {
        uint64_t lo = p.context_max < VRAM_BUDGET_MIN_AUTO_CONTEXT ? p.context_max : VRAM_BUDGET_MIN_AUTO_CONTEXT;
        u128 need = (u128)tokens * p.kv_bytes_per_token;
        int want_fits = device >= p.device_local_bytes && need <= device - p.device_local_bytes;
        if (tokens > p.context_max || tokens < lo || (fits && !want_fits))
            fz_fail(TARGET, "auto_context", 0, "%" PRIu64 " tokens (ceiling %" PRIu64 "), fits %d", tokens,
                    p.context_max, fits);
    }

    uint64_t ctx = field64(&in), prompt = field64(&in), asked = field64(&in);
    vram_request_budget b;
    st = vram_budget_request(&p, ctx, prompt, asked, &b);
    if (prompt > ctx) {
        if (st != VRAM_EINVAL)
            fz_fail(TARGET, "request", 0, "%s for a prompt longer than the context", vram_status_name(st));
        return 0;
    }
    uint64_t grant = asked < ctx - prompt ? asked : ctx - prompt;
    u128 kvb = (u128)(prompt + grant) * p.kv_bytes_per_token;
    if ((st == VRAM_EOVERFLOW) != TOO_BIG(kvb) || (st && st != VRAM_EOVERFLOW))
        fz_fail(TARGET, "request", 0, "%s; KV bytes %s 2^64", vram_status_name(st), TOO_BIG(kvb) ? ">=" : "<");
    if (!st && (b.completion_tokens != grant || b.total_tokens != prompt + grant || b.kv_bytes != kvb ||
                b.clamped != (grant < asked) || b.total_tokens > ctx))
        fz_fail(TARGET, "request", 0, "completion %" PRIu64 " total %" PRIu64 " clamped %d", b.completion_tokens,
                b.total_tokens, b.clamped);
    return 0;
}
