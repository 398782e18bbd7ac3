/* test_host_faults.c - host memory exhaustion at every allocation of libvram.
 *
 * The test is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
 * (tests/cmake/host_faults.cmake): every malloc, calloc and realloc of this
 * executable's objects, libvram's included, goes through a countdown, and the
 * n-th one returns NULL (once). Each scenario is run for n = 1, 2, ... until
 * it makes fewer than n allocations. After every call that fails, the call
 * must have returned VRAM_ENOHOST, left the counters as they were, and left
 * a state that check() accepts and that the rest of the scenario can go on
 * using; at the end every block is freed and nothing leaks (ASan's leak
 * checker runs under the asan preset). */
#include "testlib.h"

#include "replay.h"
#include "vram/vram.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)

/* The countdown: the host allocation numbered `fail_at` (1-based, counted
 * from arm()) fails; 0 = none fails. */
static long fail_at, counted;
static int injected;

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);

static int fail_now(void)
{
    if (!fail_at || ++counted != fail_at)
        return 0;
    injected = 1;
    return 1;
}

void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n);
void *__wrap_calloc(size_t k, size_t n)
{
    return fail_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

static void arm(long n)
{
    fail_at = n;
    counted = 0;
    injected = 0;
}

/* The checks between calls allocate too: they run with the countdown held. */
static long held_at;
static void hold(void)
{
    held_at = fail_at;
    fail_at = 0;
}
static void resume(void)
{
    fail_at = held_at;
}

/* What one run of a scenario saw. */
typedef struct run {
    const char *what;
    long n;                 /* the allocation that failed */
    int failed_calls;       /* calls that returned VRAM_ENOHOST */
    int injected_before;    /* whether the failure had happened before the current call */
    int keeps_segments;     /* the current call may leave segments it reserved cached */
    vram_heap_stats before; /* the heap's counters before the current call */
    vram_tensor_cache_stats tc_before;
} run;

/* A call's status: VRAM_OK, or VRAM_ENOHOST when (and only when) an
 * allocation was refused during it. */
static int step_ok(run *r, const char *call, vram_status st, int was_injected)
{
    if (st == VRAM_OK)
        return 1;
    if (st != VRAM_ENOHOST || !was_injected) {
        fprintf(stderr, "FAILED: %s, allocation %ld: %s gave %s%s\n", r->what, r->n, call,
                vram_strerror(st), was_injected ? "" : " with no allocation refused");
        test_failures++;
    }
    r->failed_calls++;
    return 0;
}

static int same_heap_stats(const vram_heap_stats *a, const vram_heap_stats *b, int keeps_segments)
{
    return a->capacity == b->capacity && a->in_use == b->in_use &&
           a->requested == b->requested && a->free == b->free &&
           a->live_allocs == b->live_allocs &&
           (keeps_segments ? a->footprint <= b->footprint : a->footprint == b->footprint);
}

static void heap_consistent(run *r, const vram_heap *h, const char *call,
                            const vram_heap_stats *before)
{
    vram_heap_stats now;
    vram_heap_stats_get(h, &now);
    if (before && !same_heap_stats(before, &now, r->keeps_segments)) {
        fprintf(stderr,
                "FAILED: %s, allocation %ld: %s failed but changed the counters: in_use %" PRIu64
                " -> %" PRIu64 ", live %" PRIu64 " -> %" PRIu64 ", footprint %" PRIu64
                " -> %" PRIu64 ", capacity %" PRIu64 " -> %" PRIu64 "\n",
                r->what, r->n, call, before->in_use, now.in_use, before->live_allocs,
                now.live_allocs, before->footprint, now.footprint, before->capacity,
                now.capacity);
        test_failures++;
    }
    char msg[256];
    hold();
    if (vram_heap_check(h, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "FAILED: %s, allocation %ld: after %s: check: %s\n", r->what, r->n,
                call, msg);
        test_failures++;
    }
    resume();
}

static void heap_before(run *r, const vram_heap *h)
{
    r->injected_before = injected;
    vram_heap_stats_get(h, &r->before);
}

/* The end of a heap call: a failure must change nothing. */
static int heap_after(run *r, const vram_heap *h, const char *call, vram_status st)
{
    int ok = step_ok(r, call, st, injected && !r->injected_before);
    heap_consistent(r, h, call, ok ? NULL : &r->before);
    return ok;
}
#define HEAP_STEP(r, h, call) (heap_before((r), (h)), heap_after((r), (h), #call, (call)))

/* A heap of `policy`: create, 96 allocations of mixed sizes and alignments,
 * half freed, a batch, a grow, a batched free, the rest freed, destroy. */
static void heap_scenario(run *r, const char *policy)
{
    vram_caching_options copt = {.expandable_segments = 0};
    vram_heap_config cfg = {.capacity = 64 * MiB, .block_size = 256 * KiB, .caching = &copt};
    vram_heap *h = NULL;
    vram_status st = vram_heap_create(vram_heap_policy(policy), &cfg, &h);
    /* the flag is read after the call: an argument list has no order */
    if (!step_ok(r, "vram_heap_create", st, injected)) {
        expect_true(h == NULL);
        return;
    }
    int pool = strcmp(policy, "pool") == 0; /* a pool block holds 256 KiB at most */
    enum { N = 96 };
    uint64_t off[N + 8];
    int live[N + 8] = {0};
    uint64_t rng = 7;
    for (int i = 0; i < N; i++) {
        uint64_t size = 1 + test_rand(&rng) % (cfg.block_size + 128 * KiB * !pool);
        uint64_t align = UINT64_C(1) << (test_rand(&rng) % 14);
        live[i] = HEAP_STEP(r, h, vram_heap_alloc(h, size, align, &off[i]));
    }
    for (int i = 0; i < N; i += 2)
        if (live[i] && HEAP_STEP(r, h, vram_heap_free(h, off[i])))
            live[i] = 0;
    uint64_t sizes[8] = {KiB, 3 * KiB, 100 * KiB, 64, 200 * KiB, 5, pool ? 256 * KiB : 2 * MiB, 17 * KiB};
    /* A failed batch frees the blocks it got; the caching policy keeps the
     * segments it reserved for them as cached memory, as for any free. */
    r->keeps_segments = strcmp(policy, "caching") == 0;
    if (HEAP_STEP(r, h, vram_heap_alloc_batch(h, 8, sizes, 0, &off[N])))
        for (int i = 0; i < 8; i++)
            live[N + i] = 1;
    r->keeps_segments = 0;
    HEAP_STEP(r, h, vram_heap_grow(h, 32 * MiB));
    uint64_t batch[N + 8];
    size_t nb = 0;
    for (int i = 1; i < N; i += 2)
        if (live[i])
            batch[nb++] = off[i];
    if (HEAP_STEP(r, h, vram_heap_free_batch(h, nb, batch)))
        for (int i = 1; i < N; i += 2)
            live[i] = 0;
    for (int i = 0; i < N + 8; i++)
        if (live[i])
            HEAP_STEP(r, h, vram_heap_free(h, off[i]));
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.live_allocs, 0);
    vram_heap_destroy(h);
}

