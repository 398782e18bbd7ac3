/* test_device_sim.c - the sim device backend through the device wrapper:
 * capacity, placement and reuse, host-backed fill/verify and copies, growable
 * segments, the cost model against hand computation, and fault injection. */
#include <math.h>

#include "testlib.h"
#include "vram/device.h"

#define MiB (1ull << 20)
#define BASE 0x7f0000000000ull

static vram_device *make(uint64_t capacity, int backing, const vram_cost_model *cost)
{
    vram_device_config cfg = {.backend = "sim", .capacity = capacity, .host_backing = backing};
    if (cost)
        cfg.cost = *cost;
    vram_device *d = NULL;
    assert_ok(vram_device_create(&cfg, &d));
    return d;
}

static void test_create_errors(void)
{
    char eb[256] = "";
    vram_device *d = (vram_device *)&eb; /* must be reset to NULL on failure */
    vram_device_config cfg = {.backend = "opencl", .capacity = MiB, .errbuf = eb, .errbuf_len = sizeof eb};
    expect_status(vram_device_create(&cfg, &d), VRAM_ENOTFOUND);
    expect_true(d == NULL);
    expect_true(strstr(eb, "\"opencl\"") && strstr(eb, "sim") && strstr(eb, "cuda"));

#ifndef VRAM_HAVE_CUDA
    cfg.backend = "cuda";
    expect_status(vram_device_create(&cfg, &d), VRAM_EUNSUPPORTED);
    expect_true(strstr(eb, "not built in") && strstr(eb, "--backend sim"));
#endif

    cfg.backend = NULL;
    cfg.capacity = 0;
    expect_status(vram_device_create(&cfg, &d), VRAM_EINVAL);
    expect_true(strstr(eb, "capacity 0") != NULL);

    cfg.capacity = MiB;
    cfg.cost.h2d_gbps = -1;
    expect_status(vram_device_create(&cfg, &d), VRAM_EINVAL);
    expect_true(strstr(eb, "h2d_gbps") != NULL);

    cfg.cost.h2d_gbps = 0;
    assert_ok(vram_device_create(&cfg, &d));
    expect_true(strcmp(vram_device_backend(d), "sim") == 0);
    expect_true(!vram_device_has_backing(d));
    expect_eq_u64(vram_device_granularity(d), 2 * MiB);
    vram_device_destroy(d);
    vram_device_destroy(NULL);
}

