/* test_manager.c - the façade's rules: handles (stale, forged, double free),
 * eviction (pinned, in use, never-evicted, priority then LRU order, the
 * unchanged state on ENOMEM, fragmentation), re-materialisation with contents
 * verified on the host-backed sim, the leak report. */
#include "testlib.h"

#include "vram/budget.h"
#include "vram/vram.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

static vram_manager *make(uint64_t capacity, int backing, const char *policy)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = capacity;
    cfg.device.host_backing = backing;
    cfg.evict_policy = policy;
    cfg.evict = 1;
    vram_manager *m = NULL;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

static void check(vram_manager *m)
{
    char msg[256];
    vram_status st = vram_manager_check(m, msg, sizeof msg);
    if (st)
        fprintf(stderr, "check: %s\n", msg);
    assert_true(st == VRAM_OK);
}

static vram_handle alloc_one(vram_manager *m, uint64_t size, int prio, vram_backing b)
{
    vram_alloc_desc d = {.size = size, .priority = prio, .kind = VRAM_KIND_KV, .backing = b};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

static int resident(vram_manager *m, vram_handle h)
{
    vram_handle_info info;
    assert_ok(vram_handle_get(m, h, &info));
    return info.resident;
}

static void test_handles(void)
{
    vram_manager *m = make(16 * MIB, 0, NULL);
    vram_handle a = alloc_one(m, 4 * KIB, 0, VRAM_BACKING_HOST);
    expect_true(a.v != 0);
    vram_handle_info info;
    assert_ok(vram_handle_get(m, a, &info));
    expect_eq_u64(info.size, 4 * KIB);
    expect_true(info.addr != 0 && info.resident && info.kind == VRAM_KIND_KV);
    assert_ok(vram_free(m, a));
    expect_status(vram_free(m, a), VRAM_EDOUBLEFREE);
    expect_status(vram_touch(m, a), VRAM_EDOUBLEFREE);
    vram_handle b = alloc_one(m, 8 * KIB, 0, VRAM_BACKING_NONE); /* reuses a's slot */
    expect_true((uint32_t)b.v == (uint32_t)a.v && b.v != a.v);
    expect_status(vram_free(m, a), VRAM_ESTALE);
    expect_status(vram_handle_get(m, a, &info), VRAM_ESTALE);
    expect_status(vram_touch(m, (vram_handle){0}), VRAM_ENOTFOUND);
    expect_status(vram_touch(m, (vram_handle){b.v + 1}), VRAM_ENOTFOUND);       /* index never used */
    expect_status(vram_touch(m, (vram_handle){b.v + (UINT64_C(5) << 32)}), VRAM_ENOTFOUND); /* future generation */
    expect_status(vram_touch(m, (vram_handle){UINT64_MAX}), VRAM_ENOTFOUND);
    vram_alloc_desc bad = {.size = 0};
    vram_handle h;
    expect_status(vram_alloc(m, &bad, &h), VRAM_EINVAL);
    bad = (vram_alloc_desc){.size = 1, .backing = VRAM_BACKING_CALLBACK};
    expect_status(vram_alloc(m, &bad, &h), VRAM_EINVAL);
    bad = (vram_alloc_desc){.size = 1, .kind = VRAM_KIND_COUNT};
    expect_status(vram_alloc(m, &bad, &h), VRAM_EINVAL);
    bad = (vram_alloc_desc){.size = 1, .align = 3};
    expect_status(vram_alloc(m, &bad, &h), VRAM_EINVAL);
    expect_status(vram_unpin(m, b), VRAM_EINVAL);
    expect_status(vram_unacquire(m, b), VRAM_EINVAL);
    assert_ok(vram_pin(m, b));
    expect_status(vram_free(m, b), VRAM_EBUSY);
    assert_ok(vram_unpin(m, b));
    check(m);
    assert_ok(vram_free(m, b));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

static void test_kinds(void)
{
    vram_kind k;
    for (int i = 0; i < VRAM_KIND_COUNT; i++) {
        assert_ok(vram_kind_parse(vram_kind_name((vram_kind)i), &k));
        expect_true(k == (vram_kind)i);
    }
    expect_status(vram_kind_parse("weights", &k), VRAM_ENOTFOUND);
    expect_true(strcmp(vram_kind_name(VRAM_KIND_COUNT), "unknown") == 0);
}

/* 4 MiB heap, 1 MiB buffers: the fifth allocation must evict. */
static void test_everything_pinned(void)
{
    vram_manager *m = make(4 * MIB, 0, NULL);
    vram_handle h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
        if (i % 2)
            assert_ok(vram_pin(m, h[i]));
        else
            assert_ok(vram_acquire(m, h[i], NULL));
    }
    vram_manager_stats before, after;
    vram_manager_stats_get(m, &before);
    vram_handle x;
    vram_alloc_desc d = {.size = MIB, .backing = VRAM_BACKING_HOST};
    expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    vram_manager_stats_get(m, &after);
    expect_eq_u64(after.evictions, 0);
    expect_eq_u64(after.resident_handles, 4);
    expect_eq_u64(after.handles, 4);
    expect_eq_u64(after.failed_allocs, before.failed_allocs + 1);
    expect_eq_u64(after.heap.in_use, before.heap.in_use);
    for (int i = 0; i < 4; i++)
        expect_true(resident(m, h[i]));
    check(m);
    /* never-evicted buffers are as immovable as pinned ones */
    assert_ok(vram_unpin(m, h[1]));
    assert_ok(vram_unpin(m, h[3]));
    assert_ok(vram_free(m, h[1]));
    assert_ok(vram_free(m, h[3]));
    h[1] = alloc_one(m, MIB, 0, VRAM_BACKING_NONE);
    h[3] = alloc_one(m, MIB, 0, VRAM_BACKING_NONE);
    expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    /* released from use, the acquired ones become victims */
    assert_ok(vram_unacquire(m, h[0]));
    assert_ok(vram_alloc(m, &d, &x));
    expect_true(!resident(m, h[0]) && resident(m, h[2]));
    check(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 5);
}

/* Victims: lowest priority first, least recently used among equals. */
static void test_priority_lru_order(void)
{
    vram_manager *m = make(8 * MIB, 0, NULL);
    int prio[8] = {5, 1, 3, 1, 5, 3, 1, 9};
    vram_handle h[8];
    for (int i = 0; i < 8; i++)
        h[i] = alloc_one(m, MIB, prio[i], VRAM_BACKING_HOST);
    assert_ok(vram_touch(m, h[1])); /* h1 now the newest of priority 1 */
    /* expected order: prio 1 by recency: h3, h6, h1; then prio 3: h2, h5; prio 5: h0, h4; h7 */
    int order[8] = {3, 6, 1, 2, 5, 0, 4, 7};
    for (int k = 0; k < 8; k++) {
        alloc_one(m, MIB, 100, VRAM_BACKING_NONE);
        for (int j = 0; j < 8; j++)
            expect_true(resident(m, h[order[j]]) == (j > k));
        check(m);
    }
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.evictions, 8);
    expect_eq_u64(st.bytes_evicted, 8 * MIB);
    vram_handle x;
    vram_alloc_desc d = {.size = MIB, .backing = VRAM_BACKING_HOST};
    expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM); /* all never-evicted now */
    /* a touch of an evicted handle cannot re-materialise either */
    expect_status(vram_touch(m, h[0]), VRAM_ENOMEM);
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.failed_allocs, 2);
    vram_manager_destroy(m, NULL);
}

