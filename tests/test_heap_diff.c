/* test_heap_diff.c - randomised differential test of every heap policy against
 * a shadow model of the live blocks (tests/heap_shadow.h).
 *
 * For each name in vram_heap_policy_names whose create succeeds (the others are
 * reported as skipped), it runs VRAM_DIFF_OPS operations (default 1,000,000):
 * allocs of log-uniform sizes (256 B up to 64 MiB, up to the block size for
 * "pool") with random alignments, frees of random live blocks, batched allocs
 * and frees, calls that must fail (an alloc above the capacity, a free of a
 * freed offset or of an offset inside a live block, a batch with one bad
 * offset: each must change nothing) and occasional
 * grows where the policy supports them. After every operation the heap's stats
 * are compared with the shadow; vram_heap_check() runs every 256 operations.
 * The seed is printed; VRAM_TEST_SEED replays a run. */
#include <stdarg.h>
#include <time.h>

#include "testlib.h"

#include "heap_shadow.h"
#include "vram/heap.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define CHECK_EVERY 256
#define PHASE_OPS 65536 /* fill and drain phases alternate this often */
#define BATCH_MAX 8
#define RECENT 16

/* How a policy counts the bytes of a block, where it is deterministic. */
typedef enum rounding { ROUND_UNKNOWN, ROUND_MIN_ALIGN, ROUND_POW2, ROUND_BLOCK } rounding;

static const struct {
    const char *name;
    rounding round;
} known_rounding[] = {
    {"bestfit", ROUND_MIN_ALIGN},
    {"tlsf", ROUND_MIN_ALIGN},
    {"buddy", ROUND_POW2},
    {"pool", ROUND_BLOCK},
};

typedef struct run {
    const char *policy;
    vram_heap *h;
    heap_shadow sh;
    uint64_t seed, rng, op;
    uint64_t min_align, block_size, max_size, max_align;
    rounding round;
    int can_grow;
    uint64_t grown, grow_limit;
    uint64_t recent[RECENT]; /* recently freed offsets, for the double-free probe */
    unsigned recent_n;
    uint64_t n_alloc, n_enomem, n_free, n_batch, n_probe, n_grow, n_check;
    int failed;
    char why[512];
} run;

static void fail(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr,
            "heap_diff: FAILED: %s, op %" PRIu64 " (VRAM_TEST_SEED=%" PRIu64 "): ", r->policy,
            r->op, r->seed);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    r->failed = 1;
    test_failures++;
}

static uint64_t rnd(run *r) { return test_rand(&r->rng); }

static unsigned log2_floor(uint64_t x) { return 63u - (unsigned)__builtin_clzll(x); }

/* Log-uniform in [256, max_size): a random octave, then uniform within it. */
static uint64_t rand_size(run *r)
{
    unsigned octaves = log2_floor(r->max_size) - 8;
    uint64_t base = UINT64_C(256) << (rnd(r) % octaves);
    return base + rnd(r) % base;
}

/* Half the requests take the minimum alignment (0), the others a power of two
 * from 256 B up to max_align. */
static uint64_t rand_align(run *r)
{
    if (rnd(r) & 1)
        return 0;
    return UINT64_C(256) << (rnd(r) % (log2_floor(r->max_align) - 7));
}

static uint64_t expected_rounding(const run *r, uint64_t size)
{
    switch (r->round) {
    case ROUND_MIN_ALIGN:
        return (size + r->min_align - 1) / r->min_align * r->min_align;
    case ROUND_POW2: {
        uint64_t p = size <= 1 ? 1 : UINT64_C(1) << (log2_floor(size - 1) + 1);
        return p < r->min_align ? r->min_align : p;
    }
    case ROUND_BLOCK:
        return r->block_size;
    case ROUND_UNKNOWN:
        break;
    }
    return 0;
}

static vram_heap_stats stats_of(const run *r)
{
    vram_heap_stats s;
    vram_heap_stats_get(r->h, &s);
    return s;
}

/* A failed call must leave the counters as they were. */
static void expect_unchanged(run *r, const vram_heap_stats *before, const char *what)
{
    vram_heap_stats after = stats_of(r);
    if (after.in_use != before->in_use || after.requested != before->requested ||
        after.live_allocs != before->live_allocs || after.capacity != before->capacity)
        fail(r,
             "a failed %s changed the heap (in_use %" PRIu64 " -> %" PRIu64 ", live %" PRIu64
             " -> %" PRIu64 ")",
             what, before->in_use, after.in_use, before->live_allocs, after.live_allocs);
}

static void record(run *r, uint64_t off, uint64_t size, uint64_t align)
{
    uint64_t a = align > r->min_align ? align : r->min_align;
    if (heap_shadow_add(&r->sh, off, size, a, expected_rounding(r, size), r->why, sizeof r->why))
        fail(r, "alloc(%" PRIu64 ", align %" PRIu64 "): %s", size, align, r->why);
}

static void forget(run *r, uint64_t off)
{
    heap_shadow_remove(&r->sh, off);
    r->recent[r->recent_n++ % RECENT] = off;
}