static void test_capacity_and_placement(void)
{
    vram_device *d = make(16 * MiB, 0, NULL);
    uint64_t a, b, c, e, f, t;
    assert_ok(vram_device_reserve(d, 3 * MiB, &a));
    assert_ok(vram_device_reserve(d, 1 * MiB, &b));
    assert_ok(vram_device_reserve(d, 4 * MiB, &c));
    /* First fit from the base, every segment start aligned to the granularity. */
    expect_eq_u64(a, BASE);
    expect_eq_u64(b, BASE + 4 * MiB);
    expect_eq_u64(c, BASE + 6 * MiB);
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(f, 8 * MiB);
    expect_eq_u64(t, 16 * MiB);

    expect_status(vram_device_reserve(d, 8 * MiB + 1, &e), VRAM_ENOMEM);
    expect_true(strstr(vram_device_errmsg(d), "8388609 bytes do not fit") != NULL);
    expect_status(vram_device_reserve(d, 0, &e), VRAM_EINVAL);
    expect_status(vram_device_reserve(d, 1, NULL), VRAM_EINVAL);

    /* Released gaps are reused first fit; a larger request goes past them. */
    assert_ok(vram_device_release(d, a));
    assert_ok(vram_device_reserve(d, 5 * MiB, &e));
    expect_eq_u64(e, BASE + 10 * MiB);
    assert_ok(vram_device_reserve(d, 1 * MiB, &e));
    expect_eq_u64(e, BASE);

    vram_device *huge = make(UINT64_MAX, 0, NULL);
    expect_status(vram_device_reserve(huge, UINT64_MAX - BASE + 1, &e), VRAM_EOVERFLOW);
    expect_true(strstr(vram_device_errmsg(huge), "no gap") != NULL);
    assert_ok(vram_device_reserve(huge, UINT64_MAX - BASE - 4 * MiB, &e)); /* ends at 2^64 - 4 MiB - 1 */
    expect_status(vram_device_reserve(huge, 4 * MiB, &e), VRAM_EOVERFLOW);
    vram_device_destroy(huge);

    expect_status(vram_device_release(d, b + 256), VRAM_ENOTFOUND);
    expect_true(strstr(vram_device_errmsg(d), "0x7f0000400100") != NULL);
    expect_status(vram_device_release(d, 12345), VRAM_ENOTFOUND);
    assert_ok(vram_device_release(d, b));
    expect_status(vram_device_release(d, b), VRAM_ENOTFOUND);

    vram_segment_info si;
    assert_ok(vram_device_segment_info(d, c + 5, &si));
    expect_eq_u64(si.addr, c);
    expect_eq_u64(si.size, 4 * MiB);
    expect_eq_u64(si.max_size, 4 * MiB);
    expect_true(!si.growable);
    expect_status(vram_device_segment_info(d, c - 1, &si), VRAM_ENOTFOUND); /* a gap */

    vram_device_stats s;
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.segments, 3);
    expect_eq_u64(s.reserved, 10 * MiB);
    expect_eq_u64(s.peak_reserved, 11 * MiB);
    expect_eq_u64(s.reserve_calls, 5);
    expect_eq_u64(s.release_calls, 2);
    vram_device_destroy(d); /* releases the live segments (ASan checks) */
}

static void test_copies_unbacked(void)
{
    vram_device *d = make(8 * MiB, 0, NULL);
    uint64_t a;
    char buf[64] = "abc";
    assert_ok(vram_device_reserve(d, 4096, &a));
    assert_ok(vram_device_copy_h2d(d, a, buf, sizeof buf));
    assert_ok(vram_device_copy_d2h(d, buf, a + 4032, 64));
    assert_ok(vram_device_copy_d2d(d, a + 100, a, 64));
    expect_status(vram_device_copy_h2d(d, a + 4033, buf, 64), VRAM_EINVAL);
    expect_true(strstr(vram_device_errmsg(d), "0x7f0000000fc1") != NULL);
    expect_status(vram_device_copy_d2h(d, buf, a - 1, 1), VRAM_EINVAL);
    expect_status(vram_device_copy_d2d(d, a + 4096, a, 1), VRAM_EINVAL);
    expect_status(vram_device_copy_h2d(d, a, NULL, 1), VRAM_EINVAL);
    assert_ok(vram_device_copy_h2d(d, 1, NULL, 0)); /* zero bytes: nothing to check */
    /* Without backing fill/verify check the range and do nothing else. */
    assert_ok(vram_device_fill(d, a, 4096, 1));
    assert_ok(vram_device_verify(d, a, 4096, 2));
    expect_status(vram_device_fill(d, a, 4097, 1), VRAM_EINVAL);
    vram_device_stats s;
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.copy_calls, 3);
    expect_eq_u64(s.bytes_h2d, 64);
    expect_eq_u64(s.bytes_d2h, 64);
    expect_eq_u64(s.bytes_d2d, 64);
    vram_device_destroy(d);
}