static void test_plain_lru_and_cost(void)
{
    /* lru ignores priority */
    vram_manager *m = make(4 * MIB, 0, "lru");
    vram_handle a = alloc_one(m, MIB, 9, VRAM_BACKING_HOST);
    vram_handle b = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    alloc_one(m, 2 * MIB, 0, VRAM_BACKING_NONE);
    alloc_one(m, MIB, 0, VRAM_BACKING_NONE);
    expect_true(!resident(m, a) && resident(m, b));
    check(m);
    vram_manager_destroy(m, NULL);

    /* cost: a large buffer is cheaper to reload per byte than a small one */
    m = make(4 * MIB, 0, "cost");
    vram_handle small = alloc_one(m, 256 * KIB, 0, VRAM_BACKING_HOST);
    vram_handle big = alloc_one(m, 2 * MIB, 0, VRAM_BACKING_HOST);
    alloc_one(m, 1 * MIB, 0, VRAM_BACKING_NONE);
    alloc_one(m, 1 * MIB, 0, VRAM_BACKING_NONE);
    expect_true(resident(m, small) && !resident(m, big));
    check(m);
    vram_manager_destroy(m, NULL);
}

/* Eviction to host memory and back: the contents survive (host-backed sim). */
static void test_remat_contents(void)
{
    vram_manager *m = make(4 * MIB, 1, NULL);
    vram_device *dev = vram_manager_device(m);
    vram_handle h[4];
    for (int i = 0; i < 4; i++)
        h[i] = alloc_one(m, MIB - 512 * (uint64_t)i, i, VRAM_BACKING_HOST);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 4; i++) {
            vram_handle x = alloc_one(m, 2 * MIB, 10, VRAM_BACKING_NONE); /* evicts two */
            assert_ok(vram_free(m, x));
            uint64_t addr;
            assert_ok(vram_acquire(m, h[i], &addr));
            expect_status(vram_device_verify(dev, addr, MIB - 512 * (uint64_t)i, h[i].v), VRAM_OK);
            assert_ok(vram_unacquire(m, h[i]));
            check(m);
        }
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_true(st.evictions >= 12 && st.rematerialisations >= 4);
    expect_true(st.bytes_rematerialised > 0 && st.device.bytes_h2d == st.bytes_rematerialised);
    expect_eq_u64(st.device.bytes_d2h, st.bytes_evicted);
    /* a scribble over a resident buffer is caught when it is freed */
    uint64_t addr;
    assert_ok(vram_acquire(m, h[0], &addr));
    unsigned char junk[16] = {1, 2, 3};
    assert_ok(vram_device_copy_h2d(dev, addr + 100, junk, sizeof junk));
    assert_ok(vram_unacquire(m, h[0]));
    expect_status(vram_free(m, h[0]), VRAM_ECORRUPT);
    expect_status(vram_free(m, h[0]), VRAM_EDOUBLEFREE);
    check(m);
    vram_manager_destroy(m, NULL);

    /* ... and when it is evicted: the victim stays, the allocation fails */
    m = make(2 * MIB, 1, NULL);
    dev = vram_manager_device(m);
    vram_handle v = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    alloc_one(m, MIB, 5, VRAM_BACKING_HOST);
    assert_ok(vram_acquire(m, v, &addr));
    assert_ok(vram_device_copy_h2d(dev, addr + MIB - sizeof junk, junk, sizeof junk));
    assert_ok(vram_unacquire(m, v));
    vram_handle x;
    vram_alloc_desc d = {.size = MIB, .backing = VRAM_BACKING_HOST};
    expect_status(vram_alloc(m, &d, &x), VRAM_ECORRUPT);
    expect_true(resident(m, v));
    check(m);
    vram_manager_destroy(m, NULL);
}

