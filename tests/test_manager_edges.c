/* test_manager_edges.c - the façade's edges: NULL arguments of every call,
 * creation failures, descriptors and counters at their limits, handles whose
 * generation wraps, leak reports of evicted handles, heap walks over a block
 * no handle owns, and host memory running out in the calls that
 * test_host_faults.c does not make (the "cost" policy, walks, compaction).
 * Each case asserts the status and the state after. */
#include "test_manager_lib.h"

#include "vram/defrag.h"
#include "vram/vram.h"

#include "../alloc/manager_internal.h"

#if defined(VRAM_HAVE_CUDA) && defined(VRAM_FAKE_CUDA)
#include <dlfcn.h>
#endif

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

static vram_manager *make(uint64_t capacity)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = capacity;
    cfg.evict = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

static vram_handle alloc_one(vram_manager *m, uint64_t size, int prio, vram_kind kind)
{
    vram_alloc_desc d = {.size = size, .priority = prio, .kind = kind, .backing = VRAM_BACKING_HOST};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

static uint64_t live_handles(const vram_manager *m)
{
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    return st.handles;
}

static int never_called(const vram_block_info *b, vram_kind k, void *ctx)
{
    (void)b, (void)k;
    ++*(int *)ctx;
    return 0;
}

/* Every call refuses a NULL manager or out-pointer and changes nothing. */
static void null_arguments(void)
{
    vram_manager *m = make(4 * MIB);
    vram_handle h = alloc_one(m, MIB, 0, VRAM_KIND_KV);
    vram_alloc_desc d = {.size = MIB};
    vram_handle out = {0};
    uint64_t addr = 7;

    vram_manager_config cfg = {0};
    cfg.device.capacity = MIB;
    expect_status(vram_manager_create(&cfg, NULL), VRAM_EINVAL);
    expect_status(vram_alloc(NULL, &d, &out), VRAM_EINVAL);
    expect_status(vram_alloc(m, NULL, &out), VRAM_EINVAL);
    expect_status(vram_alloc(m, &d, NULL), VRAM_EINVAL);
    expect_eq_u64(out.v, 0);
    expect_status(vram_free(NULL, h), VRAM_EINVAL);
    expect_status(vram_touch(NULL, h), VRAM_EINVAL);
    expect_status(vram_acquire(NULL, h, &addr), VRAM_EINVAL);
    expect_eq_u64(addr, 7);
    expect_status(vram_unacquire(NULL, h), VRAM_EINVAL);
    expect_status(vram_pin(NULL, h), VRAM_EINVAL);
    expect_status(vram_unpin(NULL, h), VRAM_EINVAL);
    vram_handle_info info;
    expect_status(vram_handle_get(NULL, h, &info), VRAM_EINVAL);
    expect_status(vram_handle_get(m, h, NULL), VRAM_EINVAL);
    int calls = 0;
    expect_status(vram_manager_walk(NULL, never_called, &calls), VRAM_EINVAL);
    expect_status(vram_manager_walk(m, NULL, &calls), VRAM_EINVAL);
    expect_eq_u64(calls, 0);
    uint64_t tokens = 5;
    expect_status(vram_manager_auto_context(NULL, 0.9, &tokens, NULL), VRAM_EINVAL);
    expect_status(vram_manager_auto_context(m, 0.9, NULL, NULL), VRAM_EINVAL);
    expect_eq_u64(tokens, 5);
    expect_true(vram_manager_heap(NULL) == NULL);
    expect_true(vram_manager_device(NULL) == NULL);
    expect_true(vram_manager_budget(NULL) == NULL);

    /* stats_get cannot fail: with a NULL manager nothing is written. */
    vram_manager_stats st;
    memset(&st, 0xab, sizeof st);
    vram_manager_stats_get(NULL, &st);
    expect_eq_u64(st.handles, UINT64_C(0xabababababababab));
    vram_manager_stats_get(m, NULL);

    /* The handle is untouched by all of the above. */
    assert_ok(vram_handle_get(m, h, &info));
    expect_true(info.resident && info.pins == 0 && info.uses == 0);
    expect_eq_u64(live_handles(m), 1);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 1);
}