static void test_backing(void)
{
    vram_device *d = make(8 * MiB, 1, NULL);
    expect_true(vram_device_has_backing(d));
    uint64_t seg;
    assert_ok(vram_device_reserve(d, 64 * 1024, &seg));
    /* Two neighbouring blocks of a heap inside the segment. */
    uint64_t blk_a = seg, blk_b = seg + 4096;
    assert_ok(vram_device_fill(d, blk_a, 4096, 11));
    assert_ok(vram_device_fill(d, blk_b, 4096, 22));
    assert_ok(vram_device_verify(d, blk_a, 4096, 11));
    assert_ok(vram_device_verify(d, blk_b, 4096, 22));
    expect_status(vram_device_verify(d, blk_a, 4096, 22), VRAM_ECORRUPT);

    /* A writer of A that overruns by 5 bytes is caught at B's first byte. */
    assert_ok(vram_device_fill(d, blk_a, 4096 + 5, 11));
    assert_ok(vram_device_verify(d, blk_a, 4096, 11));
    expect_status(vram_device_verify(d, blk_b, 4096, 22), VRAM_ECORRUPT);
    const char *m = vram_device_errmsg(d);
    expect_true(strstr(m, "byte at 0x7f0000001000 ") != NULL);
    expect_true(strstr(m, "tag 22") != NULL);

    /* Copies really copy: host -> device -> device -> host. */
    unsigned char in[1000], out[1000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    assert_ok(vram_device_copy_h2d(d, seg + 10000, in, sizeof in));
    assert_ok(vram_device_copy_d2d(d, seg + 20000, seg + 10000, sizeof in));
    memset(out, 0, sizeof out);
    assert_ok(vram_device_copy_d2h(d, out, seg + 20000, sizeof out));
    expect_true(memcmp(in, out, sizeof in) == 0);
    /* Overlapping device-to-device copies behave as memmove. */
    assert_ok(vram_device_copy_d2d(d, seg + 20100, seg + 20000, sizeof in));
    assert_ok(vram_device_copy_d2h(d, out, seg + 20100, sizeof out));
    expect_true(memcmp(in, out, sizeof in) == 0);

    /* The pattern counts from the start of the filled range: a block moved
     * elsewhere (eviction, compaction) verifies at its new address. */
    assert_ok(vram_device_fill(d, seg + 30000, 512, 5));
    assert_ok(vram_device_copy_d2d(d, seg + 40000, seg + 30000, 512));
    assert_ok(vram_device_verify(d, seg + 40000, 512, 5));
    expect_status(vram_device_verify(d, seg + 40001, 511, 5), VRAM_ECORRUPT);

    /* Memory of a released and re-reserved segment starts zeroed. */
    assert_ok(vram_device_release(d, seg));
    assert_ok(vram_device_reserve(d, 64 * 1024, &seg));
    assert_ok(vram_device_copy_d2h(d, out, seg + 4096, sizeof out));
    int zero = 1;
    for (size_t i = 0; i < sizeof out; i++)
        zero &= out[i] == 0;
    expect_true(zero);
    vram_device_destroy(d);
}

static void test_growable(void)
{
    vram_device *d = make(16 * MiB, 1, NULL);
    uint64_t g, a;
    vram_segment_info si;
    assert_ok(vram_device_reserve_growable(d, 10 * MiB, &g));
    expect_eq_u64(g, BASE);
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_true(si.growable);
    expect_eq_u64(si.size, 0);
    expect_eq_u64(si.max_size, 10 * MiB);
    /* Address space is held, not memory: the next segment goes past the range. */
    assert_ok(vram_device_reserve(d, 2 * MiB, &a));
    expect_eq_u64(a, BASE + 10 * MiB);
    expect_status(vram_device_copy_h2d(d, g, "x", 1), VRAM_EINVAL);

    assert_ok(vram_device_grow_segment(d, g, 3 * MiB)); /* rounded up to 4 MiB */
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 4 * MiB);
    assert_ok(vram_device_fill(d, g, 4 * MiB, 9));
    assert_ok(vram_device_grow_segment(d, g, 10 * MiB));
    assert_ok(vram_device_verify(d, g, 4 * MiB, 9)); /* contents survive a grow */
    uint64_t f, t;
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(f, 4 * MiB);
    expect_status(vram_device_grow_segment(d, g, 12 * MiB), VRAM_EINVAL); /* beyond max_size */
    expect_status(vram_device_grow_segment(d, g, 2 * MiB), VRAM_EINVAL);  /* that shrinks */
    expect_status(vram_device_grow_segment(d, a, 4 * MiB), VRAM_ENOTFOUND); /* not growable */
    expect_status(vram_device_shrink_segment(d, g, 12 * MiB), VRAM_EINVAL);

    assert_ok(vram_device_shrink_segment(d, g, 2 * MiB));
    assert_ok(vram_device_verify(d, g, 2 * MiB, 9));
    expect_status(vram_device_copy_d2h(d, &f, g + 2 * MiB, 1), VRAM_EINVAL);
    uint64_t h;
    assert_ok(vram_device_reserve_growable(d, 64 * MiB, &h));
    expect_status(vram_device_grow_segment(d, h, 14 * MiB), VRAM_ENOMEM); /* 12 MiB free */
    assert_ok(vram_device_grow_segment(d, h, 12 * MiB));

    vram_device_stats s;
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.reserved, 16 * MiB);
    expect_eq_u64(s.peak_reserved, 16 * MiB);
    expect_eq_u64(s.segments, 3);
    expect_eq_u64(s.map_calls, 3);
    expect_eq_u64(s.unmap_calls, 1);
    assert_ok(vram_device_release(d, g));
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.reserved, 14 * MiB);
    vram_device_destroy(d);
}

