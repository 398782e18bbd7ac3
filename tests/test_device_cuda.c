/* test_device_cuda.c - the cuda device backend against the fake driver
 * (tests/fake_cuda): loading, reserve/release, copies, mem_info, growable
 * segments through the VMM API, driver failures mapped to statuses, the
 * pinned host pool, and the message when no driver can be loaded. */
#include <stdio.h>

#if !defined(VRAM_HAVE_CUDA) || !defined(VRAM_FAKE_CUDA)
int main(void)
{
    printf("device_cuda: skipped: built without cuda.h, so without the cuda backend\n");
    return 77;
}
#else

#include <dlfcn.h>

#include "testlib.h"
#include "vram/device.h"
#include "vram/hostpool.h"

#define MiB (1ull << 20)

static void (*fake_live)(uint64_t out[5]);

static const char *const fake_env[] = {
    "FAKE_CUDA_TOTAL",           "FAKE_CUDA_DEVICES",        "FAKE_CUDA_FAIL_INIT",
    "FAKE_CUDA_FAIL_ALLOC_AFTER", "FAKE_CUDA_FAIL_MAP_AFTER", "FAKE_CUDA_FAIL_COPY_AFTER",
    "FAKE_CUDA_NO_VMM",          "FAKE_CUDA_NO_HOSTALLOC",
};

/* The fake with its defaults, then `name=value` (if name is not NULL). */
static void fake_env_set(const char *name, const char *value)
{
    for (size_t i = 0; i < sizeof fake_env / sizeof fake_env[0]; i++)
        unsetenv(fake_env[i]);
    setenv("FAKE_CUDA_TOTAL", "67108864", 1); /* 64 MiB */
    setenv("VRAM_CUDA_DRIVER", VRAM_FAKE_CUDA, 1);
    if (name)
        setenv(name, value, 1);
}

static vram_device *open_cuda(uint64_t capacity)
{
    char eb[256] = "";
    vram_device_config cfg = {.backend = "cuda", .capacity = capacity, .errbuf = eb,
                              .errbuf_len = sizeof eb};
    vram_device *d = NULL;
    vram_status st = vram_device_create(&cfg, &d);
    if (st)
        fprintf(stderr, "vram_device_create: %s\n", eb);
    assert_ok(st);
    return d;
}

/* Nothing the backend took from the driver is still held. */
static void expect_no_leaks(void)
{
    uint64_t live[5];
    fake_live(live);
    for (int i = 0; i < 5; i++)
        expect_eq_u64(live[i], 0);
}

static vram_status try_create(int ordinal, char *eb, size_t eblen)
{
    vram_device_config cfg = {.backend = "cuda", .cuda_ordinal = ordinal, .errbuf = eb,
                              .errbuf_len = eblen};
    vram_device *d = NULL;
    vram_status st = vram_device_create(&cfg, &d);
    expect_true(st ? d == NULL : d != NULL);
    vram_device_destroy(d);
    return st;
}