static void op_alloc(run *r)
{
    uint64_t size = rand_size(r), align = rand_align(r), off = 0;
    vram_heap_stats before = stats_of(r);
    vram_status st = vram_heap_alloc(r->h, size, align, &off);
    if (st == VRAM_OK) {
        r->n_alloc++;
        record(r, off, size, align);
    } else if (st == VRAM_ENOMEM) {
        r->n_enomem++;
        expect_unchanged(r, &before, "alloc");
    } else {
        fail(r, "alloc(%" PRIu64 ", align %" PRIu64 ") gave %s", size, align, vram_status_name(st));
    }
}

static void op_free(run *r)
{
    uint64_t off = heap_shadow_pick(&r->sh, rnd(r));
    vram_status st = vram_heap_free(r->h, off);
    if (st)
        fail(r, "free(%" PRIu64 ") of a live block gave %s", off, vram_status_name(st));
    else
        forget(r, off);
    r->n_free++;
}

static void op_alloc_batch(run *r)
{
    uint64_t sizes[BATCH_MAX], offs[BATCH_MAX];
    size_t n = 1 + rnd(r) % BATCH_MAX;
    uint64_t align = rand_align(r);
    for (size_t i = 0; i < n; i++)
        sizes[i] = rand_size(r);
    vram_heap_stats before = stats_of(r);
    vram_status st = vram_heap_alloc_batch(r->h, n, sizes, align, offs);
    if (st == VRAM_OK) {
        for (size_t i = 0; i < n && !r->failed; i++)
            record(r, offs[i], sizes[i], align);
    } else if (st == VRAM_ENOMEM) {
        expect_unchanged(r, &before, "alloc_batch");
    } else {
        fail(r, "alloc_batch of %zu gave %s", n, vram_status_name(st));
    }
    r->n_batch++;
}

/* Up to BATCH_MAX distinct live offsets into offs; returns how many. */
static size_t pick_distinct(run *r, uint64_t *offs)
{
    size_t want = 1 + rnd(r) % BATCH_MAX, n = 0;
    if (want > heap_shadow_count(&r->sh))
        want = heap_shadow_count(&r->sh);
    while (n < want) {
        uint64_t off = heap_shadow_pick(&r->sh, rnd(r));
        size_t j = 0;
        while (j < n && offs[j] != off)
            j++;
        if (j == n)
            offs[n++] = off;
    }
    return n;
}

static void op_free_batch(run *r)
{
    uint64_t offs[BATCH_MAX];
    size_t n = pick_distinct(r, offs);
    vram_status st = vram_heap_free_batch(r->h, n, offs);
    if (st) {
        fail(r, "free_batch of %zu live blocks gave %s", n, vram_status_name(st));
        return;
    }
    for (size_t i = 0; i < n; i++)
        forget(r, offs[i]);
    r->n_batch++;
}

/* Calls that must fail and change nothing: an alloc above the capacity
 * (VRAM_EINVAL), frees of an offset freed before and not live now or of an
 * offset inside a live block, a batch with one such offset. */
static void op_probe(run *r)
{
    vram_heap_stats before = stats_of(r);
    uint64_t got = 0, too_big = before.capacity + 1;
    vram_status st = vram_heap_alloc(r->h, too_big, 0, &got);
    if (st != VRAM_EINVAL)
        fail(r, "alloc(%" PRIu64 ") above the capacity gave %s, not VRAM_EINVAL", too_big,
             vram_status_name(st));
    expect_unchanged(r, &before, "alloc");
    uint64_t bad = UINT64_MAX;
    if (r->recent_n && rnd(r) & 1) {
        uint64_t off = r->recent[rnd(r) % (r->recent_n < RECENT ? r->recent_n : RECENT)];
        if (!heap_shadow_find(&r->sh, off))
            bad = off;
    } else if (heap_shadow_count(&r->sh)) {
        const heap_shadow_block *b = heap_shadow_find(&r->sh, heap_shadow_pick(&r->sh, rnd(r)));
        if (b->requested > r->min_align)
            bad = b->off + r->min_align;
    }
    if (bad == UINT64_MAX)
        return;
    st = vram_heap_free(r->h, bad);
    if (st != VRAM_ENOTFOUND && st != VRAM_EDOUBLEFREE)
        fail(r, "free(%" PRIu64 ") of no live block gave %s", bad, vram_status_name(st));
    expect_unchanged(r, &before, "free");
    if (heap_shadow_count(&r->sh)) {
        uint64_t offs[2] = {heap_shadow_pick(&r->sh, rnd(r)), bad};
        st = vram_heap_free_batch(r->h, 2, offs);
        if (st != VRAM_ENOTFOUND && st != VRAM_EDOUBLEFREE)
            fail(r, "free_batch with bad offset %" PRIu64 " gave %s", bad, vram_status_name(st));
        expect_unchanged(r, &before, "free_batch");
    }
    r->n_probe++;
}

