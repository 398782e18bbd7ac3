/* test_replay_hist.c - the latency histogram: buckets tile the whole range,
 * quantiles are never below the true value and at most 6.25% above it. */
#include <stdlib.h>

#include "hist.h"
#include "testlib.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_buckets_tile(void)
{
    uint64_t next = 0;
    for (unsigned b = 0; b < VHIST_BUCKETS; b++) {
        uint64_t lo, hi;
        vhist_bucket_range(b, &lo, &hi);
        expect_eq_u64(lo, next);
        expect_true(hi >= lo);
        expect_eq_u64(vhist_bucket_of(lo), b);
        expect_eq_u64(vhist_bucket_of(hi), b);
        /* width <= lo / 16 above the exact range */
        if (lo >= 16)
            expect_true(hi - lo + 1 <= lo / 16);
        next = hi + 1;
    }
    expect_eq_u64(next, 0); /* the last bucket ends at UINT64_MAX */
    expect_eq_u64(vhist_bucket_of(UINT64_MAX), VHIST_BUCKETS - 1);
}

static void test_quantiles(void)
{
    enum { N = 20000 };
    static uint64_t v[N];
    uint64_t seed = 7;
    printf("hist: seed 7\n");
    vhist h;
    vhist_init(&h);
    expect_eq_u64(vhist_quantile(&h, 0.5), 0);
    for (int i = 0; i < N; i++) {
        /* log-uniform over 1 ns .. 1 s */
        uint64_t r = test_rand(&seed);
        v[i] = (r % 1000) << (r >> 58) % 30;
        vhist_record(&h, v[i]);
    }
    qsort(v, N, sizeof v[0], cmp_u64);
    expect_eq_u64(h.count, N);
    expect_eq_u64(h.min, v[0]);
    expect_eq_u64(h.max, v[N - 1]);
    const double qs[] = {0.01, 0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        size_t rank = (size_t)(qs[k] * N + 0.999999);
        uint64_t truth = v[rank - 1];
        uint64_t got = vhist_quantile(&h, qs[k]);
        expect_true(got >= truth);
        expect_true((double)got <= (double)truth * 1.0625 + 1);
    }
    expect_eq_u64(vhist_quantile(&h, 1.0), v[N - 1]);

}

int main(void)
{
    test_buckets_tile();
    test_quantiles();
    return test_finish("replay_hist");
}
