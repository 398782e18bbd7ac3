/* test_budget.c - the budget planner against hand computation.
 *
 * Hand numbers (see the formulas in vram/budget.h):
 *   Llama-3-70B per layer, tp=1: q 8192*8192, k = v 8192*1024, o 8192*8192,
 *   MLP 3*8192*28672, norms 2*8192 -> 855,654,400 params; x80 + 2*128256*8192
 *   + 8192 = 70,553,706,496 params = 141,107,412,992 bytes in bf16.
 *   At tp=4 (norms replicated): 17,639,415,808 params = 35,278,831,616 bytes.
 *   Llama-3-8B: 8,030,261,248 params; Mixtral-8x7B: 46,702,792,704 params.
 *   KV bf16: 2*80*8*128*2 = 327,680 B/token (70B), 81,920 at tp=4, 131,072 (8B). */
#include <math.h>
#include <stdint.h>

#include "testlib.h"
#include "vram/budget.h"

#define GiB (UINT64_C(1) << 30)

static vram_model_config model(const char *name, uint32_t tp)
{
    vram_model_config m;
    assert_ok(vram_model_find(name, &m));
    m.tp = tp;
    return m;
}

static void test_builtins(void)
{
    vram_model_config m;
    expect_status(vram_model_find("no-such-model", &m), VRAM_ENOTFOUND);
    expect_status(vram_model_find(NULL, &m), VRAM_EINVAL);
    size_t n = 0;
    for (const vram_model_config *b; (b = vram_model_builtin(n)) != NULL; n++)
        expect_status(vram_model_check(b), VRAM_OK);
    expect_eq_u64(n, 4);
    m = model("llama-3-70b", 1);
    expect_eq_u64(m.layers, 80);
    expect_eq_u64(m.context_max, 8192);
    expect_eq_u64(model("llama-3.1-70b", 1).context_max, 131072);
}

static void test_weights(void)
{
    vram_weight_bytes w;
    vram_model_config m = model("llama-3-70b", 1);
    assert_ok(vram_model_weights(&m, &w));
    expect_eq_u64(w.attn_q, UINT64_C(2) * 8192 * 8192);
    expect_eq_u64(w.attn_k, UINT64_C(2) * 8192 * 1024);
    expect_eq_u64(w.mlp_down, UINT64_C(2) * 8192 * 28672);
    expect_eq_u64(w.router, 0);
    expect_eq_u64(w.per_layer, UINT64_C(2) * 855654400);
    expect_eq_u64(w.embed, UINT64_C(2) * 128256 * 8192);
    expect_eq_u64(w.lm_head, w.embed);
    expect_eq_u64(w.total, UINT64_C(141107412992));
    expect_true(fabs((double)w.total / 2 - 70.6e9) < 0.1e9);

    m.tp = 4;
    assert_ok(vram_model_weights(&m, &w));
    expect_eq_u64(w.total, UINT64_C(35278831616));
    expect_eq_u64(w.norms, UINT64_C(2) * 2 * 8192); /* replicated, not divided */

    m = model("llama-3-8b", 1);
    assert_ok(vram_model_weights(&m, &w));
    expect_eq_u64(w.total, UINT64_C(2) * 8030261248);

    m = model("mixtral-8x7b", 1);
    assert_ok(vram_model_weights(&m, &w));
    expect_eq_u64(w.router, UINT64_C(2) * 4096 * 8);
    expect_eq_u64(w.mlp_gate, UINT64_C(2) * 8 * 4096 * 14336);
    expect_eq_u64(w.total, UINT64_C(2) * 46702792704);

    m = model("llama-3-8b", 1);
    m.tied_embeddings = 1;
    assert_ok(vram_model_weights(&m, &w));
    expect_eq_u64(w.lm_head, 0);
    expect_eq_u64(w.total, UINT64_C(2) * 8030261248 - w.embed);
}

