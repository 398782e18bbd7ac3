/* test_serve.c - the closed loop (serve.h):
 *   - over an allocator that places every paged block exactly (bestfit), the
 *     KV budget binds before the allocator, so the closed loop makes the
 *     open loop's schedule: tracegen's steps, preemptions, end time; over
 *     Mooncake, also its prefix cache's counts (bestfit and pool);
 *   - a hand-built workload (every request arrives at once, each needing
 *     1119 tokens of KV, 140 MiB: 70 blocks of 16 tokens) on which a policy
 *     that rounds per-request buffers up to a power of two (buddy, 256 MiB
 *     each) must admit fewer requests at once than paged blocks, and so runs
 *     smaller batches and more steps; its ledger shows the waste;
 *   - the ledger adds up at every sample and its shares sum to 1; every check
 *     passes at every step;
 *   - bad input: a workload line that does not parse fails with file:line,
 *     an unknown policy and pool with buffers are refused by name. */
#include <stdio.h>

#include "serve.h"
#include "test_mooncake.h"
#include "testlib.h"
#include "tracegen.h"

#define CONV VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_conv.csv"
#define BURST VRAM_BINARY_DIR "/test_serve_burst.csv"
#define BAD VRAM_BINARY_DIR "/test_serve_bad.csv"

typedef struct sums {
    uint64_t samples, bad;
} sums;

/* Every sample: the five parts add up to the region. */
static vram_status on_sample(void *ctx, const vserve_sample *s)
{
    sums *m = ctx;
    const vserve_ledger *l = &s->l;
    m->samples++;
    m->bad += l->tokens + l->reserved + l->waste + l->free_unusable + l->free_usable != l->kv_bytes;
    return VRAM_OK;
}

static vserve_result serve(const vengine_config *c, const char *policy)
{
    sums m = {0};
    vserve_options o = {.e = *c, .policy = policy, .check_every = 1, .sample = on_sample, .sample_ctx = &m};
    vserve_result r;
    char err[512];
    vram_status st = vserve_run(&o, &r, err, sizeof err);
    if (st)
        fprintf(stderr, "%s %s: %s\n", vengine_kv_name(c->kv), policy, err);
    expect_status(st, VRAM_OK);
    expect_eq_u64(m.samples, r.samples);
    expect_eq_u64(m.bad, 0);
    expect_eq_u64(r.samples, r.engine.steps);
    const vserve_shares *a = &r.avg;
    double sum = a->tokens + a->reserved + a->waste + a->free_unusable + a->free_usable;
    expect_true(sum > 0.999999 && sum < 1.000001);
    printf("%s %s: %llu finished, %llu steps, peak %llu running, mean batch %.1f, %.1f tokens/s, "
           "preemptions %llu/%llu/%llu, %llu admissions refused; tokens %.3f reserved %.3f waste %.3f "
           "unusable %.3f usable %.3f\n",
           vengine_kv_name(c->kv), policy, (unsigned long long)r.engine.finished,
           (unsigned long long)r.engine.steps, (unsigned long long)r.engine.peak_running, r.mean_batch,
           r.tokens_per_s, (unsigned long long)r.engine.preempt_by_cause[VENGINE_PREEMPT_BUDGET],
           (unsigned long long)r.engine.preempt_by_cause[VENGINE_PREEMPT_PLACEMENT],
           (unsigned long long)r.engine.preempt_by_cause[VENGINE_PREEMPT_BUFFERS],
           (unsigned long long)r.engine.admissions_refused, a->tokens, a->reserved, a->waste,
           a->free_unusable, a->free_usable);
    return r;
}

static void test_open_loop_schedule(void)
{
    vtracegen_config t;
    vtracegen_defaults(&t);
    t.e.workload = CONV;
    t.e.start_s = 1380;
    t.e.duration_s = 60;
    t.e.speedup = 6; /* the KV budget fills: preemptions */
    t.e.capacity = UINT64_C(64) << 30;
    vengine_stats open;
    char err[512];
    expect_status(vtracegen_run(&t, VRAM_BINARY_DIR "/test_serve_open.trace", &open, err, sizeof err), VRAM_OK);
    remove(VRAM_BINARY_DIR "/test_serve_open.trace");
    vserve_result r = serve(&t.e, "bestfit");
    expect_true(open.preemptions > 0);
    expect_eq_u64(r.engine.preemptions, open.preemptions);
    expect_eq_u64(r.engine.preempt_by_cause[VENGINE_PREEMPT_BUDGET], open.preemptions);
    expect_eq_u64(r.engine.steps, open.steps);
    expect_eq_u64(r.engine.finished, open.finished);
    expect_eq_u64(r.engine.end_us, open.end_us);
    expect_eq_u64(r.engine.peak_running, open.peak_running);
    expect_eq_u64(r.engine.admissions_refused, 0);
}

