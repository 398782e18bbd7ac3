/* test_manager_faults.c - device faults at every point of a workload (SQLite
 * style): the k-th device copy fails, for k = 1, 2, ... until the workload
 * runs through without reaching the fault. After every failed call the
 * manager's invariants hold and every resident handle's contents verify; the
 * failed call's status is the injected one. */
#include "testlib.h"

#include "vram/vram.h"

#define KIB (UINT64_C(1) << 10)
#define NH 12

static void expect_sound(vram_manager *m, const vram_handle *h, int n, uint64_t k)
{
    char msg[256];
    vram_status st = vram_manager_check(m, msg, sizeof msg);
    if (st) {
        fprintf(stderr, "fault at copy %" PRIu64 ": check: %s\n", k, msg);
        test_failures++;
    }
    for (int i = 0; i < n; i++) {
        vram_handle_info info;
        if (h[i].v == 0 || vram_handle_get(m, h[i], &info) != VRAM_OK || !info.resident)
            continue;
        if (vram_device_verify(vram_manager_device(m), info.addr, info.size, h[i].v) != VRAM_OK) {
            fprintf(stderr, "fault at copy %" PRIu64 ": handle %d lost its contents\n", k, i);
            test_failures++;
        }
    }
}

/* The workload: allocations that evict, uses that re-materialise, compaction.
 * Returns how many calls failed with the injected status. */
static int workload(vram_manager *m, vram_handle *h, uint64_t k)
{
    int failed = 0;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < NH; i++) {
            vram_status st;
            if (h[i].v == 0) {
                vram_alloc_desc d = {.size = 64 * KIB + 4096 * (uint64_t)i,
                                     .priority = i % 3,
                                     .backing = VRAM_BACKING_HOST};
                st = vram_alloc(m, &d, &h[i]);
                if (st)
                    h[i].v = 0;
            } else if ((i + round) % 4 == 0) {
                st = vram_free(m, h[i]);
                h[i].v = 0;
            } else {
                st = vram_touch(m, h[i]);
            }
            if (st) {
                expect_status(st, VRAM_EDEVICE);
                failed++;
                expect_sound(m, h, NH, k);
            }
        }
        vram_status st = vram_manager_defrag(m, 0, NULL);
        if (st) {
            expect_status(st, VRAM_EDEVICE);
            failed++;
            expect_sound(m, h, NH, k);
        }
    }
    return failed;
}

int main(void)
{
    uint64_t k;
    for (k = 1;; k++) {
        vram_manager_config cfg = {0};
        cfg.device.capacity = 512 * KIB;
        cfg.device.host_backing = 1;
        cfg.evict = 1;
        vram_manager *m;
        assert_ok(vram_manager_create(&cfg, &m));
        vram_device *dev = vram_manager_device(m);
        vram_device_inject_fault(dev, VRAM_FAULT_COPY, k, 0, VRAM_EDEVICE);
        vram_handle h[NH] = {{0}};
        int failed = workload(m, h, k);
        uint64_t hit = vram_device_faults_hit(dev);
        expect_sound(m, h, NH, k);
        expect_true(failed == (int)hit);
        vram_device_inject_fault(dev, VRAM_FAULT_COPY, 0, 0, VRAM_OK);
        for (int i = 0; i < NH; i++)
            if (h[i].v)
                expect_status(vram_free(m, h[i]), VRAM_OK);
        expect_eq_u64(vram_manager_destroy(m, stderr), 0);
        if (test_failures || hit == 0)
            break;
    }
    printf("manager_faults: a copy fault at each of %" PRIu64 " points\n", k - 1);
    expect_true(k > 20);
    return test_finish("manager_faults");
}