static void test_kv_and_profile(void)
{
    vram_budget_profile p;
    vram_model_config m = model("llama-3-70b", 1);
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    expect_eq_u64(p.kv_bytes_per_token, 327680);
    m.tp = 4;
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    expect_eq_u64(p.kv_bytes_per_token, 81920);
    /* activations: 8192 tokens * 2 B * (2*8192 + 2*2048 + 2*256 + 3*7168)
     * + 256 rows * 4 B * 32064 logits; context 512 MiB by default. */
    expect_eq_u64(p.activation_bytes, UINT64_C(729088000));
    expect_eq_u64(p.fixed_bytes, UINT64_C(729088000) + (UINT64_C(512) << 20));
    expect_eq_u64(p.device_local_bytes, UINT64_C(36544790528));
    expect_eq_u64(p.host_visible_bytes, UINT64_C(8192) * 16 + 256 * 8);

    m.tp = 16; /* more shards than KV heads: each shard keeps one replicated KV head */
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    expect_eq_u64(p.kv_bytes_per_token, UINT64_C(2) * 80 * 128 * 2);

    m = model("llama-3-8b", 1);
    vram_runtime_config rt = {.kv_dtype_bytes = 1, .host_swap_bytes = 4 * GiB};
    assert_ok(vram_budget_profile_get(&m, &rt, &p));
    expect_eq_u64(p.kv_bytes_per_token, 65536); /* fp8 KV: half of 131,072 */
    expect_eq_u64(p.host_visible_bytes, UINT64_C(8192) * 16 + 256 * 8 + 4 * GiB);
}

static void test_contexts(void)
{
    vram_budget_profile p;
    vram_model_config m = model("llama-3-70b", 4);
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    uint64_t n = 0;
    int fits = -1;
    assert_ok(vram_budget_max_context(&p, 80 * GiB, &n));
    expect_eq_u64(n, 602472); /* (85,899,345,920 - 36,544,790,528) / 81,920 */
    expect_status(vram_budget_max_context(&p, p.device_local_bytes + 81919, &n), VRAM_ENOMEM);
    assert_ok(vram_budget_max_context(&p, p.device_local_bytes + 81920, &n));
    expect_eq_u64(n, 1);

    /* 0.9 * 80 GiB leaves 497,615 tokens: clamped to Llama 3's ceiling. */
    assert_ok(vram_budget_auto_context(&p, 80 * GiB, 0.9, &n, &fits));
    expect_eq_u64(n, 8192);
    expect_true(fits == 1);

    m = model("llama-3.1-70b", 1);
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    expect_eq_u64(p.device_local_bytes, UINT64_C(143755329536));
    assert_ok(vram_budget_auto_context(&p, 192 * GiB, 0.9, &n, &fits));
    expect_eq_u64(n, 127524); /* below the 131,072 ceiling: not clamped */
    assert_ok(vram_budget_auto_context(&p, 320 * GiB, 0.9, &n, &fits));
    expect_eq_u64(n, 131072);
    expect_status(vram_budget_auto_context(&p, 80 * GiB, 0.9, &n, &fits), VRAM_ENOMEM);

    /* The floor: 1,000 tokens fit, the automatic size still says 4096 and that it does not fit. */
    m = model("llama-3-8b", 1);
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    expect_eq_u64(p.device_local_bytes, UINT64_C(17735360512));
    uint64_t dev = p.device_local_bytes + 1000 * p.kv_bytes_per_token;
    assert_ok(vram_budget_auto_context(&p, dev, 1.0, &n, &fits));
    expect_eq_u64(n, VRAM_BUDGET_MIN_AUTO_CONTEXT);
    expect_true(fits == 0);
    dev = p.device_local_bytes + 5000 * p.kv_bytes_per_token;
    assert_ok(vram_budget_auto_context(&p, dev, 1.0, &n, &fits));
    expect_eq_u64(n, 5000);
    expect_true(fits == 1);
    /* A ceiling under the floor wins. */
    p.context_max = 2048;
    assert_ok(vram_budget_auto_context(&p, dev, 1.0, &n, NULL));
    expect_eq_u64(n, 2048);

    expect_status(vram_budget_auto_context(&p, dev, 0.0, &n, NULL), VRAM_EINVAL);
    expect_status(vram_budget_auto_context(&p, dev, 1.5, &n, NULL), VRAM_EINVAL);
    expect_status(vram_budget_auto_context(&p, dev, NAN, &n, NULL), VRAM_EINVAL);
    /* The largest budget: the double product rounds to 2^64 and must saturate. */
    p.device_local_bytes = 0;
    assert_ok(vram_budget_auto_context(&p, UINT64_MAX, 1.0, &n, &fits));
    expect_eq_u64(n, 2048);
}