/* Creation fails with the failing part's status and no manager. */
static void creation_failures(void)
{
    vram_manager *m = (vram_manager *)&m;
    vram_manager_config cfg = {0};
    cfg.device.capacity = 4 * MIB;
    cfg.heap.capacity = 8 * MIB; /* more than the device holds */
    expect_status(vram_manager_create(&cfg, &m), VRAM_ENOMEM);
    expect_true(m == NULL);

    m = (vram_manager *)&m;
    cfg.heap.capacity = 0;
    cfg.heap.min_align = 3; /* not a power of two: the heap refuses it */
    expect_status(vram_manager_create(&cfg, &m), VRAM_EINVAL);
    expect_true(m == NULL);

    cfg.heap.min_align = 0;
    cfg.heap.capacity = 2 * MIB; /* a heap smaller than the device is fine */
    assert_ok(vram_manager_create(&cfg, &m));
    vram_heap_stats hs;
    vram_heap_stats_get(vram_manager_heap(m), &hs);
    expect_eq_u64(hs.capacity, 2 * MIB);
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* A backing outside the enum is refused like any bad descriptor. */
static void bad_descriptor(void)
{
    vram_manager *m = make(4 * MIB);
    vram_alloc_desc d = {.size = MIB, .backing = (vram_backing)7};
    vram_handle h = {0};
    expect_status(vram_alloc(m, &d, &h), VRAM_EINVAL);
    expect_eq_u64(h.v, 0);
    expect_eq_u64(live_handles(m), 0);
    vram_heap_stats hs;
    vram_heap_stats_get(vram_manager_heap(m), &hs);
    expect_eq_u64(hs.in_use, 0);
    EXPECT_MANAGER_CLEAN(m);
    vram_manager_destroy(m, NULL);
}

/* Pins and uses count to 2^32 - 1; one more is VRAM_EOVERFLOW and changes
 * nothing. (The counters are set near the limit through the internal header.) */
static void counter_limits(void)
{
    vram_manager *m = make(4 * MIB);
    vram_handle h = alloc_one(m, MIB, 0, VRAM_KIND_KV);
    vram__handle *s = &m->handles.slots[(uint32_t)h.v];
    assert_ok(vram_pin(m, h)); /* out of the eviction set, as a pinned handle is */
    s->pins = UINT32_MAX;
    expect_status(vram_pin(m, h), VRAM_EOVERFLOW);
    expect_eq_u64(s->pins, UINT32_MAX);
    s->uses = UINT32_MAX;
    uint64_t addr = 7;
    expect_status(vram_acquire(m, h, &addr), VRAM_EOVERFLOW);
    expect_eq_u64(s->uses, UINT32_MAX);
    expect_eq_u64(addr, 7);
    s->uses = 0;
    s->pins = 1;
    EXPECT_MANAGER_CLEAN(m);
    assert_ok(vram_unpin(m, h));
    expect_status(vram_unpin(m, h), VRAM_EINVAL);
    expect_true(s->evictable);

    /* Releasing a handle that is gone names how it is gone. */
    assert_ok(vram_free(m, h));
    expect_status(vram_unpin(m, h), VRAM_EDOUBLEFREE);
    expect_status(vram_unacquire(m, h), VRAM_EDOUBLEFREE);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* Generation 0 is never issued: a slot whose generation wraps starts at 1. */
static void generation_wrap(void)
{
    vram_manager *m = make(4 * MIB);
    vram_handle h = alloc_one(m, MIB, 0, VRAM_KIND_KV);
    uint32_t i = (uint32_t)h.v;
    m->handles.slots[i].gen = UINT32_MAX; /* as after 2^32 - 2 frees of this slot */
    vram_handle last = {((uint64_t)UINT32_MAX << 32) | i};
    vram_handle_info info;
    assert_ok(vram_handle_get(m, last, &info));
    assert_ok(vram_free(m, last));
    expect_eq_u64(m->handles.slots[i].gen, 1);
    vram_handle again = alloc_one(m, MIB, 0, VRAM_KIND_KV);
    expect_eq_u64(again.v, (UINT64_C(1) << 32) | i); /* the same slot, generation 1 */
    expect_true(vram_handle_get(m, last, &info) != VRAM_OK);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 1);
}

/* A full handle table (2^32 - 1 slots, the state set through the internal
 * header) refuses one more handle with VRAM_EOVERFLOW and changes nothing. */
static void table_full(void)
{
    vram_manager *m = make(4 * MIB);
    vram_handle h = alloc_one(m, MIB, 0, VRAM_KIND_KV);
    vram__handles saved = m->handles;
    m->handles.cap = m->handles.used = UINT32_MAX;
    vram_alloc_desc d = {.size = MIB};
    vram_handle out = {0};
    expect_status(vram_alloc(m, &d, &out), VRAM_EOVERFLOW);
    expect_eq_u64(out.v, 0);
    expect_eq_u64(m->handles.live, 1);
    expect_eq_u64(m->handles.cap, UINT32_MAX);
    m->handles = saved;
    vram_heap_stats hs;
    vram_heap_stats_get(vram_manager_heap(m), &hs);
    expect_eq_u64(hs.in_use, MIB);
    vram_handle_info info;
    expect_status(vram_handle_get(m, h, &info), VRAM_OK);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 1);
}

