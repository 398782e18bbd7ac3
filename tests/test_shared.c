/* test_shared.c - shared weights: one buffer per key, refcounts, size
 * mismatch, release of a key not held, key length, loader calls, eviction
 * counting the buffer once, in-use buffers kept resident. */
#include "test_manager_lib.h"

#include "vram/vram.h"

#define MIB (UINT64_C(1) << 20)

typedef struct loader_log {
    int calls;
    vram_status fail; /* returned instead of loading when set */
} loader_log;

static vram_status loader(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    loader_log *log = ctx;
    log->calls++;
    if (log->fail)
        return log->fail;
    return vram_device_fill(dev, addr, size, 0x5eed);
}

static vram_manager *make(uint64_t capacity)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = capacity;
    cfg.device.host_backing = 1;
    cfg.evict = 1;
    vram_manager *m;
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

static void test_refcount(void)
{
    vram_manager *m = make(8 * MIB);
    loader_log log = {0};
    vram_handle a, b, c;
    assert_ok(vram_acquire_shared(m, "layer0.wq", MIB, 5, loader, &log, &a));
    assert_ok(vram_acquire_shared(m, "layer0.wq", MIB, 5, loader, &log, &b));
    expect_true(a.v == b.v);
    expect_eq_u64(log.calls, 1);
    expect_eq_u64(test_handle_info(m, a).shared_refs, 2);
    expect_true(test_handle_info(m, a).kind == VRAM_KIND_WEIGHT);
    expect_status(vram_acquire_shared(m, "layer0.wq", 2 * MIB, 5, loader, &log, &c), VRAM_EMISMATCH);
    expect_eq_u64(test_handle_info(m, a).shared_refs, 2);
    expect_status(vram_free(m, a), VRAM_EBUSY); /* only release_shared frees it */
    assert_ok(vram_acquire_shared(m, "layer0.wk", MIB, 5, loader, &log, &c));
    expect_true(c.v != a.v);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.shared_keys, 2);
    expect_eq_u64(st.handles, 2);
    check(m);
    expect_status(vram_release_shared(m, "layer1.wq"), VRAM_ENOTFOUND);
    assert_ok(vram_release_shared(m, "layer0.wq"));
    expect_eq_u64(test_handle_info(m, a).shared_refs, 1);
    assert_ok(vram_release_shared(m, "layer0.wq"));
    vram_handle_info info;
    expect_status(vram_handle_get(m, a, &info), VRAM_EDOUBLEFREE);
    expect_status(vram_release_shared(m, "layer0.wq"), VRAM_ENOTFOUND); /* double release */
    /* acquired again: a new buffer, loaded again */
    assert_ok(vram_acquire_shared(m, "layer0.wq", 2 * MIB, 5, loader, &log, &a));
    expect_eq_u64(log.calls, 3);
    check(m);
    assert_ok(vram_release_shared(m, "layer0.wq"));
    assert_ok(vram_release_shared(m, "layer0.wk"));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

static void test_keys(void)
{
    vram_manager *m = make(8 * MIB);
    vram_handle h;
    char key[80];
    memset(key, 'k', sizeof key);
    key[63] = '\0'; /* 63 bytes: the longest key */
    assert_ok(vram_acquire_shared(m, key, 4096, 0, NULL, NULL, &h));
    assert_ok(vram_release_shared(m, key));
    key[63] = 'k';
    key[64] = '\0';
    expect_status(vram_acquire_shared(m, key, 4096, 0, NULL, NULL, &h), VRAM_EINVAL);
    expect_status(vram_release_shared(m, key), VRAM_EINVAL);
    expect_status(vram_acquire_shared(m, "", 4096, 0, NULL, NULL, &h), VRAM_EINVAL);
    expect_status(vram_acquire_shared(m, NULL, 4096, 0, NULL, NULL, &h), VRAM_EINVAL);
    expect_status(vram_acquire_shared(m, "x", 0, 0, NULL, NULL, &h), VRAM_EINVAL);
    /* many keys: the registry grows and deletes without losing any */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 500; i++) {
            snprintf(key, sizeof key, "tensor.%d", i);
            assert_ok(vram_acquire_shared(m, key, 256, 0, NULL, NULL, &h));
        }
        check(m);
        for (int i = 0; i < 500; i += 1 + round) {
            snprintf(key, sizeof key, "tensor.%d", i);
            assert_ok(vram_release_shared(m, key));
        }
        check(m);
    }
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.shared_keys, 250);
    for (int i = 1; i < 500; i += 2) {
        snprintf(key, sizeof key, "tensor.%d", i);
        assert_ok(vram_release_shared(m, key));
        expect_status(vram_release_shared(m, key), VRAM_ENOTFOUND);
    }
    check(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* One buffer under eviction, however many holders; in use means resident. */
static void test_eviction(void)
{
    vram_manager *m = make(4 * MIB);
    loader_log log = {0};
    vram_handle w;
    for (int i = 0; i < 3; i++)
        assert_ok(vram_acquire_shared(m, "experts", 2 * MIB, 0, loader, &log, &w));
    vram_alloc_desc d = {.size = 4 * MIB, .priority = 9, .backing = VRAM_BACKING_HOST};
    vram_handle big;
    assert_ok(vram_alloc(m, &d, &big));
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.evictions, 1);
    expect_eq_u64(st.bytes_evicted, 2 * MIB);
    expect_true(!test_handle_info(m, w).resident);
    check(m);
    /* the next acquire reloads it through the loader (evicting `big`) */
    vram_handle again;
    assert_ok(vram_acquire_shared(m, "experts", 2 * MIB, 0, loader, &log, &again));
    expect_true(again.v == w.v);
    expect_eq_u64(log.calls, 2);
    expect_eq_u64(test_handle_info(m, w).shared_refs, 4);
    uint64_t addr;
    assert_ok(vram_acquire(m, w, &addr));
    expect_status(vram_device_verify(vram_manager_device(m), addr, 2 * MIB, 0x5eed), VRAM_OK);
    /* in use by a holder: not evicted, and cannot be released for good */
    expect_status(vram_touch(m, big), VRAM_ENOMEM);
    expect_true(test_handle_info(m, w).resident && !test_handle_info(m, big).resident);
    for (int i = 0; i < 3; i++)
        assert_ok(vram_release_shared(m, "experts"));
    expect_status(vram_release_shared(m, "experts"), VRAM_EBUSY);
    assert_ok(vram_unacquire(m, w));
    assert_ok(vram_release_shared(m, "experts"));
    check(m);
    assert_ok(vram_free(m, big));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

static void test_loader_failure(void)
{
    vram_manager *m = make(4 * MIB);
    loader_log log = {.fail = VRAM_EIO};
    vram_handle h;
    expect_status(vram_acquire_shared(m, "broken", MIB, 0, loader, &log, &h), VRAM_EIO);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.handles, 0);
    expect_eq_u64(st.shared_keys, 0);
    expect_status(vram_release_shared(m, "broken"), VRAM_ENOTFOUND);
    check(m);
    /* too big for the device */
    expect_status(vram_acquire_shared(m, "huge", 8 * MIB, 0, NULL, NULL, &h), VRAM_EINVAL);
    expect_status(vram_acquire_shared(m, "full", 4 * MIB, 0, NULL, NULL, &h), VRAM_OK);
    expect_status(vram_acquire_shared(m, "more", MIB, 0, NULL, NULL, &h), VRAM_ENOMEM);
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.failed_allocs, 1);
    check(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 1);
}

int main(void)
{
    test_refcount();
    test_keys();
    test_eviction();
    test_loader_failure();
    return test_finish("shared");
}