static int same_tc_stats(const vram_tensor_cache_stats *a, const vram_tensor_cache_stats *b)
{
    return a->idle_bytes == b->idle_bytes && a->idle_buffers == b->idle_buffers &&
           a->out_bytes == b->out_bytes && a->out_buffers == b->out_buffers &&
           a->shapes == b->shapes && a->adopted == b->adopted;
}

/* The end of a tensor cache call: a failure changes neither the cache's
 * counters nor the heap's, and both checks pass. */
static int tc_after(run *r, const vram_tensor_cache *tc, const vram_heap *h,
                    const vram_tensor_cache_stats *before, const char *call, vram_status st)
{
    int ok = step_ok(r, call, st, injected && !r->injected_before);
    heap_consistent(r, h, call, ok ? NULL : &r->before);
    vram_tensor_cache_stats now;
    vram_tensor_cache_stats_get(tc, &now);
    char msg[256];
    hold();
    if ((!ok && !same_tc_stats(before, &now)) ||
        vram_tensor_cache_check(tc, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "FAILED: %s, allocation %ld: after %s: the cache changed or is corrupt\n",
                r->what, r->n, call);
        test_failures++;
    }
    resume();
    return ok;
}
#define TC_STEP(r, tc, h, call)                                                            \
    (heap_before((r), (h)), vram_tensor_cache_stats_get((tc), &(r)->tc_before),             \
     tc_after((r), (tc), (h), &(r)->tc_before, #call, (call)))

/* A tensor cache over a bestfit heap: buffers of 12 shapes reserved, some
 * handed out and taken back, heap blocks adopted, everything trimmed. */
static void tensor_cache_scenario(run *r, const char *policy)
{
    vram_heap_config hc = {.capacity = 64 * MiB};
    vram_heap *h = NULL;
    vram_status st = vram_heap_create(vram_heap_policy(policy), &hc, &h);
    if (!step_ok(r, "vram_heap_create", st, injected))
        return;
    vram_tensor_cache_config cfg = {.limit_bytes = 32 * MiB};
    vram_tensor_cache *tc = NULL;
    st = vram_tensor_cache_create(h, &cfg, &tc);
    if (step_ok(r, "vram_tensor_cache_create", st, injected)) {
        for (uint32_t i = 0; i < 12; i++) {
            vram_tensor_shape shape = {.ndim = 2, .dims = {1 + i, 4096}, .dtype = VRAM_DTYPE_BF16};
            uint64_t off;
            if (TC_STEP(r, tc, h, vram_tensor_cache_reserve(tc, &shape, 1 + i % 3)) &&
                TC_STEP(r, tc, h, vram_tensor_cache_acquire(tc, &shape, &off)))
                TC_STEP(r, tc, h, vram_tensor_cache_release(tc, off));
            shape.dims[1] = 1000;
            if (HEAP_STEP(r, h, vram_heap_alloc(h, 2000 * (1 + i), 0, &off)) &&
                !TC_STEP(r, tc, h, vram_tensor_cache_adopt(tc, &shape, off)))
                HEAP_STEP(r, h, vram_heap_free(h, off));
        }
        TC_STEP(r, tc, h, vram_tensor_cache_trim(tc, NULL, NULL));
        vram_tensor_cache_destroy(tc);
    }
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    expect_eq_u64(s.live_allocs, 0);
    vram_heap_destroy(h);
}

static vram_status fill(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    (void)ctx;
    (void)dev;
    (void)addr;
    (void)size;
    return VRAM_OK;
}

static void manager_consistent(run *r, const vram_manager *m, const char *call)
{
    char msg[256];
    hold();
    if (vram_manager_check(m, msg, sizeof msg) != VRAM_OK) {
        fprintf(stderr, "FAILED: %s, allocation %ld: after %s: check: %s\n", r->what, r->n,
                call, msg);
        test_failures++;
    }
    resume();
}

/* The end of a manager call: a failure leaves a state check() accepts. */
static int mgr_after(run *r, const vram_manager *m, const char *call, vram_status st)
{
    int ok = step_ok(r, call, st, injected && !r->injected_before);
    manager_consistent(r, m, call);
    return ok;
}
#define MGR_STEP(r, m, call) ((r)->injected_before = injected, mgr_after((r), (m), #call, (call)))

/* A manager over a host-backed 8 MiB device and `policy`: 24 host-backed
 * handles of 1 MiB (evictions from the 9th), every one touched back (host
 * copies, re-materialisation), shared weights acquired twice and released,
 * everything freed, no leak reported. */
static void manager_scenario(run *r, const char *policy)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 8 * MiB;
    cfg.device.host_backing = 1;
    cfg.heap_policy = policy;
    cfg.heap.block_size = MiB;
    cfg.evict = 1;
    vram_manager *m = NULL;
    vram_status st = vram_manager_create(&cfg, &m);
    if (!step_ok(r, "vram_manager_create", st, injected)) {
        expect_true(m == NULL);
        return;
    }
    enum { N = 24 };
    vram_handle h[N];
    int live[N] = {0};
    for (int i = 0; i < N; i++) {
        vram_alloc_desc d = {.size = MiB, .priority = i % 3, .kind = VRAM_KIND_KV,
                             .backing = VRAM_BACKING_HOST};
        live[i] = MGR_STEP(r, m, vram_alloc(m, &d, &h[i]));
    }
    for (int i = 0; i < N; i++)
        if (live[i])
            MGR_STEP(r, m, vram_touch(m, h[i]));
    vram_handle s1, s2;
    int held = MGR_STEP(r, m, vram_acquire_shared(m, "base", MiB, 5, fill, NULL, &s1));
    if (held)
        held += MGR_STEP(r, m, vram_acquire_shared(m, "base", MiB, 5, fill, NULL, &s2));
    while (held-- > 0)
        MGR_STEP(r, m, vram_release_shared(m, "base"));
    for (int i = 0; i < N; i++)
        if (live[i])
            MGR_STEP(r, m, vram_free(m, h[i]));
    expect_eq_u64(vram_manager_destroy(m, stderr), 0);
}

/* A replay of tests/data/small.trace through `policy`, a check after every
 * event, no database: a refused allocation ends the run as "failed" naming
 * host memory (not as an invariant violation, not "ok"), or the whole call
 * with VRAM_ENOHOST. */
static void replay_scenario(run *r, const char *policy)
{
    vreplay_options o = {.trace_path = VRAM_SOURCE_DIR "/tests/data/small.trace",
                         .policy = policy, .sample_every = 1, .check_every = 1};
    static vreplay_result result; /* not allocated: the countdown would count it */
    vreplay_result *res = &result;
    memset(res, 0, sizeof *res);
    vram_status st = vreplay_run(&o, res);
    hold();
    if (injected && st == VRAM_OK) {
        if (res->status != VREPLAY_RUN_FAILED || !strstr(res->message, "out of host memory")) {
            fprintf(stderr, "FAILED: %s, allocation %ld: the run ended %s: %s\n", r->what, r->n,
                    vreplay_status_name(res->status), res->message);
            test_failures++;
        }
        r->failed_calls++;
    } else {
        step_ok(r, "vreplay_run", st, injected);
    }
    resume();
}

/* Runs the scenario with allocation 1, 2, ... failing until it makes fewer
 * allocations than that; prints how many it makes and how many calls failed. */
static void every_allocation(const char *what, const char *policy,
                             void (*scenario)(run *, const char *))
{
    long total = 0, failed = 0;
    for (long n = 1;; n++) {
        run r = {.what = what, .n = n};
        arm(n);
        scenario(&r, policy);
        int reached = injected;
        long made = counted;
        arm(0);
        failed += r.failed_calls;
        if (!reached) {
            total = made;
            break;
        }
        if (n > 100000) {
            fprintf(stderr, "FAILED: %s: more than 100000 host allocations\n", what);
            test_failures++;
            break;
        }
    }
    printf("%s: %ld host allocations, each refused once: %ld calls or runs failed for it\n", what,
           total, failed);
    expect_true(total > 0);
}

int main(void)
{
    static const char *const heaps[] = {"bestfit", "buddy", "tlsf", "pool", "caching"};
    char what[64];
    for (size_t i = 0; i < sizeof heaps / sizeof heaps[0]; i++) {
        snprintf(what, sizeof what, "heap %s", heaps[i]);
        every_allocation(what, heaps[i], heap_scenario);
    }
    static const char *const managed[] = {"bestfit", "pool", "caching"};
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++) {
        snprintf(what, sizeof what, "manager over %s", managed[i]);
        every_allocation(what, managed[i], manager_scenario);
    }
    every_allocation("tensor cache over bestfit", "bestfit", tensor_cache_scenario);
    for (size_t i = 0; i < sizeof heaps / sizeof heaps[0]; i++) {
        snprintf(what, sizeof what, "replay over %s", heaps[i]);
        every_allocation(what, heaps[i], replay_scenario);
    }
    return test_finish("host_faults");
}