/* The leak report names every live handle, evicted ones as evicted. */
static void leak_report(void)
{
    vram_manager *m = make(2 * MIB);
    vram_handle a = alloc_one(m, MIB, 0, VRAM_KIND_KV);
    alloc_one(m, MIB, 1, VRAM_KIND_WEIGHT);
    alloc_one(m, MIB, 1, VRAM_KIND_ACTIVATION); /* evicts a */
    vram_handle_info info;
    assert_ok(vram_handle_get(m, a, &info));
    assert_true(!info.resident);
    FILE *f = tmpfile();
    assert_true(f != NULL);
    expect_eq_u64(vram_manager_destroy(m, f), 3);
    rewind(f);
    char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    char want[128];
    snprintf(want, sizeof want, "vram: leaked handle 0x%016" PRIx64 ": 1048576 bytes, kind kv, priority 0, evicted\n",
             a.v);
    expect_true(strstr(text, want) != NULL);
    expect_true(strstr(text, "kind weight, priority 1, resident\n") != NULL);
    expect_true(strstr(text, "kind activation, priority 1, resident\n") != NULL);
}

typedef struct seen_blocks {
    int n;
    vram_block_info b[8];
    vram_kind k[8];
} seen_blocks;

static int record(const vram_block_info *b, vram_kind k, void *ctx)
{
    seen_blocks *s = ctx;
    if (s->n < 8) {
        s->b[s->n] = *b;
        s->k[s->n] = k;
    }
    s->n++;
    return 0;
}

/* A used heap block that no handle owns (here one taken straight from the
 * heap, above every handle) walks as VRAM_KIND_OTHER. */
static void walk_foreign_block(void)
{
    vram_manager *m = make(4 * MIB);
    alloc_one(m, MIB, 0, VRAM_KIND_KV);
    uint64_t stray;
    assert_ok(vram_heap_alloc(vram_manager_heap(m), 256 * KIB, 0, &stray));
    expect_eq_u64(stray, MIB);
    seen_blocks s = {0};
    assert_ok(vram_manager_walk(m, record, &s));
    expect_eq_u64(s.n, 3);
    expect_true(s.b[0].used && s.k[0] == VRAM_KIND_KV);
    expect_true(s.b[1].used && s.b[1].offset == stray && s.k[1] == VRAM_KIND_OTHER);
    expect_true(!s.b[2].used && s.k[2] == VRAM_KIND_OTHER);
    assert_ok(vram_heap_free(vram_manager_heap(m), stray));
    EXPECT_MANAGER_CLEAN(m);
    vram_manager_destroy(m, NULL);
}

/* Host memory: every malloc, calloc and realloc of this executable, libvram's
 * included, goes through a countdown (tests/cmake/manager_edges.cmake links
 * with --wrap): from arm(n), the n-th one made while not paused returns NULL,
 * once. The test's own checks run paused. */
static long fail_at, counted;
static int paused;

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);

static int fail_now(void) { return fail_at && !paused && ++counted == fail_at; }

void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_calloc(size_t k, size_t n) { return fail_now() ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }

static void arm(long n)
{
    fail_at = n;
    counted = 0;
    paused = 1;
}

/* Runs the next library call unpaused: resume(), the call, then fired(). */
static void resume(void) { paused = 0; }

/* Pauses the countdown; whether the armed allocation has failed by now. */
static int fired(void)
{
    paused = 1;
    return fail_at && counted >= fail_at;
}

static int count_block(const vram_block_info *b, vram_kind k, void *ctx)
{
    (void)b, (void)k;
    ++*(int *)ctx;
    return 0;
}

/* After a call failed for host memory: it said VRAM_ENOHOST, the manager's
 * invariants hold, nothing moved and every handle's contents verify. */