static void test_loading(void)
{
    char eb[512];
    fake_env_set(NULL, NULL);
    setenv("VRAM_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
    expect_status(try_create(0, eb, sizeof eb), VRAM_ENODRIVER);
    expect_true(strstr(eb, "cannot load the CUDA driver (/nonexistent/libcuda.so.1: ") == eb);
    expect_true(strstr(eb, "run with the sim backend (--backend sim)") != NULL);

    /* Without VRAM_CUDA_DRIVER the real driver is tried; this machine may lack one. */
    unsetenv("VRAM_CUDA_DRIVER");
    void *real = dlopen("libcuda.so.1", RTLD_NOW);
    if (real) {
        dlclose(real);
    } else {
        expect_status(try_create(0, eb, sizeof eb), VRAM_ENODRIVER);
        expect_true(strstr(eb, "cannot load the CUDA driver (libcuda.so.1: ") == eb);
    }

    setenv("VRAM_CUDA_DRIVER", "libm.so.6", 1); /* a library, but not a driver */
    expect_status(try_create(0, eb, sizeof eb), VRAM_ENODRIVER);
    expect_true(strstr(eb, "libm.so.6 lacks cuInit") != NULL);

    fake_env_set("FAKE_CUDA_FAIL_INIT", "100");
    expect_status(try_create(0, eb, sizeof eb), VRAM_EDEVICE);
    expect_true(strstr(eb, "cuInit failed: no CUDA-capable device is detected (CUresult 100)") !=
                NULL);

    fake_env_set(NULL, NULL);
    expect_status(try_create(3, eb, sizeof eb), VRAM_EDEVICE);
    expect_true(strstr(eb, "invalid device ordinal") && strstr(eb, "device ordinal 3"));
    expect_status(try_create(0, eb, sizeof eb), VRAM_OK);
    expect_no_leaks();
}

static void test_reserve_copy(void)
{
    fake_env_set(NULL, NULL);
    vram_device *d = open_cuda(0);
    expect_true(strcmp(vram_device_backend(d), "cuda") == 0);
    expect_true(!vram_device_has_backing(d));
    expect_eq_u64(vram_device_granularity(d), 2 * MiB);
    uint64_t f, t, a, b;
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(t, 64 * MiB); /* capacity 0: the device's total */
    expect_eq_u64(f, 64 * MiB);
    assert_ok(vram_device_reserve(d, 3 * MiB, &a));
    assert_ok(vram_device_reserve(d, 1000, &b));
    expect_true(a % 256 == 0 && b % 256 == 0);
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(f, 64 * MiB - 3 * MiB - 1000);
    expect_status(vram_device_reserve(d, 61 * MiB, &a), VRAM_ENOMEM);
    expect_status(vram_device_release(d, b + 8), VRAM_ENOTFOUND);

    unsigned char in[1000], out[1000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i ^ 0x5a);
    assert_ok(vram_device_copy_h2d(d, b, in, sizeof in));
    assert_ok(vram_device_copy_d2d(d, a + MiB, b, sizeof in));
    assert_ok(vram_device_copy_d2h(d, out, a + MiB, sizeof out));
    expect_true(memcmp(in, out, sizeof in) == 0);
    expect_status(vram_device_copy_h2d(d, b + 1, in, sizeof in), VRAM_EINVAL);
    assert_ok(vram_device_fill(d, a, 64, 1)); /* no backing: range checked only */

    vram_device_stats s;
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.reserved, 3 * MiB + 1000);
    expect_eq_u64(s.segments, 2);
    expect_eq_u64(s.copy_calls, 3);
    expect_eq_u64(s.bytes_d2d, 1000);
    assert_ok(vram_device_release(d, b));
    vram_device_destroy(d); /* frees a */
    expect_no_leaks();

    /* A capacity below the device's bounds reservations and mem_info. */
    d = open_cuda(4 * MiB);
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(t, 4 * MiB);
    assert_ok(vram_device_reserve(d, 3 * MiB, &a));
    expect_status(vram_device_reserve(d, 2 * MiB, &b), VRAM_ENOMEM);
    expect_true(strstr(vram_device_errmsg(d), "capacity") != NULL);
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(f, MiB);
    vram_device_destroy(d);
    expect_no_leaks();
}

static void test_driver_failures(void)
{
    fake_env_set("FAKE_CUDA_FAIL_ALLOC_AFTER", "1");
    vram_device *d = open_cuda(0);
    uint64_t a, b;
    assert_ok(vram_device_reserve(d, MiB, &a));
    vram_device_stats before, after;
    vram_device_stats_get(d, &before);
    expect_status(vram_device_reserve(d, MiB, &b), VRAM_ENOMEM);
    expect_true(strstr(vram_device_errmsg(d), "cuMemAlloc failed: out of memory (CUresult 2)") !=
                NULL);
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.segments, before.segments);
    expect_eq_u64(after.reserved, before.reserved);
    expect_eq_u64(after.reserve_calls, before.reserve_calls);
    vram_device_destroy(d);
    expect_no_leaks();

    fake_env_set("FAKE_CUDA_FAIL_COPY_AFTER", "1");
    d = open_cuda(0);
    assert_ok(vram_device_reserve(d, MiB, &a));
    assert_ok(vram_device_copy_d2d(d, a, a + 512, 512));
    expect_status(vram_device_copy_d2d(d, a, a + 512, 512), VRAM_EDEVICE);
    expect_true(strstr(vram_device_errmsg(d), "cuMemcpyDtoD failed: an illegal memory access") !=
                NULL);
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.copy_calls, 1);
    /* Injected faults work on this backend too, without reaching the driver. */
    vram_device_inject_fault(d, VRAM_FAULT_RESERVE, 1, 0, VRAM_ENOMEM);
    expect_status(vram_device_reserve(d, MiB, &b), VRAM_ENOMEM);
    vram_device_destroy(d);
    expect_no_leaks();
}