static int near(double a, double b) { return fabs(a - b) <= 1e-6 * fabs(b); }

static void test_cost_model(void)
{
    /* Defaults: 50 us per reserve, 20 us per release, 10 us + bytes / (GB/s) per copy. */
    vram_device *d = make(64 * MiB, 0, NULL);
    uint64_t a, b;
    assert_ok(vram_device_reserve(d, 32 * MiB, &a));
    assert_ok(vram_device_reserve(d, 16 * MiB, &b));
    assert_ok(vram_device_copy_h2d(d, a, &a, 0)); /* zero bytes: not a copy */
    vram_device_stats s;
    vram_device_stats_get(d, &s);
    expect_true(near(s.modelled_ns, 100000.0));
    uint64_t n = 25000000; /* 25 MB at 25 GB/s: 1 ms */
    static unsigned char big[1];
    vram_device_destroy(d);

    d = make(64 * MiB, 0, NULL);
    assert_ok(vram_device_reserve(d, 32 * MiB, &a));
    assert_ok(vram_device_copy_h2d(d, a, big, n));
    assert_ok(vram_device_copy_d2h(d, big, a, n));
    assert_ok(vram_device_copy_d2d(d, a, a, n));
    assert_ok(vram_device_release(d, a));
    vram_device_stats_get(d, &s);
    double want = 50000.0 + (10000.0 + 1e6) + (10000.0 + 1e6) + (10000.0 + 25000.0) + 20000.0;
    expect_true(near(s.modelled_ns, want));
    vram_device_destroy(d);

    /* A custom model: 1 us alloc, 2 us free, 3 us latency, 1/2/4 GB/s. */
    vram_cost_model cm = {.segment_alloc_ns = 1000, .segment_free_ns = 2000, .copy_latency_ns = 3000,
                          .h2d_gbps = 1, .d2h_gbps = 2, .d2d_gbps = 4};
    d = make(64 * MiB, 0, &cm);
    assert_ok(vram_device_reserve(d, 32 * MiB, &a));
    assert_ok(vram_device_copy_h2d(d, a, big, 1000));
    assert_ok(vram_device_copy_d2h(d, big, a, 1000));
    assert_ok(vram_device_copy_d2d(d, a, a, 1000));
    uint64_t g;
    assert_ok(vram_device_reserve_growable(d, 8 * MiB, &g));
    assert_ok(vram_device_grow_segment(d, g, 4 * MiB));
    assert_ok(vram_device_shrink_segment(d, g, 0));
    assert_ok(vram_device_release(d, g));
    assert_ok(vram_device_release(d, a));
    vram_device_stats_get(d, &s);
    want = 1000 + (3000 + 1000) + (3000 + 500) + (3000 + 250) + 1000 + 1000 + 2000 + 2000 + 2000;
    expect_true(near(s.modelled_ns, want));
    /* Failed calls cost nothing. */
    expect_status(vram_device_reserve(d, 65 * MiB, &a), VRAM_ENOMEM);
    vram_device_stats_get(d, &s);
    expect_true(near(s.modelled_ns, want));
    vram_device_destroy(d);
}