static void after_enohost(vram_manager *m, vram_status st, const vram_handle *h,
                          const uint64_t *addr, int n, const vram_manager_stats *before, long at)
{
    if (st != VRAM_ENOHOST) {
        fprintf(stderr, "host allocation %ld failed: the call gave %s\n", at, vram_status_name(st));
        test_failures++;
    }
    EXPECT_MANAGER_CLEAN(m);
    vram_manager_stats now;
    vram_manager_stats_get(m, &now);
    expect_eq_u64(now.handles, before->handles);
    expect_eq_u64(now.failed_allocs, before->failed_allocs);
    expect_eq_u64(now.defrag_moves, before->defrag_moves);
    expect_eq_u64(now.evictions, before->evictions);
    for (int i = 0; i < n; i++) {
        vram_handle_info info;
        if (!h[i].v || vram_handle_get(m, h[i], &info))
            continue;
        expect_eq_u64(info.addr, addr[i]);
        if (info.resident)
            expect_status(vram_device_verify(vram_manager_device(m), info.addr, info.size, h[i].v),
                          VRAM_OK);
    }
}

/* One run with the n-th host allocation failing: a host-backed manager with
 * the "cost" policy, four 256 KiB handles of which two are freed, a walk, an
 * allocation that needs the automatic compaction, one that needs an eviction
 * (a host copy), a compaction pass. The run ends at the call that failed.
 * Returns whether the failure was reached. */
static int host_run(long n)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = MIB;
    cfg.device.host_backing = 1;
    cfg.evict_policy = "cost";
    cfg.evict = 1;
    cfg.defrag_on_oom = 1;
    vram_manager *m = (vram_manager *)&m;
    arm(n);
    resume();
    vram_status st = vram_manager_create(&cfg, &m);
    if (fired()) {
        fail_at = 0;
        expect_status(st, VRAM_ENOHOST);
        expect_true(m == NULL);
        return 1;
    }
    assert_ok(st);
    enum { NH = 6 };
    const uint64_t sizes[NH] = {256 * KIB, 256 * KIB, 256 * KIB, 256 * KIB, 512 * KIB, 256 * KIB};
    vram_handle h[NH] = {{0}};
    uint64_t addr[NH] = {0};
    vram_manager_stats before;
    int failed = 0;
    for (int i = 0; i < NH && !failed; i++) {
        vram_manager_stats_get(m, &before);
        vram_alloc_desc d = {.size = sizes[i], .backing = VRAM_BACKING_HOST};
        resume();
        st = vram_alloc(m, &d, &h[i]);
        if (fired()) {
            h[i].v = 0;
            after_enohost(m, st, h, addr, NH, &before, n);
            failed = 1;
        } else {
            assert_ok(st);
        }
        if (i == 3 && !failed) { /* 512 KiB free in two pieces: the next needs a move */
            assert_ok(vram_free(m, h[1]));
            assert_ok(vram_free(m, h[3]));
            h[1].v = h[3].v = 0;
            int blocks = 0;
            resume();
            st = vram_manager_walk(m, count_block, &blocks);
            if (fired()) {
                expect_status(st, VRAM_ENOHOST);
                expect_eq_u64(blocks, 0);
                failed = 1;
            } else {
                assert_ok(st);
                expect_eq_u64(blocks, 4);
            }
        }
        for (int k = 0; k <= i; k++) {
            vram_handle_info info;
            if (h[k].v && vram_handle_get(m, h[k], &info) == VRAM_OK)
                addr[k] = info.addr;
        }
    }
    if (!failed) {
        vram_manager_stats_get(m, &before);
        vram_defrag_report r = {.moves = 99};
        resume();
        st = vram_manager_defrag(m, 0, &r);
        if (fired()) {
            after_enohost(m, st, h, addr, NH, &before, n);
            expect_eq_u64(r.moves, 99); /* no report for a pass that did not run */
            vram_manager_stats now;
            vram_manager_stats_get(m, &now);
            expect_eq_u64(now.defrag_passes, before.defrag_passes);
            failed = 1;
        } else {
            assert_ok(st);
        }
    }
    fail_at = 0;
    vram_manager_destroy(m, NULL);
    return failed;
}

static void host_memory(void)
{
    long n = 1;
    while (host_run(n))
        n++;
    printf("manager_edges: %ld host allocations failed in turn\n", n - 1);
    expect_true(n > 10); /* the runs reached allocations of every call above */
}

#if defined(VRAM_HAVE_CUDA) && defined(VRAM_FAKE_CUDA)
/* A heap of capacity 0 takes the device's total: on the cuda backend (the
 * fake driver, tests/cmake/manager_edges.cmake) a failing cuMemGetInfo then
 * fails the creation with the device's status and leaves no manager. */