/* The same over Mooncake with its prefix cache, on a small device: the
 * closed loop over bestfit or pool (both place every block) makes tracegen's
 * schedule and its prefix cache's hits, lookups and evictions. */
static void test_open_loop_prefix(void)
{
    vtracegen_config t;
    vtracegen_defaults(&t);
    test_mooncake_small(&t.e);
    vengine_stats open;
    char err[512];
    expect_status(vtracegen_run(&t, VRAM_BINARY_DIR "/test_serve_prefix.trace", &open, err, sizeof err),
                  VRAM_OK);
    remove(VRAM_BINARY_DIR "/test_serve_prefix.trace");
    expect_true(open.preemptions > 0 && open.prefix_evictions > 0 && open.prefix_hit_blocks > 0);
    static const char *const policies[] = {"bestfit", "pool"};
    for (size_t i = 0; i < 2; i++) {
        vserve_result r = serve(&t.e, policies[i]);
        expect_eq_u64(r.engine.steps, open.steps);
        expect_eq_u64(r.engine.preemptions, open.preemptions);
        expect_eq_u64(r.engine.prefix_lookup_blocks, open.prefix_lookup_blocks);
        expect_eq_u64(r.engine.prefix_hit_blocks, open.prefix_hit_blocks);
        expect_eq_u64(r.engine.prefix_evictions, open.prefix_evictions);
        expect_eq_u64(r.engine.admissions_refused, 0);
    }
}

static void write_burst(void)
{
    FILE *f = fopen(BURST, "w");
    assert_true(f != NULL);
    fprintf(f, "TIMESTAMP,ContextTokens,GeneratedTokens\n");
    for (int i = 0; i < 64; i++)
        fprintf(f, "2023-11-16 18:15:46.000000,1100,20\n");
    assert_true(fclose(f) == 0);
}

static void test_fragmenting_policy_admits_fewer(void)
{
    write_burst();
    vengine_config c;
    vengine_defaults(&c);
    c.workload = BURST;
    c.model = "llama-3-8b";
    c.tp = 1;
    c.capacity = UINT64_C(24) << 30;
    c.adapters = 0;
    vserve_result paged = serve(&c, "bestfit");
    c.kv = VENGINE_KV_ORACLE;
    vserve_result exact = serve(&c, "bestfit");
    vserve_result rounded = serve(&c, "buddy");
    /* every request fits at once in neither layout: memory decides the batch */
    expect_true(paged.engine.peak_running < 64);
    /* exact buffers on bestfit hold what paged blocks hold (1119 tokens in 140 MiB) */
    expect_eq_u64(exact.engine.peak_running, paged.engine.peak_running);
    /* buddy rounds each 140 MiB buffer to 256 MiB: fewer at once, smaller
     * batches, more steps, the waste in the ledger */
    expect_true(rounded.engine.peak_running < paged.engine.peak_running);
    expect_true(rounded.mean_batch < paged.mean_batch);
    expect_true(rounded.engine.steps > paged.engine.steps);
    expect_true(rounded.engine.admissions_refused > 0);
    expect_true(rounded.avg.waste > 0.3 && paged.avg.waste < 0.01);
    expect_eq_u64(rounded.engine.finished, 64);
    expect_eq_u64(paged.engine.finished, 64);
    remove(BURST);
}

static void test_bad_input(void)
{
    FILE *f = fopen(BAD, "w");
    assert_true(f != NULL);
    fprintf(f, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.000000,1100,20\n"
               "2023-11-16 18:15:47.000000,x,20\n");
    assert_true(fclose(f) == 0);
    vengine_config c;
    vengine_defaults(&c);
    c.workload = BAD;
    vserve_options o = {.e = c, .policy = "tlsf"};
    vserve_result r;
    char err[512];
    expect_status(vserve_run(&o, &r, err, sizeof err), VRAM_EPARSE);
    expect_true(strstr(err, "test_serve_bad.csv:3: ContextTokens") != NULL);
    o.policy = "firstfit";
    expect_status(vserve_run(&o, &r, err, sizeof err), VRAM_EINVAL);
    expect_true(strstr(err, "unknown policy 'firstfit'") != NULL);
    o.policy = "pool";
    o.e.kv = VENGINE_KV_MAX;
    expect_status(vserve_run(&o, &r, err, sizeof err), VRAM_EINVAL);
    expect_true(strstr(err, "the pool policy serves fixed blocks") != NULL);
    remove(BAD);
}

int main(void)
{
    test_open_loop_schedule();
    test_open_loop_prefix();
    test_fragmenting_policy_admits_fewer();
    test_bad_input();
    return test_finish("serve");
}
