/* test_bounds.c - peak live bytes and Belady on hand-made traces (hand-computed
 * figures are in the traces' comments), trace consistency errors, and Belady
 * against an exhaustive search of every eviction choice on small random traces. */
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "nextuse.h"
#include "testlib.h"
#include "trace.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"

static void test_peak_live(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "bounds_peak.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.events, 10);
    expect_eq_u64(b.peak_live, 230);
    expect_eq_u64(b.peak_live_event, 8);
    expect_eq_u64(b.peak_live_line, 16);
    expect_eq_u64(b.peak_live_kv, 200);
    expect_eq_u64(b.peak_live_other, 130);
    expect_eq_u64(b.capacity, 4096);
    expect_true(b.belady_done);
    expect_true(!b.belady_exact); /* 50, 200 and the shared 100 differ */
    expect_eq_u64(b.belady_evictions, 0);
}

static void test_belady_exact(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "belady.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.peak_live, 4 * 65536);
    expect_eq_u64(b.peak_live_line, 14);
    expect_true(b.belady_done);
    expect_true(b.belady_exact);
    expect_eq_u64(b.evictable_size, 65536);
    expect_eq_u64(b.belady_evictions, 2);
    expect_eq_u64(b.belady_rematerialisations, 1);
    expect_eq_u64(b.belady_bytes_rematerialised, 65536);
    expect_eq_u64(b.belady_ooms, 0);

    /* A capacity override: room for all four, nothing to evict. */
    assert_ok(vbounds_compute(DATA "belady.trace", 4 * 65536, 1, &b, err, sizeof err));
    expect_eq_u64(b.capacity, 4 * 65536);
    expect_eq_u64(b.belady_evictions, 0);
    /* Without Belady: one pass, the peak only. */
    assert_ok(vbounds_compute(DATA "belady.trace", 0, 0, &b, err, sizeof err));
    expect_true(!b.belady_done);
    expect_eq_u64(b.peak_live, 4 * 65536);
}

static void test_no_evictable(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "frag.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.peak_live, 262144);
    expect_eq_u64(b.peak_live_kv, 0);
    expect_eq_u64(b.peak_live_other, 262144);
    expect_eq_u64(b.belady_evictions, 0);
    /* 5 would need 128 KiB with 128 KiB free: fits on the ideal device. */
    expect_eq_u64(b.belady_ooms, 0);
}

static void test_pooled_split(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "pooled.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.peak_live_kv, 196608);
    expect_eq_u64(b.peak_live_other, 327680);
    expect_eq_u64(b.peak_live, 524288);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_true(f != NULL);
    fputs(text, f);
    assert_true(fclose(f) == 0);
}

#define HEADER "vramtrace 1\nmodel t\nengine contiguous\ncapacity 1000\n"

static void expect_error(const char *name, const char *events, const char *want)
{
    char text[1024];
    snprintf(text, sizeof text, "%s%s", HEADER, events);
    write_file(name, text);
    vbounds b;
    char err[512];
    vram_status st = vbounds_compute(name, 0, 1, &b, err, sizeof err);
    expect_status(st, VRAM_EPARSE);
    if (!strstr(err, want)) {
        fprintf(stderr, "%s: error \"%s\" lacks \"%s\"\n", name, err, want);
        test_failures++;
    }
}

static void test_consistency_errors(void)
{
    expect_error("bounds_twice.trace", "alloc 1 10 0 kv 1\nalloc 1 10 0 kv 1\n",
                 "bounds_twice.trace:6: alloc of id 1, which is already live");
    expect_error("bounds_nofree.trace", "alloc 1 10 0 kv 1\nfree 2\n",
                 "bounds_nofree.trace:6: free of id 2, which is not live");
    expect_error("bounds_nouse.trace", "use 7\n", "bounds_nouse.trace:5: use of id 7");
    expect_error("bounds_norel.trace", "acquire k 10 1\nrelease k\nrelease k\n",
                 "bounds_norel.trace:7: release of key \"k\", which is not held");
    expect_error("bounds_size.trace", "acquire k 10 1\nacquire k 11 1\n",
                 "bounds_size.trace:6: acquire of key \"k\" with size 11, held with size 10");
    /* The reader's own errors come through with file:line. */
    expect_error("bounds_syntax.trace", "alloc 1 10 0 kv 1\nfree x\n", "bounds_syntax.trace:6:");

    vbounds b;
    char err[512];
    expect_true(vbounds_compute("no/such/file.trace", 0, 1, &b, err, sizeof err) != VRAM_OK);
    expect_true(strstr(err, "no/such/file.trace") != NULL);
}

static void test_belady_ooms(void)
{
    /* Non-evictable bytes beyond the capacity: OOM on the ideal device too;
     * the failed id's use is skipped. */
    write_file("bounds_oom.trace", HEADER "alloc 1 600 0 activation 1\nalloc 2 600 0 activation 1\n"
                                          "alloc 3 300 0 kv 1\nalloc 4 300 0 kv 1\nuse 3\nfree 1\n"
                                          "free 2\nfree 3\nfree 4\n");
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute("bounds_oom.trace", 0, 1, &b, err, sizeof err));
    /* 1 fits (600); 2 does not (OOM); 3 fits (900); 4 evicts 3, the only
     * evictable item, and fits; use 3 re-materialises it, evicting 4. */
    expect_eq_u64(b.belady_ooms, 1);
    expect_eq_u64(b.belady_evictions, 2);
    expect_eq_u64(b.belady_rematerialisations, 1);
    expect_eq_u64(b.peak_live, 1800);
}