static void op_grow(run *r)
{
    uint64_t bytes = (1 + rnd(r) % 32) * 2 * MiB;
    if (r->grown + bytes > r->grow_limit)
        return;
    vram_status st = vram_heap_grow(r->h, bytes);
    if (st == VRAM_EUNSUPPORTED) {
        printf("heap_diff: %s: grow unsupported, not exercised\n", r->policy);
        r->can_grow = 0;
        return;
    }
    if (st) {
        fail(r, "grow(%" PRIu64 ") gave %s", bytes, vram_status_name(st));
        return;
    }
    r->grown += bytes;
    r->n_grow++;
    heap_shadow_set_capacity(&r->sh, stats_of(r).capacity);
}

static void verify(run *r)
{
    vram_heap_stats s = stats_of(r);
    if (heap_shadow_compare(&r->sh, &s, r->why, sizeof r->why))
        fail(r, "stats disagree with the shadow: %s", r->why);
    if (r->op % CHECK_EVERY == 0) {
        r->n_check++;
        if (vram_heap_check(r->h, r->why, sizeof r->why))
            fail(r, "check(): %s", r->why);
    }
}

static void step(run *r)
{
    uint64_t x = rnd(r) % 10000;
    /* Fill phases allocate 55% of the time, drain phases 45%. */
    unsigned alloc_pct = (r->op / PHASE_OPS) % 2 ? 45 : 55;
    if (x < 1 && r->can_grow)
        op_grow(r);
    else if (x < 100)
        op_probe(r);
    else if (x < 200)
        op_alloc_batch(r);
    else if (x < 300 && heap_shadow_count(&r->sh))
        op_free_batch(r);
    else if (x % 100 < alloc_pct || !heap_shadow_count(&r->sh))
        op_alloc(r);
    else
        op_free(r);
}

/* Frees what is left, half singly and half in batches: the heap must be empty. */
static void drain(run *r)
{
    while (heap_shadow_count(&r->sh) && !r->failed) {
        if (rnd(r) & 1)
            op_free(r);
        else
            op_free_batch(r);
    }
    vram_heap_stats s = stats_of(r);
    if (!r->failed && (s.in_use || s.requested || s.live_allocs))
        fail(r,
             "after freeing everything: in_use %" PRIu64 ", requested %" PRIu64 ", live %" PRIu64,
             s.in_use, s.requested, s.live_allocs);
    if (!r->failed && vram_heap_check(r->h, r->why, sizeof r->why))
        fail(r, "check() after freeing everything: %s", r->why);
}

/* One policy: its verdict goes to test_failures and a summary line to stdout. */
static void run_policy(const char *name, uint64_t seed, uint64_t ops)
{
    run r = {.policy = name,
             .seed = seed,
             .rng = seed,
             .max_size = 64 * MiB,
             .max_align = 64 * MiB,
             .can_grow = 1};
    vram_heap_config cfg = {.capacity = 4 * GiB};
    if (strcmp(name, "pool") == 0) {
        r.block_size = cfg.block_size = 2 * MiB;
        cfg.capacity = 1 * GiB;
        r.max_size = r.max_align = r.block_size;
    }
    vram_status st = vram_heap_create(vram_heap_policy(name), &cfg, &r.h);
    if (st) {
        printf("heap_diff: %s: SKIPPED, create gave %s\n", name, vram_status_name(st));
        return;
    }
    r.min_align = vram_heap_min_align(r.h);
    r.grow_limit = cfg.capacity;
    for (size_t i = 0; i < sizeof known_rounding / sizeof known_rounding[0]; i++)
        if (strcmp(known_rounding[i].name, name) == 0)
            r.round = known_rounding[i].round;
    assert_true(heap_shadow_init(&r.sh, stats_of(&r).capacity) == 0);
    clock_t t0 = clock();
    for (r.op = 1; r.op <= ops && !r.failed; r.op++) {
        step(&r);
        if (!r.failed)
            verify(&r);
    }
    if (!r.failed)
        drain(&r);
    printf("heap_diff: %s: %s %" PRIu64 " ops: %" PRIu64 " allocs (%" PRIu64 " ENOMEM), %" PRIu64
           " frees, %" PRIu64 " batches, %" PRIu64 " must-fail probes, %" PRIu64 " grows, %" PRIu64
           " checks; in_use exact: %s; %.1f s CPU\n",
           name, r.failed ? "FAILED after" : "ok,", r.op - 1, r.n_alloc, r.n_enomem, r.n_free,
           r.n_batch, r.n_probe, r.n_grow, r.n_check,
           r.round == ROUND_UNKNOWN ? "no (>= requested)" : "yes",
           (double)(clock() - t0) / CLOCKS_PER_SEC);
    heap_shadow_fini(&r.sh);
    vram_heap_destroy(r.h);
}

int main(void)
{
    uint64_t seed = 0xd1ffd1ffull, ops = 1000000;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    env = getenv("VRAM_DIFF_OPS");
    if (env)
        ops = strtoull(env, NULL, 0);
    printf("heap_diff: seed %" PRIu64 " (set VRAM_TEST_SEED to replay), %" PRIu64
           " ops per policy\n",
           seed, ops);
    for (const char *const *name = vram_heap_policy_names; *name; name++)
        run_policy(*name, seed, ops);
    return test_finish("heap_diff");
}