static void test_growable(void)
{
    fake_env_set(NULL, NULL);
    vram_device *d = open_cuda(0);
    uint64_t g, f, t, live[5];
    vram_segment_info si;
    assert_ok(vram_device_reserve_growable(d, 15 * MiB, &g)); /* rounded to 16 MiB */
    expect_true(g % (2 * MiB) == 0);
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_true(si.growable);
    expect_eq_u64(si.max_size, 16 * MiB);
    expect_eq_u64(si.size, 0);

    assert_ok(vram_device_grow_segment(d, g, 5 * MiB));
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 6 * MiB);
    fake_live(live);
    expect_eq_u64(live[1], 3); /* one physical allocation per granule */
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(f, 58 * MiB);

    /* The mapped range is real memory: a copy straddling two granules round-trips. */
    unsigned char in[4096], out[4096];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 13);
    uint64_t at = g + 4 * MiB - 2048;
    assert_ok(vram_device_copy_h2d(d, at, in, sizeof in));
    assert_ok(vram_device_grow_segment(d, g, 16 * MiB));
    assert_ok(vram_device_copy_d2h(d, out, at, sizeof out));
    expect_true(memcmp(in, out, sizeof in) == 0);
    expect_status(vram_device_grow_segment(d, g, 18 * MiB), VRAM_EINVAL);

    assert_ok(vram_device_shrink_segment(d, g, 2 * MiB));
    fake_live(live);
    expect_eq_u64(live[1], 1);
    expect_status(vram_device_copy_h2d(d, g + 2 * MiB, in, 1), VRAM_EINVAL);
    vram_device_stats s;
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.reserved, 2 * MiB);
    expect_eq_u64(s.peak_reserved, 16 * MiB);
    expect_eq_u64(s.map_calls, 2);
    expect_eq_u64(s.unmap_calls, 1);
    assert_ok(vram_device_release(d, g));
    fake_live(live);
    expect_eq_u64(live[1], 0);
    expect_eq_u64(live[3], 0);
    vram_device_destroy(d);
    expect_no_leaks();

    /* A grow that fails half way (the 3rd map) undoes its maps: nothing changes. */
    fake_env_set("FAKE_CUDA_FAIL_MAP_AFTER", "2");
    d = open_cuda(0);
    assert_ok(vram_device_reserve_growable(d, 16 * MiB, &g));
    expect_status(vram_device_grow_segment(d, g, 8 * MiB), VRAM_EDEVICE);
    expect_true(strstr(vram_device_errmsg(d), "cuMemMap failed") != NULL);
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 0);
    fake_live(live);
    expect_eq_u64(live[1], 0);
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.reserved, 0);
    expect_eq_u64(s.map_calls, 0);
    vram_device_destroy(d);
    expect_no_leaks();

    /* Out of device memory while growing: VRAM_ENOMEM from the driver's words. */
    fake_env_set("FAKE_CUDA_FAIL_ALLOC_AFTER", "1");
    d = open_cuda(0);
    assert_ok(vram_device_reserve_growable(d, 16 * MiB, &g));
    expect_status(vram_device_grow_segment(d, g, 4 * MiB), VRAM_ENOMEM);
    expect_true(strstr(vram_device_errmsg(d), "cuMemCreate failed: out of memory") != NULL);
    vram_device_destroy(d);
    expect_no_leaks();

    /* A driver without the VMM API: growable segments are unsupported. */
    fake_env_set("FAKE_CUDA_NO_VMM", "1");
    d = open_cuda(0);
    expect_status(vram_device_reserve_growable(d, 16 * MiB, &g), VRAM_EUNSUPPORTED);
    expect_true(strstr(vram_device_errmsg(d), "virtual memory management") != NULL);
    vram_device_destroy(d);
    expect_no_leaks();
}

static void test_hostpool(void)
{
    /* Staging memory comes page-locked from the driver ... */
    fake_env_set(NULL, NULL);
    vram_device *d = open_cuda(0);
    vram_hostpool_config pc = {.chunk_bytes = MiB};
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &pc, &p));
    void *a, *b;
    assert_ok(vram_hostpool_get(p, 4096, &a));
    assert_ok(vram_hostpool_get(p, 2 * MiB, &b));
    memset(a, 1, 4096);
    memset(b, 2, 2 * MiB);
    vram_hostpool_stats s;
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.chunks, 2);
    expect_eq_u64(s.pinned_chunks, 2);
    uint64_t live[5];
    fake_live(live);
    expect_eq_u64(live[2], 2);
    assert_ok(vram_hostpool_put(p, a));
    assert_ok(vram_hostpool_put(p, b));
    assert_ok(vram_hostpool_check(p, NULL, 0));
    vram_hostpool_destroy(p);
    vram_device_destroy(d);
    expect_no_leaks();

    /* ... or from malloc when the driver cannot. */
    fake_env_set("FAKE_CUDA_NO_HOSTALLOC", "1");
    d = open_cuda(0);
    assert_ok(vram_hostpool_create(d, &pc, &p));
    assert_ok(vram_hostpool_get(p, 4096, &a));
    vram_hostpool_stats_get(p, &s);
    expect_eq_u64(s.chunks, 1);
    expect_eq_u64(s.pinned_chunks, 0);
    assert_ok(vram_hostpool_put(p, a));
    vram_hostpool_destroy(p);
    vram_device_destroy(d);
    expect_no_leaks();
}

int main(void)
{
    void *lib = dlopen(VRAM_FAKE_CUDA, RTLD_NOW);
    assert_true(lib != NULL);
    void *sym = dlsym(lib, "fake_cuda_live");
    memcpy(&fake_live, &sym, sizeof sym); /* POSIX: function pointers fit a void * */
    assert_true(fake_live != NULL);
    test_loading();
    test_reserve_copy();
    test_driver_failures();
    test_growable();
    test_hostpool();
    dlclose(lib);
    return test_finish("device_cuda");
}
#endif