typedef struct remat_log {
    int calls;
    uint64_t tag;
} remat_log;

static vram_status remat_fill(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    remat_log *log = ctx;
    log->calls++;
    return vram_device_fill(dev, addr, size, log->tag);
}

static void test_callback_backing(void)
{
    vram_manager *m = make(2 * MIB, 1, NULL);
    remat_log log = {.tag = 0xabcdef};
    vram_alloc_desc d = {.size = MIB, .backing = VRAM_BACKING_CALLBACK, .remat = remat_fill,
                         .remat_ctx = &log};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    expect_eq_u64(log.calls, 0);
    vram_handle big = alloc_one(m, 2 * MIB, 0, VRAM_BACKING_NONE);
    expect_true(!resident(m, h));
    assert_ok(vram_free(m, big));
    uint64_t addr;
    assert_ok(vram_acquire(m, h, &addr));
    expect_eq_u64(log.calls, 1);
    expect_status(vram_device_verify(vram_manager_device(m), addr, MIB, log.tag), VRAM_OK);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.device.bytes_d2h, 0); /* dropped, not copied */
    expect_eq_u64(st.bytes_rematerialised, MIB);
    assert_ok(vram_unacquire(m, h));
    check(m);
    assert_ok(vram_free(m, h));
    vram_manager_destroy(m, NULL);
}

/* Pinned blocks split the free space: the rule's step 3 (evictions stay). */
static void test_fragmented(void)
{
    vram_manager *m = make(4 * MIB, 0, NULL);
    vram_handle h[4];
    for (int i = 0; i < 4; i++)
        h[i] = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    assert_ok(vram_pin(m, h[1]));
    assert_ok(vram_pin(m, h[3]));
    vram_handle x;
    vram_alloc_desc d = {.size = 2 * MIB, .backing = VRAM_BACKING_HOST};
    expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.evictions, 2);
    expect_eq_u64(st.failed_allocs, 1);
    expect_eq_u64(st.failed_despite_free, 1);
    check(m);
    vram_manager_destroy(m, NULL);
}

/* A failed device copy during eviction: the victim stays, the state is sound. */
static void test_copy_fault(void)
{
    vram_manager *m = make(2 * MIB, 1, NULL);
    vram_handle a = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    vram_handle b = alloc_one(m, MIB, 1, VRAM_BACKING_HOST);
    vram_device_inject_fault(vram_manager_device(m), VRAM_FAULT_COPY, 1, 0, VRAM_EDEVICE);
    vram_handle x;
    vram_alloc_desc d = {.size = MIB, .backing = VRAM_BACKING_HOST};
    expect_status(vram_alloc(m, &d, &x), VRAM_EDEVICE);
    expect_true(resident(m, a) && resident(m, b));
    check(m);
    assert_ok(vram_alloc(m, &d, &x)); /* the fault fired once */
    expect_true(!resident(m, a) && resident(m, b));
    check(m);
    vram_manager_destroy(m, NULL);
}