static void test_requests(void)
{
    vram_budget_profile p;
    vram_model_config m = model("llama-3-70b", 4);
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    vram_request_budget b;
    assert_ok(vram_budget_request(&p, 8192, 1000, 500, &b));
    expect_eq_u64(b.completion_tokens, 500);
    expect_eq_u64(b.total_tokens, 1500);
    expect_eq_u64(b.kv_bytes, UINT64_C(1500) * 81920);
    expect_true(!b.clamped);
    assert_ok(vram_budget_request(&p, 8192, 8000, 500, &b));
    expect_eq_u64(b.completion_tokens, 192);
    expect_true(b.clamped);
    assert_ok(vram_budget_request(&p, 8192, 100, UINT64_MAX, &b));
    expect_eq_u64(b.completion_tokens, 8092);
    expect_eq_u64(b.total_tokens, 8192);
    assert_ok(vram_budget_request(&p, 8192, 8192, 10, &b));
    expect_eq_u64(b.completion_tokens, 0);
    expect_status(vram_budget_request(&p, 8192, 8193, 1, &b), VRAM_EINVAL);
    /* prompt + completion would wrap in plain arithmetic; the KV bytes do not fit in 64 bits. */
    expect_status(vram_budget_request(&p, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX, &b),
                  VRAM_EOVERFLOW);
}

static void test_refusals(void)
{
    vram_weight_bytes w;
    vram_budget_profile p;
    vram_model_config m = model("llama-3-70b", 1);
    m.layers = 0;
    expect_status(vram_model_weights(&m, &w), VRAM_EINVAL);
    m = model("llama-3-70b", 3); /* 64 heads do not split 3 ways */
    expect_status(vram_model_check(&m), VRAM_EINVAL);
    m = model("llama-3-70b", 1);
    m.dtype_bytes = 3;
    expect_status(vram_model_check(&m), VRAM_EINVAL);
    m = model("llama-3-70b", 1);
    m.kv_heads = 7;
    expect_status(vram_model_check(&m), VRAM_EINVAL);
    m = model("llama-3-70b", 1);
    m.active_experts = 2; /* dense model with active experts */
    expect_status(vram_model_check(&m), VRAM_EINVAL);
    m = model("mixtral-8x7b", 1);
    m.active_experts = 9;
    expect_status(vram_model_check(&m), VRAM_EINVAL);
    m = model("llama-3-70b", 1);
    m.name = NULL;
    expect_status(vram_model_check(&m), VRAM_EINVAL);

    /* Absurd sizes overflow 64 bits: refused, never wrapped. */
    m = model("mixtral-8x7b", 1);
    m.hidden = UINT32_MAX;
    m.intermediate = UINT32_MAX;
    m.experts = UINT32_MAX;
    m.dtype_bytes = 8;
    expect_status(vram_model_weights(&m, &w), VRAM_EOVERFLOW);
    m = model("llama-3-70b", 1);
    m.layers = UINT32_MAX;
    m.hidden = UINT32_MAX;
    expect_status(vram_model_weights(&m, &w), VRAM_EOVERFLOW);
    m = model("llama-3-70b", 1);
    vram_runtime_config rt = {.max_batch_tokens = UINT64_MAX};
    expect_status(vram_budget_profile_get(&m, &rt, &p), VRAM_EOVERFLOW);
    rt = (vram_runtime_config){.cuda_context_bytes = UINT64_MAX};
    expect_status(vram_budget_profile_get(&m, &rt, &p), VRAM_EOVERFLOW);
    rt = (vram_runtime_config){.kv_dtype_bytes = 5};
    expect_status(vram_budget_profile_get(&m, &rt, &p), VRAM_EINVAL);
    expect_status(vram_budget_profile_get(&m, NULL, NULL), VRAM_EINVAL);
}

int main(void)
{
    test_builtins();
    test_weights();
    test_kv_and_profile();
    test_contexts();
    test_requests();
    test_refusals();
    return test_finish("budget");
}
