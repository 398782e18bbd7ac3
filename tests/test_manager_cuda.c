/* test_manager_cuda.c - the manager on the cuda backend over the fake driver:
 * eviction copies a buffer to the pinned host pool and back (its bytes
 * survive, read back through the device), compaction copies device to device,
 * the leak report works as on sim. */
#include "testlib.h"

#if !defined(VRAM_HAVE_CUDA) || !defined(VRAM_FAKE_CUDA)
int main(void)
{
    printf("manager_cuda: skipped (built without cuda.h)\n");
    return 77;
}
#else

#include "vram/vram.h"

#define MIB (UINT64_C(1) << 20)

static void check(vram_manager *m)
{
    char msg[256];
    vram_status st = vram_manager_check(m, msg, sizeof msg);
    if (st)
        fprintf(stderr, "check: %s\n", msg);
    assert_true(st == VRAM_OK);
}

/* Writes a pattern of `seed` into the handle's bytes. */
static void write_pattern(vram_manager *m, vram_handle h, uint64_t size, unsigned seed)
{
    unsigned char *buf = malloc(size);
    assert_true(buf != NULL);
    for (uint64_t i = 0; i < size; i++)
        buf[i] = (unsigned char)(i * 31 + seed);
    uint64_t addr;
    assert_ok(vram_acquire(m, h, &addr));
    assert_ok(vram_device_copy_h2d(vram_manager_device(m), addr, buf, size));
    assert_ok(vram_unacquire(m, h));
    free(buf);
}

static int pattern_holds(vram_manager *m, vram_handle h, uint64_t size, unsigned seed)
{
    unsigned char *buf = malloc(size);
    assert_true(buf != NULL);
    uint64_t addr;
    assert_ok(vram_acquire(m, h, &addr));
    assert_ok(vram_device_copy_d2h(vram_manager_device(m), buf, addr, size));
    assert_ok(vram_unacquire(m, h));
    int ok = 1;
    for (uint64_t i = 0; i < size && ok; i++)
        ok = buf[i] == (unsigned char)(i * 31 + seed);
    free(buf);
    return ok;
}

int main(void)
{
    setenv("VRAM_CUDA_DRIVER", VRAM_FAKE_CUDA, 1);
    setenv("FAKE_CUDA_TOTAL", "67108864", 1); /* 64 MiB */
    vram_manager_config cfg = {0};
    cfg.device.backend = "cuda";
    cfg.heap.capacity = 8 * MIB;
    cfg.evict = 1;
    cfg.defrag_on_oom = 1;
    char err[256] = "";
    cfg.device.errbuf = err;
    cfg.device.errbuf_len = sizeof err;
    vram_manager *m;
    vram_status st = vram_manager_create(&cfg, &m);
    if (st)
        fprintf(stderr, "create: %s (%s)\n", vram_strerror(st), err);
    assert_true(st == VRAM_OK);
    expect_true(strcmp(vram_device_backend(vram_manager_device(m)), "cuda") == 0);

    vram_handle h[8];
    for (int i = 0; i < 8; i++) {
        vram_alloc_desc d = {.size = MIB, .priority = i, .backing = VRAM_BACKING_HOST};
        assert_ok(vram_alloc(m, &d, &h[i]));
        write_pattern(m, h[i], MIB, (unsigned)i);
    }
    /* two more buffers evict the two coldest (priority 0 and 1) */
    vram_alloc_desc d = {.size = 2 * MIB, .priority = 100, .backing = VRAM_BACKING_NONE};
    vram_handle big;
    assert_ok(vram_alloc(m, &d, &big));
    vram_handle_info info;
    assert_ok(vram_handle_get(m, h[0], &info));
    expect_true(!info.resident);
    assert_ok(vram_handle_get(m, h[1], &info));
    expect_true(!info.resident);
    check(m);
    assert_ok(vram_free(m, big));
    for (int i = 0; i < 8; i++)
        expect_true(pattern_holds(m, h[i], MIB, (unsigned)i)); /* h0, h1 come back */
    vram_manager_stats s;
    vram_manager_stats_get(m, &s);
    expect_eq_u64(s.evictions, 2);
    expect_eq_u64(s.rematerialisations, 2);
    expect_eq_u64(s.device.bytes_d2h - 8 * MIB, 2 * MIB); /* the evictions, past the reads */

    /* holes of 1 MiB; a 3 MiB never-evicted buffer needs compaction */
    for (int i = 0; i < 8; i += 2)
        assert_ok(vram_free(m, h[i]));
    d.size = 3 * MIB;
    assert_ok(vram_alloc(m, &d, &big));
    vram_manager_stats_get(m, &s);
    expect_true(s.defrag_oom_saved == 1 && s.device.bytes_d2d > 0);
    for (int i = 1; i < 8; i += 2)
        expect_true(pattern_holds(m, h[i], MIB, (unsigned)i));
    check(m);
    FILE *f = tmpfile();
    assert_true(f != NULL);
    expect_eq_u64(vram_manager_destroy(m, f), 5);
    fclose(f);
    return test_finish("manager_cuda");
}
#endif
