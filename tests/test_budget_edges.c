/* test_budget_edges.c - the budget planner's refusals not covered by
 * test_budget.c: NULL arguments of every call, and configurations built so
 * that exactly one particular sum overflows 64 bits (every partial result
 * before it fits). Also the names of kinds and statuses out of range. */
#include "testlib.h"

#include "vram/vram.h"

static vram_model_config model(const char *name)
{
    vram_model_config m;
    assert_ok(vram_model_find(name, &m));
    return m;
}

static void null_arguments(void)
{
    vram_model_config m = model("llama-3-8b");
    vram_weight_bytes w;
    vram_budget_profile p;
    assert_ok(vram_budget_profile_get(&m, NULL, &p));
    vram_request_budget b;
    uint64_t tokens = 5;
    int fits = 5;

    expect_status(vram_model_check(NULL), VRAM_EINVAL);
    expect_status(vram_model_weights(&m, NULL), VRAM_EINVAL);
    expect_status(vram_model_weights(NULL, &w), VRAM_EINVAL);
    expect_status(vram_budget_profile_get(NULL, NULL, &p), VRAM_EINVAL);
    expect_status(vram_model_find("llama-3-8b", NULL), VRAM_EINVAL);

    expect_status(vram_budget_max_context(NULL, UINT64_MAX, &tokens), VRAM_EINVAL);
    expect_status(vram_budget_max_context(&p, UINT64_MAX, NULL), VRAM_EINVAL);
    expect_status(vram_budget_auto_context(NULL, UINT64_MAX, 0.9, &tokens, &fits), VRAM_EINVAL);
    expect_status(vram_budget_auto_context(&p, UINT64_MAX, 0.9, NULL, &fits), VRAM_EINVAL);
    expect_status(vram_budget_request(NULL, 8192, 10, 10, &b), VRAM_EINVAL);
    expect_status(vram_budget_request(&p, 8192, 10, 10, NULL), VRAM_EINVAL);
    /* A profile without KV bytes per token cannot size a context. */
    vram_budget_profile no_kv = p;
    no_kv.kv_bytes_per_token = 0;
    expect_status(vram_budget_max_context(&no_kv, UINT64_MAX, &tokens), VRAM_EINVAL);
    expect_status(vram_budget_auto_context(&no_kv, UINT64_MAX, 0.9, &tokens, &fits), VRAM_EINVAL);
    expect_eq_u64(tokens, 5);
    expect_eq_u64(fits, 5);
}

/* A dense model of width 1 and dtype 1 whose per-layer weights reach
 * 2^64 - 2 before the norms: q = kv = (2^31 - 1) * 2^31, so the attention
 * takes 2^64 - 2^33, and the MLP 3f = 2^33 - 2. The norms' 2 bytes overflow. */
static vram_model_config edge_model(void)
{
    vram_model_config m = {
        .name = "edge", .layers = 1, .hidden = 1,
        .heads = (UINT32_C(1) << 31) - 1, .kv_heads = (UINT32_C(1) << 31) - 1,
        .head_dim = UINT32_C(1) << 31, .intermediate = 2863311530u, /* (2^33 - 2) / 3 */
        .vocab = 1, .dtype_bytes = 1, .tp = 1, .context_max = 1,
    };
    assert_ok(vram_model_check(&m));
    return m;
}

static void exact_overflows(void)
{
    vram_weight_bytes w;
    vram_model_config m = edge_model();
    expect_status(vram_model_weights(&m, &w), VRAM_EOVERFLOW);
    /* 3 bytes less: the layer takes 2^64 - 3; with a tied embedding (1 byte)
     * and the final norm (1 byte) the total is 2^64 - 1, which fits. */
    m.intermediate--;
    m.tied_embeddings = 1;
    assert_ok(vram_model_weights(&m, &w));
    expect_eq_u64(w.per_layer, UINT64_MAX - 2);
    expect_eq_u64(w.total, UINT64_MAX);
    vram_budget_profile p;
    expect_status(vram_budget_profile_get(&m, NULL, &p), VRAM_EOVERFLOW); /* its activations */

    /* The total: one layer of 2^64 - 2^31 + 2 (f = 2^31), a tied embedding
     * of 2^31 - 3, reaching 2^64 - 1; the final norm's byte overflows. */
    m = edge_model();
    m.intermediate = UINT32_C(1) << 31;
    m.vocab = (UINT32_C(1) << 31) - 3;
    m.tied_embeddings = 1;
    expect_status(vram_model_weights(&m, &w), VRAM_EOVERFLOW);
    m.vocab--;
    assert_ok(vram_model_weights(&m, &w));
    expect_eq_u64(w.total, UINT64_MAX);
    expect_eq_u64(w.lm_head, 0);

    /* The activations: batch tokens and sampled rows that each fit, whose sum
     * does not. llama-3-8b: 122,880 activation bytes per batch token
     * (2*4096 + 2*4096 + 2*1024 + 3*14336 elements of 2 bytes), 513,024 logit
     * bytes per sampled row (4 * 128,256). */
    m = model("llama-3-8b");
    vram_runtime_config rt = {.max_batch_tokens = 1, .max_batch_seqs = 1};
    assert_ok(vram_budget_profile_get(&m, &rt, &p));
    expect_eq_u64(p.activation_bytes, 122880 + 513024);
    rt.max_batch_tokens = (UINT64_C(1) << 63) / 122880 + 1;
    rt.max_batch_seqs = (UINT64_C(1) << 63) / 513024 + 1;
    expect_status(vram_budget_profile_get(&m, &rt, &p), VRAM_EOVERFLOW);
    rt.max_batch_seqs = 1;
    assert_ok(vram_budget_profile_get(&m, &rt, &p));
    expect_true(p.activation_bytes > UINT64_C(1) << 63);
}

static void names_out_of_range(void)
{
    vram_kind k = VRAM_KIND_KV;
    expect_status(vram_kind_parse(NULL, &k), VRAM_EINVAL);
    expect_status(vram_kind_parse("kv", NULL), VRAM_EINVAL);
    expect_true(k == VRAM_KIND_KV);
    expect_true(strcmp(vram_kind_name(VRAM_KIND_COUNT), "unknown") == 0);
    expect_true(strcmp(vram_strerror(VRAM_STATUS_COUNT_), "unknown status") == 0);
    expect_true(strcmp(vram_strerror((vram_status)-1), "unknown status") == 0);
    expect_true(strcmp(vram_status_name(VRAM_STATUS_COUNT_), "VRAM_E?") == 0);
    expect_true(strcmp(vram_status_name(VRAM_EPARSE), "VRAM_EPARSE") == 0);
}

int main(void)
{
    null_arguments();
    exact_overflows();
    names_out_of_range();
    return test_finish("budget_edges");
}
