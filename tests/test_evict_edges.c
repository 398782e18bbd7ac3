/* test_evict_edges.c - the eviction engine's edges: the device's cost model
 * in the "cost" policy's keys, the policies' tables at their limits, a device
 * copy failing inside the automatic compaction, and the compaction back-off
 * reaching its cap. */
#include "test_manager_lib.h"

#include "vram/vram.h"

#include "../alloc/manager_internal.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

/* The "cost" policy's key is the reload cost per byte from the device's cost
 * model: copy latency + size / h2d bandwidth, over the size. */
static double cost_key_of(const vram_cost_model *cost, uint64_t size)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 4 * MIB;
    cfg.device.cost = *cost;
    cfg.evict_policy = "cost";
    cfg.evict = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    vram_handle h = test_alloc_host(m, size);
    double major = m->policy->key(m->policy_impl, (uint32_t)h.v).major;
    EXPECT_MANAGER_CLEAN(m);
    vram_manager_destroy(m, NULL);
    return major;
}

static void cost_model_keys(void)
{
    vram_cost_model given = {.copy_latency_ns = 1000, .h2d_gbps = 2};
    expect_true(cost_key_of(&given, 1000) == (1000.0 + 1000.0 / 2.0) / 1000.0);
    vram_cost_model defaults = {0}; /* 10,000 ns and 25 GB/s (docs/COST_MODEL.md) */
    expect_true(cost_key_of(&defaults, 1000) == (10000.0 + 1000.0 / 25.0) / 1000.0);
}

/* reserve only grows (a smaller n keeps the indices usable), destroy(NULL)
 * does nothing, and "cost" takes a size of 0 as 1 byte. */
static void policy_tables(void)
{
    for (int p = 0; vram_evict_policy_names[p]; p++) {
        const vram_evict_ops *ops = vram_evict_policy(vram_evict_policy_names[p]);
        assert_true(ops != NULL);
        ops->destroy(NULL);
        void *impl;
        assert_ok(ops->create(&impl));
        assert_ok(ops->reserve(impl, 8));
        assert_ok(ops->reserve(impl, 4));
        vram_evict_item it = {.priority = 2, .last_use = 1, .size = 0, .reload_ns = 300};
        ops->insert(impl, 7, &it);
        expect_eq_u64(ops->count(impl), 1);
        vram_evict_key k = ops->key(impl, 7);
        if (strcmp(ops->name, "cost") == 0)
            expect_true(k.major == 300.0);
        else
            expect_true(k.major == (strcmp(ops->name, "lru") == 0 ? 0.0 : 2.0));
        expect_eq_u64(k.minor, 1);
        uint32_t victim = 0;
        assert_true(ops->pop(impl, &victim, &k));
        expect_eq_u64(victim, 7);
        expect_eq_u64(ops->count(impl), 0);
        ops->destroy(impl);
    }
}

/* Both kept handles are resident and verify; returns how many moved. */
static int moved(vram_manager *m, const vram_handle kept[2], const uint64_t addr[2])
{
    int n = 0;
    for (int i = 0; i < 2; i++) {
        vram_handle_info info;
        assert_ok(vram_handle_get(m, kept[i], &info));
        expect_true(info.resident);
        expect_status(vram_device_verify(vram_manager_device(m), info.addr, info.size, kept[i].v),
                      VRAM_OK);
        n += info.addr != addr[i];
    }
    return n;
}

/* A device copy that fails inside the automatic compaction ends the
 * allocation with that status; the handle being moved stays where it was,
 * and the next attempt compacts again (a failed pass is not a futile one). */
static void copy_fault_in_compaction(void)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = MIB;
    cfg.device.host_backing = 1;
    cfg.defrag_on_oom = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    vram_handle kept[2];
    test_fragment(m, kept);
    uint64_t addr[2];
    for (int i = 0; i < 2; i++) {
        vram_handle_info info;
        assert_ok(vram_handle_get(m, kept[i], &info));
        addr[i] = info.addr;
    }
    vram_device_inject_fault(vram_manager_device(m), VRAM_FAULT_COPY, 1, 0, VRAM_EDEVICE);
    vram_alloc_desc d = {.size = 512 * KIB, .backing = VRAM_BACKING_HOST};
    vram_handle big = {0};
    expect_status(vram_alloc(m, &d, &big), VRAM_EDEVICE);
    expect_eq_u64(big.v, 0);
    expect_eq_u64(vram_device_faults_hit(vram_manager_device(m)), 1);
    expect_eq_u64(moved(m, kept, addr), 0);
    vram_manager_stats st = test_manager_stats(m);
    expect_eq_u64(st.defrag_passes, 1);
    expect_eq_u64(st.defrag_moves, 0);
    expect_eq_u64(st.failed_allocs, 0); /* not an ENOMEM */
    expect_eq_u64(st.handles, 2);
    EXPECT_MANAGER_CLEAN(m);

    assert_ok(vram_alloc(m, &d, &big));
    st = test_manager_stats(m);
    expect_eq_u64(st.defrag_passes, 2);
    expect_eq_u64(st.defrag_moves, 1);
    expect_eq_u64(st.defrag_oom_saved, 1);
    expect_eq_u64(moved(m, kept, addr), 1);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 3);
}

/* Futile compactions in a row double the attempts skipped before the next
 * one, up to 1023: with attempts that each ask a little less (so none is
 * skipped as bound to fail), passes run at attempts 1, 2, 4, ..., 1024 and
 * then every 1024: 2048, 3072. A free resets the back-off. */
static void backoff_cap(void)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 2 * MIB;
    cfg.defrag_on_oom = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    /* 32 blocks of 64 KiB; the odd ones pinned, the even ones freed: 1 MiB
     * free in 64 KiB gaps that no window can join. */
    vram_handle h[32];
    for (int i = 0; i < 32; i++) {
        h[i] = test_alloc_host(m, 64 * KIB);
        if (i % 2)
            assert_ok(vram_pin(m, h[i]));
    }
    for (int i = 0; i < 32; i += 2)
        assert_ok(vram_free(m, h[i]));
    const uint64_t attempts = 3072;
    for (uint64_t t = 1; t <= attempts; t++) {
        vram_alloc_desc d = {.size = 512 * KIB - 16 * t};
        vram_handle x;
        expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    }
    vram_manager_stats st = test_manager_stats(m);
    expect_eq_u64(st.defrag_passes, 13);
    expect_eq_u64(st.failed_allocs, attempts);
    expect_eq_u64(st.failed_despite_free, attempts);
    expect_eq_u64(st.defrag_moves, 0);

    assert_ok(vram_unpin(m, h[1]));
    assert_ok(vram_free(m, h[1]));
    vram_alloc_desc d = {.size = 256 * KIB};
    vram_handle x;
    expect_status(vram_alloc(m, &d, &x), VRAM_ENOMEM);
    expect_eq_u64(test_manager_stats(m).defrag_passes, 14);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 15);
}

int main(void)
{
    cost_model_keys();
    policy_tables();
    copy_fault_in_compaction();
    backoff_cap();
    return test_finish("evict_edges");
}