static void cuda_total_unknown(void)
{
    setenv("VRAM_CUDA_DRIVER", VRAM_FAKE_CUDA, 1);
    setenv("FAKE_CUDA_TOTAL", "67108864", 1); /* 64 MiB */
    void *lib = dlopen(VRAM_FAKE_CUDA, RTLD_NOW); /* the instance the device loads */
    assert_true(lib != NULL);
    void *sym = dlsym(lib, "fake_cuda_fail_call");
    assert_true(sym != NULL);
    int (*fail_call)(const char *entry, uint64_t nth, int persistent, int r);
    memcpy(&fail_call, &sym, sizeof sym); /* POSIX: function pointers fit a void * */

    vram_manager_config cfg = {0};
    cfg.device.backend = "cuda";
    vram_manager *m = (vram_manager *)&m;
    /* The device's creation asks once, the manager a second time. */
    assert_true(fail_call("cuMemGetInfo", 2, 0, 999 /* CUDA_ERROR_UNKNOWN */) == 0);
    expect_status(vram_manager_create(&cfg, &m), VRAM_EDEVICE);
    expect_true(m == NULL);

    fail_call(NULL, 0, 0, 0);
    assert_ok(vram_manager_create(&cfg, &m));
    vram_heap_stats hs;
    vram_heap_stats_get(vram_manager_heap(m), &hs);
    expect_eq_u64(hs.capacity, 64 * MIB);
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
    dlclose(lib);
}
#endif

/* desc.pinned, vram_evict and vram_unpin_free: what the replay's engine
 * semantics use (sim/replay/replay_need.c). */
static void pinned_alloc_evict_unpin_free(void)
{
    vram_manager *m = make(4 * MIB);
    vram_alloc_desc d = {.size = 2 * MIB, .kind = VRAM_KIND_KV, .backing = VRAM_BACKING_HOST,
                         .pinned = 1};
    vram_handle a, b, c;
    assert_ok(vram_alloc(m, &d, &a));
    vram_handle_info info;
    assert_ok(vram_handle_get(m, a, &info));
    expect_eq_u64(info.pins, 1);
    d.pinned = 0;
    assert_ok(vram_alloc(m, &d, &b));
    /* full: only b can go, a is pinned from its allocation on */
    expect_status(vram_alloc(m, &d, &c), VRAM_OK);
    assert_ok(vram_handle_get(m, a, &info));
    expect_eq_u64(info.resident, 1);
    assert_ok(vram_handle_get(m, b, &info));
    expect_eq_u64(info.resident, 0);
    /* vram_evict: out of turn; pinned is busy, evicted is a no-op */
    expect_status(vram_evict(m, a), VRAM_EBUSY);
    expect_status(vram_evict(m, b), VRAM_OK);
    expect_status(vram_evict(m, c), VRAM_OK);
    assert_ok(vram_handle_get(m, c, &info));
    expect_eq_u64(info.resident, 0);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.evictions_by_kind[VRAM_KIND_KV], st.evictions);
    expect_eq_u64(st.bytes_evicted_by_kind[VRAM_KIND_KV], st.bytes_evicted);
    /* vram_unpin_free: one pin only */
    expect_status(vram_unpin_free(m, b), VRAM_EINVAL);
    assert_ok(vram_pin(m, a));
    expect_status(vram_unpin_free(m, a), VRAM_EBUSY);
    assert_ok(vram_unpin(m, a));
    expect_status(vram_unpin_free(m, a), VRAM_OK);
    expect_status(vram_unpin_free(m, a), VRAM_EDOUBLEFREE);
    d.backing = VRAM_BACKING_NONE;
    vram_handle n;
    assert_ok(vram_alloc(m, &d, &n));
    expect_status(vram_evict(m, n), VRAM_EINVAL);
    char msg[256];
    expect_status(vram_manager_check(m, msg, sizeof msg), VRAM_OK);
    assert_ok(vram_free(m, n));
    assert_ok(vram_free(m, b));
    assert_ok(vram_free(m, c));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

int main(void)
{
    pinned_alloc_evict_unpin_free();
    null_arguments();
    creation_failures();
    bad_descriptor();
    counter_limits();
    generation_wrap();
    table_full();
    leak_report();
    walk_foreign_block();
    host_memory();
#if defined(VRAM_HAVE_CUDA) && defined(VRAM_FAKE_CUDA)
    cuda_total_unknown();
#endif
    return test_finish("manager_edges");
}