/* ---- fault injection: fail the 1st, 2nd, 3rd ... call of a scenario in turn ---- */

typedef struct scen {
    vram_device *d;
    uint64_t a, b, g; /* segments created by the scenario */
    unsigned char buf[256];
} scen;


/* What a failed call must leave alone: stats, free bytes, the scenario's segments. */
typedef struct snapshot {
    vram_device_stats stats;
    uint64_t free_bytes;
    vram_status seg_st[3];
    vram_segment_info seg[3];
} snapshot;

static void snap(const scen *s, snapshot *out)
{
    uint64_t total;
    memset(out, 0, sizeof *out);
    vram_device_stats_get(s->d, &out->stats);
    assert_ok(vram_device_mem_info(s->d, &out->free_bytes, &total));
    const uint64_t addr[3] = {s->a, s->b, s->g};
    for (int i = 0; i < 3; i++)
        out->seg_st[i] = vram_device_segment_info(s->d, addr[i], &out->seg[i]);
}

static int same_stats(const vram_device_stats *x, const vram_device_stats *y)
{
    return x->reserved == y->reserved && x->peak_reserved == y->peak_reserved &&
           x->segments == y->segments && x->reserve_calls == y->reserve_calls &&
           x->release_calls == y->release_calls && x->copy_calls == y->copy_calls &&
           x->bytes_h2d == y->bytes_h2d && x->bytes_d2h == y->bytes_d2h &&
           x->bytes_d2d == y->bytes_d2d && x->modelled_ns == y->modelled_ns &&
           x->map_calls == y->map_calls && x->unmap_calls == y->unmap_calls;
}

/* Step i of the scenario; the calls that can be injected are marked. */
static vram_status scen_step(scen *s, int i)
{
    switch (i) {
    case 0: return vram_device_reserve(s->d, 1 * MiB, &s->a);             /* RESERVE */
    case 1: return vram_device_fill(s->d, s->a, 4096, 1);
    case 2: return vram_device_reserve(s->d, 3 * MiB, &s->b);             /* RESERVE */
    case 3: return vram_device_copy_d2d(s->d, s->b, s->a, 4096);          /* COPY */
    case 4: return vram_device_copy_h2d(s->d, s->a + 8192, s->buf, 256);  /* COPY */
    case 5: return vram_device_reserve_growable(s->d, 8 * MiB, &s->g);    /* RESERVE */
    case 6: return vram_device_grow_segment(s->d, s->g, 2 * MiB);         /* RESERVE */
    case 7: return vram_device_copy_d2d(s->d, s->g, s->b, 4096);          /* COPY */
    case 8: return vram_device_copy_d2h(s->d, s->buf, s->g, 256);         /* COPY */
    case 9: return vram_device_release(s->d, s->b);
    case 10: return vram_device_shrink_segment(s->d, s->g, 0);
    default: return vram_device_verify(s->d, s->a, 4096, 1);
    }
}
#define SCEN_STEPS 12
#define SCEN_FAULTABLE 8