static void test_leak_report(void)
{
    vram_manager *m = make(4 * MIB, 0, NULL);
    alloc_one(m, 1000, 3, VRAM_BACKING_HOST);
    vram_handle gone = alloc_one(m, 2000, 0, VRAM_BACKING_NONE);
    alloc_one(m, 3000, 0, VRAM_BACKING_NONE);
    assert_ok(vram_free(m, gone));
    vram_handle s;
    assert_ok(vram_acquire_shared(m, "embed", 4096, 0, NULL, NULL, &s));
    FILE *f = tmpfile();
    assert_true(f != NULL);
    expect_eq_u64(vram_manager_destroy(m, f), 3);
    rewind(f);
    char buf[1024] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    expect_true(n > 0);
    expect_true(strstr(buf, "1000 bytes, kind kv, priority 3, resident") != NULL);
    expect_true(strstr(buf, "3000 bytes") != NULL);
    expect_true(strstr(buf, "2000 bytes") == NULL);
    expect_true(strstr(buf, "shared key \"embed\"") != NULL);
}

static void test_create_errors(void)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 4 * MIB;
    vram_manager *m = (vram_manager *)&cfg;
    cfg.heap_policy = "firstfit";
    expect_status(vram_manager_create(&cfg, &m), VRAM_ENOTFOUND);
    expect_true(m == NULL);
    cfg.heap_policy = NULL;
    cfg.evict_policy = "mru";
    expect_status(vram_manager_create(&cfg, &m), VRAM_ENOTFOUND);
    cfg.evict_policy = NULL;
    cfg.device.backend = "tpu";
    expect_status(vram_manager_create(&cfg, &m), VRAM_ENOTFOUND);
    expect_status(vram_manager_create(NULL, &m), VRAM_EINVAL);
    cfg.device.backend = NULL;
    cfg.heap.capacity = 8 * MIB; /* more than the device */
    expect_status(vram_manager_create(&cfg, &m), VRAM_ENOMEM);
    expect_eq_u64(vram_manager_destroy(NULL, stderr), 0);
}

static int count_kinds(const vram_block_info *b, vram_kind kind, void *ctx)
{
    uint64_t *bytes = ctx;
    if (b->used)
        bytes[kind] += b->requested;
    return 0;
}

static void test_walk(void)
{
    vram_manager *m = make(4 * MIB, 0, NULL);
    vram_alloc_desc d = {.size = 4096, .kind = VRAM_KIND_WEIGHT};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    d.kind = VRAM_KIND_ACTIVATION;
    d.size = 512;
    assert_ok(vram_alloc(m, &d, &h));
    uint64_t bytes[VRAM_KIND_COUNT] = {0};
    assert_ok(vram_manager_walk(m, count_kinds, bytes));
    expect_eq_u64(bytes[VRAM_KIND_WEIGHT], 4096);
    expect_eq_u64(bytes[VRAM_KIND_ACTIVATION], 512);
    expect_eq_u64(bytes[VRAM_KIND_KV], 0);
    vram_manager_destroy(m, NULL);
}

/* The manager keeps the served model's profile and sizes the context by its capacity. */
static void test_budget(void)
{
    vram_model_config model;
    assert_ok(vram_model_find("llama-3-8b", &model));
    vram_budget_profile prof;
    assert_ok(vram_budget_profile_get(&model, NULL, &prof));
    vram_manager_config cfg = {0};
    cfg.device.capacity = UINT64_C(24) << 30;
    cfg.budget = &prof;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    expect_true(vram_manager_budget(m) && vram_manager_budget(m)->kv_bytes_per_token == prof.kv_bytes_per_token);
    uint64_t got, want;
    int fits_got, fits_want;
    assert_ok(vram_manager_auto_context(m, 0.9, &got, &fits_got));
    assert_ok(vram_budget_auto_context(&prof, cfg.device.capacity, 0.9, &want, &fits_want));
    expect_eq_u64(got, want);
    expect_true(fits_got == fits_want && got >= 4096);
    expect_status(vram_manager_auto_context(m, 1.5, &got, NULL), VRAM_EINVAL);
    vram_manager_destroy(m, NULL);
    m = make(4 * MIB, 0, NULL);
    expect_true(vram_manager_budget(m) == NULL);
    expect_status(vram_manager_auto_context(m, 0.9, &got, NULL), VRAM_ENOTFOUND);
    vram_manager_destroy(m, NULL);
}

int main(void)
{
    test_handles();
    test_kinds();
    test_everything_pinned();
    test_priority_lru_order();
    test_plain_lru_and_cost();
    test_remat_contents();
    test_callback_backing();
    test_fragmented();
    test_copy_fault();
    test_leak_report();
    test_create_errors();
    test_walk();
    test_budget();
    return test_finish("manager");
}