/* ---- Belady against every eviction choice, on small uniform traces. ---- */

enum { ITEMS = 5, SLOTS = 2, EVENTS = 14 };

typedef struct op {
    int kind; /* 0 alloc, 1 use, 2 free */
    int item;
} op;

/* The fewest re-materialisations of any eviction choice from state `resident`
 * (bit mask of items) at event i. Exhaustive. */
static int best_remats(const op *ops, int n, int i, unsigned resident)
{
    if (i == n)
        return 0;
    const op *o = &ops[i];
    unsigned bit = 1u << o->item;
    if (o->kind == 2)
        return best_remats(ops, n, i + 1, resident & ~bit);
    int cost = 0;
    if (o->kind == 1 && (resident & bit))
        return best_remats(ops, n, i + 1, resident);
    if (o->kind == 1)
        cost = 1;
    if (__builtin_popcount(resident) < SLOTS)
        return cost + best_remats(ops, n, i + 1, resident | bit);
    int best = 1 << 20;
    for (int v = 0; v < ITEMS; v++) {
        if (!(resident & (1u << v)))
            continue;
        int r = best_remats(ops, n, i + 1, (resident & ~(1u << v)) | bit);
        if (r < best)
            best = r;
    }
    return cost + best;
}

static void test_belady_optimal(void)
{
    uint64_t seed = 20261122;
    printf("belady exhaustive: seed %llu\n", (unsigned long long)seed);
    int total = 0;
    for (int round = 0; round < 200; round++) {
        op ops[EVENTS + ITEMS];
        int n = 0, state[ITEMS] = {0}; /* 0 never, 1 live, 2 freed */
        while (n < EVENTS) {
            int it = (int)(test_rand(&seed) % ITEMS);
            if (state[it] == 0) {
                ops[n++] = (op){0, it};
                state[it] = 1;
            } else if (state[it] == 1) {
                ops[n++] = (op){test_rand(&seed) % 5 ? 1 : 2, it};
                if (ops[n - 1].kind == 2)
                    state[it] = 2;
            }
            int all_freed = 1;
            for (int k = 0; k < ITEMS; k++)
                all_freed &= state[k] == 2;
            if (all_freed)
                break;
        }
        char text[2048];
        size_t used = (size_t)snprintf(text, sizeof text,
                                       "vramtrace 1\nmodel t\nengine paged\ncapacity %d\n",
                                       SLOTS * 256);
        for (int i = 0; i < n; i++) {
            const char *fmt = ops[i].kind == 0   ? "alloc %d 256 0 kv 1\n"
                              : ops[i].kind == 1 ? "use %d\n"
                                                 : "free %d\n";
            used += (size_t)snprintf(text + used, sizeof text - used, fmt, ops[i].item);
        }
        write_file("bounds_random.trace", text);
        vbounds b;
        char err[512];
        assert_ok(vbounds_compute("bounds_random.trace", 0, 1, &b, err, sizeof err));
        int want = best_remats(ops, n, 0, 0);
        total += want;
        if ((int)b.belady_rematerialisations != want) {
            fprintf(stderr, "round %d: Belady %llu re-materialisations, optimum %d\n", round,
                    (unsigned long long)b.belady_rematerialisations, want);
            test_failures++;
            break;
        }
    }
    expect_true(total > 50); /* the traces do make evictions matter */
    printf("belady exhaustive: %d re-materialisations over 200 traces, all optimal\n", total);
}

/* The next-use log against a direct computation, over several read chunks:
 * items are created, referenced at random while live, and retired. */
static void test_nextuse_log(void)
{
    enum { REFS = 50000, LIVE = 64 };
    static uint64_t item_of[REFS], index_of[REFS], want[REFS];
    uint64_t seed = 99, live[LIVE], next_item = 1;
    printf("nextuse: seed 99\n");
    vnextuse *n;
    assert_ok(vnextuse_create(&n));
    for (int i = 0; i < LIVE; i++)
        live[i] = 0;
    for (int k = 0; k < REFS; k++) {
        int slot = (int)(test_rand(&seed) % LIVE);
        int first = live[slot] == 0 || test_rand(&seed) % 8 == 0; /* retire and replace */
        if (first)
            live[slot] = next_item++;
        item_of[k] = live[slot];
        index_of[k] = (uint64_t)k * 3 + 1;
        assert_ok(vnextuse_log(n, item_of[k], index_of[k], first));
    }
    /* Direct: walk backwards remembering each item's latest reference. */
    static uint64_t later[REFS + LIVE + 1];
    for (uint64_t i = 0; i < next_item; i++)
        later[i] = VNEXTUSE_NEVER;
    for (int k = REFS - 1; k >= 0; k--) {
        want[k] = later[item_of[k]];
        later[item_of[k]] = index_of[k];
    }
    assert_ok(vnextuse_finish(n));
    int bad = 0;
    for (int k = 0; k < REFS; k++) {
        uint64_t got;
        assert_ok(vnextuse_next(n, &got));
        bad += got != want[k];
    }
    uint64_t after;
    assert_ok(vnextuse_next(n, &after));
    expect_eq_u64(after, VNEXTUSE_NEVER);
    expect_eq_u64(bad, 0);
    vnextuse_destroy(n);
}

int main(void)
{
    test_peak_live();
    test_nextuse_log();
    test_belady_exact();
    test_no_evictable();
    test_pooled_split();
    test_consistency_errors();
    test_belady_ooms();
    test_belady_optimal();
    return test_finish("bounds");
}