static void test_fault_injection(void)
{
    uint64_t k;
    for (k = 1;; k++) {
        scen s = {.d = make(64 * MiB, 1, NULL)};
        vram_device_inject_fault(s.d, VRAM_FAULT_RESERVE | VRAM_FAULT_COPY, k, 0, VRAM_ENOMEM);
        int failed_at = -1;
        for (int i = 0; i < SCEN_STEPS && failed_at < 0; i++) {
            snapshot before, after;
            snap(&s, &before);
            vram_status st = scen_step(&s, i);
            if (st == VRAM_OK)
                continue;
            failed_at = i;
            expect_status(st, VRAM_ENOMEM);
            expect_true(strstr(vram_device_errmsg(s.d), "injected fault") != NULL);
            snap(&s, &after);
            expect_true(same_stats(&before.stats, &after.stats));
            expect_eq_u64(before.free_bytes, after.free_bytes);
            expect_true(memcmp(before.seg_st, after.seg_st, sizeof before.seg_st) == 0);
            for (int j = 0; j < 3; j++) {
                expect_eq_u64(before.seg[j].addr, after.seg[j].addr);
                expect_eq_u64(before.seg[j].size, after.seg[j].size);
                expect_eq_u64(before.seg[j].max_size, after.seg[j].max_size);
                expect_eq_u64(before.seg[j].growable, after.seg[j].growable);
            }
            expect_eq_u64(vram_device_faults_hit(s.d), 1);
            /* The segments made so far are intact, contents too. */
            if (i > 1)
                expect_status(vram_device_verify(s.d, s.a, 4096, 1), VRAM_OK);
            if (i == 7) { /* the injected copy did not run: the destination is still zero */
                uint64_t w = 1;
                assert_ok(vram_device_copy_d2h(s.d, &w, s.g, sizeof w));
                expect_eq_u64(w, 0);
            }
            /* Once: the same call succeeds when repeated, and the scenario completes. */
            assert_ok(scen_step(&s, i));
            for (int j = i + 1; j < SCEN_STEPS; j++)
                assert_ok(scen_step(&s, j));
        }
        uint64_t hit = vram_device_faults_hit(s.d);
        vram_device_destroy(s.d);
        if (failed_at < 0) {
            expect_eq_u64(hit, 0);
            break;
        }
    }
    expect_eq_u64(k, SCEN_FAULTABLE + 1);

    /* Persistent: every later reserve fails until disarmed; copies are not selected. */
    vram_device *d = make(64 * MiB, 0, NULL);
    uint64_t a, b;
    assert_ok(vram_device_reserve(d, MiB, &a));
    vram_device_inject_fault(d, VRAM_FAULT_RESERVE, 2, 1, VRAM_EDEVICE);
    assert_ok(vram_device_reserve(d, MiB, &b));
    expect_status(vram_device_reserve(d, MiB, &b), VRAM_EDEVICE);
    expect_status(vram_device_reserve(d, MiB, &b), VRAM_EDEVICE);
    expect_status(vram_device_reserve_growable(d, MiB, &b), VRAM_EDEVICE);
    assert_ok(vram_device_copy_d2d(d, a, a, 16));
    expect_status(vram_device_reserve(d, 0, &b), VRAM_EINVAL); /* bad input: not a fault */
    expect_eq_u64(vram_device_faults_hit(d), 3);
    vram_device_inject_fault(d, 0, 0, 0, VRAM_OK);
    assert_ok(vram_device_reserve(d, MiB, &b));
    /* VRAM_OK as the status to inject means VRAM_EDEVICE. */
    vram_device_inject_fault(d, VRAM_FAULT_COPY, 1, 0, VRAM_OK);
    expect_status(vram_device_copy_d2d(d, a, a, 16), VRAM_EDEVICE);
    vram_device_stats st;
    vram_device_stats_get(d, &st);
    expect_eq_u64(st.segments, 3);
    expect_eq_u64(st.copy_calls, 1);
    vram_device_destroy(d);
}

int main(void)
{
    test_create_errors();
    test_capacity_and_placement();
    test_copies_unbacked();
    test_backing();
    test_growable();
    test_cost_model();
    test_fault_injection();
    return test_finish("device_sim");
}
