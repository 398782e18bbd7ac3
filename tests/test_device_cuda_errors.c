/* test_device_cuda_errors.c - the cuda backend's error paths against the fake
 * driver (tests/fake_cuda): every driver call that can fail is failed once
 * through fake_cuda_fail_call, and each test asserts the status, the driver's
 * words in the message, and that the device's state and stats are unchanged
 * (or, for a release or shrink that fails half way, exactly what is left).
 * Variants of the fake lacking symbols model older or partial drivers. The
 * backend's own host allocations are failed in turn through a countdown on
 * malloc, calloc and realloc (-Wl,--wrap, tests/cmake/fake_cuda.cmake; the
 * fake driver, a shared library, is not wrapped). */
#include <stdio.h>

#if !defined(VRAM_HAVE_CUDA) || !defined(VRAM_FAKE_CUDA_MINIMAL)
int main(void)
{
    printf("device_cuda_errors: skipped: built without cuda.h, so without the cuda backend\n");
    return 77;
}
#else

#include <cuda.h>
#include <dlfcn.h>

#include "testlib.h"
#include "vram/device.h"
#include "vram/hostpool.h"

#define MiB (1ull << 20)

/* One loaded fake driver and its test hooks. */
typedef struct fake_lib {
    void *lib;
    void (*live)(uint64_t out[5]);
    int (*fail_call)(const char *entry, uint64_t nth, int persistent, CUresult r);
} fake_lib;

static fake_lib fake;

/* The host allocation countdown: the fail_at-th one (1-based, counted from
 * host_fail_at) returns NULL; 0 = none does. */
static long fail_at, counted;
static int host_failed;

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);

static int host_fails(void)
{
    if (!fail_at || ++counted != fail_at)
        return 0;
    host_failed = 1;
    return 1;
}

void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n) { return host_fails() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_calloc(size_t k, size_t n) { return host_fails() ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n) { return host_fails() ? NULL : __real_realloc(p, n); }

static void host_fail_at(long n)
{
    fail_at = n;
    counted = 0;
    host_failed = 0;
}

static fake_lib fake_open(const char *path)
{
    fake_lib f = {.lib = dlopen(path, RTLD_NOW)};
    assert_true(f.lib != NULL);
    void *live = dlsym(f.lib, "fake_cuda_live"), *fail = dlsym(f.lib, "fake_cuda_fail_call");
    assert_true(live && fail);
    memcpy(&f.live, &live, sizeof live); /* POSIX: function pointers fit a void * */
    memcpy(&f.fail_call, &fail, sizeof fail);
    return f;
}

static const char *const fake_env[] = {
    "FAKE_CUDA_TOTAL",           "FAKE_CUDA_DEVICES",        "FAKE_CUDA_FAIL_INIT",
    "FAKE_CUDA_FAIL_ALLOC_AFTER", "FAKE_CUDA_FAIL_MAP_AFTER", "FAKE_CUDA_FAIL_COPY_AFTER",
    "FAKE_CUDA_NO_VMM",          "FAKE_CUDA_NO_HOSTALLOC",   "FAKE_CUDA_GRANULARITY",
    "FAKE_CUDA_ERRSTR_NULL",
};

/* The fake (at `driver`) with its defaults and a 64 MiB device, then
 * `name=value` (if name is not NULL); no call armed to fail. */
static void fake_env_set(const char *driver, const char *name, const char *value)
{
    for (size_t i = 0; i < sizeof fake_env / sizeof fake_env[0]; i++)
        unsetenv(fake_env[i]);
    setenv("FAKE_CUDA_TOTAL", "67108864", 1);
    setenv("VRAM_CUDA_DRIVER", driver, 1);
    if (name)
        setenv(name, value, 1);
    fake.fail_call(NULL, 0, 0, CUDA_SUCCESS);
}

static void fail_next(const char *entry, CUresult r)
{
    assert_true(fake.fail_call(entry, 1, 0, r) == 0);
}

static vram_status try_create(uint64_t capacity, vram_device **d, char *eb, size_t eblen)
{
    vram_device_config cfg = {.backend = "cuda", .capacity = capacity, .errbuf = eb,
                              .errbuf_len = eblen};
    eb[0] = '\0';
    vram_status st = vram_device_create(&cfg, d);
    expect_true(st ? *d == NULL : *d != NULL);
    return st;
}

static vram_device *open_cuda(uint64_t capacity)
{
    char eb[256];
    vram_device *d = NULL;
    vram_status st = try_create(capacity, &d, eb, sizeof eb);
    if (st)
        fprintf(stderr, "vram_device_create: %s\n", eb);
    assert_ok(st);
    return d;
}

static int has(const char *s, const char *part)
{
    if (strstr(s, part))
        return 1;
    fprintf(stderr, "message \"%s\" lacks \"%s\"\n", s, part);
    return 0;
}

static void expect_live(const fake_lib *f, uint64_t allocs, uint64_t handles, uint64_t host,
                        uint64_t reservations, uint64_t ctx_refs)
{
    uint64_t live[5];
    f->live(live);
    expect_eq_u64(live[0], allocs);
    expect_eq_u64(live[1], handles);
    expect_eq_u64(live[2], host);
    expect_eq_u64(live[3], reservations);
    expect_eq_u64(live[4], ctx_refs);
}

static void expect_same_stats(const vram_device_stats *a, const vram_device_stats *b)
{
    expect_eq_u64(a->reserved, b->reserved);
    expect_eq_u64(a->segments, b->segments);
    expect_eq_u64(a->reserve_calls, b->reserve_calls);
    expect_eq_u64(a->release_calls, b->release_calls);
    expect_eq_u64(a->copy_calls, b->copy_calls);
    expect_eq_u64(a->bytes_h2d, b->bytes_h2d);
    expect_eq_u64(a->bytes_d2h, b->bytes_d2h);
    expect_eq_u64(a->bytes_d2d, b->bytes_d2d);
    expect_eq_u64(a->map_calls, b->map_calls);
    expect_eq_u64(a->unmap_calls, b->unmap_calls);
    expect_true(a->modelled_ns == b->modelled_ns);
}

/* Creation: each step of opening the device fails in turn; nothing is left held. */
static void test_create_failures(void)
{
    static const struct {
        const char *entry;
        CUresult r;
        const char *words;
    } steps[] = {
        {"cuDevicePrimaryCtxRetain", CUDA_ERROR_INVALID_DEVICE,
         "cuDevicePrimaryCtxRetain failed: invalid device ordinal (CUresult 101)"},
        {"cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT,
         "cuCtxSetCurrent failed: invalid device context (CUresult 201)"},
        {"cuMemGetInfo", CUDA_ERROR_NOT_INITIALIZED,
         "cuMemGetInfo failed: initialization error (CUresult 3)"},
    };
    char eb[512];
    vram_device *d;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        fake_env_set(VRAM_FAKE_CUDA, NULL, NULL);
        fail_next(steps[i].entry, steps[i].r);
        d = (vram_device *)eb;
        expect_status(try_create(0, &d, eb, sizeof eb), VRAM_EDEVICE);
        expect_true(has(eb, steps[i].words));
        expect_live(&fake, 0, 0, 0, 0, 0); /* the primary context went back */
    }

    /* A CUresult the driver has no words for, and a driver that gives none. */
    fake_env_set(VRAM_FAKE_CUDA, "FAKE_CUDA_FAIL_INIT", "999");
    expect_status(try_create(0, &d, eb, sizeof eb), VRAM_EDEVICE);
    expect_true(has(eb, "cuInit failed: unknown error (CUresult 999)"));
    fake_env_set(VRAM_FAKE_CUDA, "FAKE_CUDA_FAIL_INIT", "100");
    setenv("FAKE_CUDA_ERRSTR_NULL", "1", 1);
    expect_status(try_create(0, &d, eb, sizeof eb), VRAM_EDEVICE);
    expect_true(has(eb, "cuInit failed: unknown error (CUresult 100)"));

    /* An empty VRAM_CUDA_DRIVER means the default driver, which a machine
     * without a GPU lacks. */
    fake_env_set("", NULL, NULL);
    void *real = dlopen("libcuda.so.1", RTLD_NOW);
    if (real) {
        dlclose(real);
    } else {
        expect_status(try_create(0, &d, eb, sizeof eb), VRAM_ENODRIVER);
        expect_true(has(eb, "cannot load the CUDA driver (libcuda.so.1: "));
    }

    /* A capacity above the device's total is the total; host backing is a sim
     * feature, so a cuda device has none whatever the configuration says. */
    fake_env_set(VRAM_FAKE_CUDA, NULL, NULL);
    vram_device_config cfg = {.backend = "cuda", .capacity = 1ull << 40, .host_backing = 1};
    assert_ok(vram_device_create(&cfg, &d));
    uint64_t f, t;
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(t, 64 * MiB);
    expect_true(!vram_device_has_backing(d));
    vram_segment_info si;
    expect_status(vram_device_segment_info(d, 4096, &si), VRAM_ENOTFOUND);
    vram_device_destroy(d);
    expect_live(&fake, 0, 0, 0, 0, 0);
}

/* A granularity the backend cannot use turns the VMM path off. */
static void test_bad_granularity(void)
{
    static const char *const bad[] = {"0", "3145728"}; /* none; 3 MiB, not a power of two */
    for (size_t i = 0; i < 2; i++) {
        fake_env_set(VRAM_FAKE_CUDA, "FAKE_CUDA_GRANULARITY", bad[i]);
        vram_device *d = open_cuda(0);
        expect_eq_u64(vram_device_granularity(d), 2 * MiB); /* the fallback alignment */
        uint64_t g;
        expect_status(vram_device_reserve_growable(d, 4 * MiB, &g), VRAM_EUNSUPPORTED);
        expect_true(has(vram_device_errmsg(d), "virtual memory management"));
        assert_ok(vram_device_reserve(d, MiB, &g));
        vram_device_destroy(d);
        expect_live(&fake, 0, 0, 0, 0, 0);
    }
}

/* The context cannot be made current: every call that talks to the driver
 * fails with the driver's words and changes nothing. */
static void test_context_lost(void)
{
    fake_env_set(VRAM_FAKE_CUDA, NULL, NULL);
    vram_device *d = open_cuda(0);
    uint64_t a, g, f = 7, t = 7;
    assert_ok(vram_device_reserve(d, MiB, &a));
    assert_ok(vram_device_reserve_growable(d, 8 * MiB, &g));
    assert_ok(vram_device_grow_segment(d, g, 2 * MiB));
    unsigned char buf[256] = {1, 2, 3};
    vram_device_stats before, after;
    vram_device_stats_get(d, &before);

    const char *words = "cuCtxSetCurrent failed: invalid device context (CUresult 201)";
    uint64_t x = 0;
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_reserve(d, MiB, &x), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_reserve_growable(d, 4 * MiB, &x), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_grow_segment(d, g, 6 * MiB), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_copy_h2d(d, a, buf, sizeof buf), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_copy_d2h(d, buf, a, sizeof buf), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_copy_d2d(d, a, g, sizeof buf), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_mem_info(d, &f, &t), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));
    expect_true(f == 7 && t == 7); /* out-values untouched */
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    expect_status(vram_device_release(d, a), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), words));

    vram_device_stats_get(d, &after);
    expect_same_stats(&before, &after);
    vram_segment_info si;
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 2 * MiB);
    expect_live(&fake, 1, 1, 0, 1, 1);

    /* Staging memory falls back to malloc when the context is lost. */
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * 1024}, &p));
    void *blk;
    fail_next("cuCtxSetCurrent", CUDA_ERROR_INVALID_CONTEXT);
    assert_ok(vram_hostpool_get(p, 100, &blk));
    vram_hostpool_stats ps;
    vram_hostpool_stats_get(p, &ps);
    expect_eq_u64(ps.chunks, 1);
    expect_eq_u64(ps.pinned_chunks, 0);
    expect_live(&fake, 1, 1, 0, 1, 1);
    assert_ok(vram_hostpool_put(p, blk));
    vram_hostpool_destroy(p);

    /* And everything works again once the context is back. */
    assert_ok(vram_device_copy_h2d(d, a, buf, sizeof buf));
    assert_ok(vram_device_release(d, a));
    vram_device_destroy(d);
    expect_live(&fake, 0, 0, 0, 0, 0);
}

/* Driver failures of the copies, mem_info and fixed segments. */
static void test_call_failures(void)
{
    fake_env_set(VRAM_FAKE_CUDA, NULL, NULL);
    vram_device *d = open_cuda(0);
    uint64_t a, f = 7, t = 7;
    assert_ok(vram_device_reserve(d, MiB, &a));
    unsigned char in[512], out[512];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 + 1);
    assert_ok(vram_device_copy_h2d(d, a, in, sizeof in));
    vram_device_stats before, after;
    vram_device_stats_get(d, &before);

    fail_next("cuMemcpyHtoD", CUDA_ERROR_ILLEGAL_ADDRESS);
    unsigned char zeros[512] = {0};
    expect_status(vram_device_copy_h2d(d, a, zeros, sizeof zeros), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemcpyHtoD failed: an illegal memory access"));
    memset(out, 0, sizeof out);
    fail_next("cuMemcpyDtoH", CUDA_ERROR_ILLEGAL_ADDRESS);
    expect_status(vram_device_copy_d2h(d, out, a, sizeof out), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemcpyDtoH failed: an illegal memory access"));
    expect_true(out[1] == 0); /* nothing was copied */
    fail_next("cuMemGetInfo", CUDA_ERROR_INVALID_VALUE);
    expect_status(vram_device_mem_info(d, &f, &t), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemGetInfo failed: invalid argument (CUresult 1)"));
    expect_true(f == 7 && t == 7);
    fail_next("cuMemFree", CUDA_ERROR_INVALID_VALUE);
    expect_status(vram_device_release(d, a), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemFree failed: invalid argument"));
    vram_device_stats_get(d, &after);
    expect_same_stats(&before, &after);
    expect_live(&fake, 1, 0, 0, 0, 1);

    /* The failed h2d left the contents alone; the segment is still live. */
    assert_ok(vram_device_copy_d2h(d, out, a, sizeof out));
    expect_true(memcmp(in, out, sizeof in) == 0);
    assert_ok(vram_device_release(d, a));
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.segments, 0);
    expect_eq_u64(after.reserved, 0);

    /* The driver's free bytes bound mem_info when another user holds memory. */
    vram_device *other = open_cuda(0);
    uint64_t b;
    assert_ok(vram_device_reserve(other, 40 * MiB, &b));
    assert_ok(vram_device_mem_info(d, &f, &t));
    expect_eq_u64(f, 24 * MiB);
    expect_eq_u64(t, 64 * MiB);
    vram_device_destroy(other);
    vram_device_destroy(d);
    expect_live(&fake, 0, 0, 0, 0, 0);
}

/* Growable segments: each VMM call fails in turn. A grow undoes what it
 * mapped; a shrink or release that fails half way says what is left. */
static void test_growable_failures(void)
{
    fake_env_set(VRAM_FAKE_CUDA, NULL, NULL);
    vram_device *d = open_cuda(0);
    uint64_t g, x;
    vram_segment_info si;
    vram_device_stats before, after;
    vram_device_stats_get(d, &before);
    fail_next("cuMemAddressReserve", CUDA_ERROR_OUT_OF_MEMORY);
    expect_status(vram_device_reserve_growable(d, 8 * MiB, &x), VRAM_ENOMEM);
    expect_true(
        has(vram_device_errmsg(d), "cuMemAddressReserve failed: out of memory (CUresult 2)"));
    vram_device_stats_get(d, &after);
    expect_same_stats(&before, &after);
    expect_live(&fake, 0, 0, 0, 0, 1);

    assert_ok(vram_device_reserve_growable(d, 24 * MiB, &g));
    vram_device_stats_get(d, &before);
    fake.fail_call("cuMemSetAccess", 2, 0, CUDA_ERROR_INVALID_VALUE); /* the 2nd granule */
    expect_status(vram_device_grow_segment(d, g, 6 * MiB), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemSetAccess failed: invalid argument"));
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 0);
    vram_device_stats_get(d, &after);
    expect_same_stats(&before, &after);
    expect_live(&fake, 0, 0, 0, 1, 1);

    /* Ten granules: the granule table grows past its first 8 entries. */
    assert_ok(vram_device_grow_segment(d, g, 20 * MiB));
    expect_live(&fake, 0, 10, 0, 1, 1);

    /* A shrink that fails at the 2nd unmap keeps the rest mapped. */
    fake.fail_call("cuMemUnmap", 2, 0, CUDA_ERROR_INVALID_VALUE);
    expect_status(vram_device_shrink_segment(d, g, 4 * MiB), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemUnmap failed: invalid argument"));
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 18 * MiB);
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.reserved, 18 * MiB);
    expect_eq_u64(after.unmap_calls, 1);
    expect_live(&fake, 0, 9, 0, 1, 1);

    /* A failed cuMemRelease: the granule is unmapped (the driver keeps the
     * handle it would not release) and the shrink stops there. */
    fail_next("cuMemRelease", CUDA_ERROR_INVALID_VALUE);
    expect_status(vram_device_shrink_segment(d, g, 4 * MiB), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemRelease failed: invalid argument"));
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 16 * MiB);
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.reserved, 16 * MiB);
    expect_live(&fake, 0, 9, 0, 1, 1);
    assert_ok(vram_device_shrink_segment(d, g, 4 * MiB));
    expect_live(&fake, 0, 3, 0, 1, 1); /* 2 mapped + the one the driver kept */

    /* A release that fails half way: the segment stays live with what is
     * still mapped, the stats follow; then cuMemAddressFree fails with
     * nothing mapped; then the release goes through. */
    fake.fail_call("cuMemUnmap", 2, 0, CUDA_ERROR_INVALID_VALUE);
    expect_status(vram_device_release(d, g), VRAM_EDEVICE);
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 2 * MiB);
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.reserved, 2 * MiB);
    expect_eq_u64(after.segments, 1);
    fail_next("cuMemAddressFree", CUDA_ERROR_INVALID_VALUE);
    expect_status(vram_device_release(d, g), VRAM_EDEVICE);
    expect_true(has(vram_device_errmsg(d), "cuMemAddressFree failed: invalid argument"));
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 0);
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.reserved, 0);
    expect_eq_u64(after.segments, 1);
    expect_eq_u64(after.release_calls, 0);
    assert_ok(vram_device_release(d, g));
    vram_device_stats_get(d, &after);
    expect_eq_u64(after.segments, 0);
    expect_eq_u64(after.release_calls, 1);
    expect_live(&fake, 0, 1, 0, 0, 1); /* the handle of the failed cuMemRelease */

    /* A grow beyond the device's capacity is refused before any driver call. */
    vram_device_destroy(d);
    d = open_cuda(8 * MiB);
    assert_ok(vram_device_reserve(d, 4 * MiB, &x));
    assert_ok(vram_device_reserve_growable(d, 16 * MiB, &g));
    vram_device_stats_get(d, &before);
    expect_status(vram_device_grow_segment(d, g, 6 * MiB), VRAM_ENOMEM);
    expect_true(has(vram_device_errmsg(d), "6291456 bytes do not fit: 4194304 of 8388608"));
    vram_device_stats_get(d, &after);
    expect_same_stats(&before, &after);
    vram_device_destroy(d);
    expect_live(&fake, 0, 1, 0, 0, 0);
}

/* Drivers lacking symbols: without the optional entry points and the VMM API
 * the backend still works, with words of its own and staging through malloc;
 * without cuMemFreeHost it never page-locks (it could not unlock). */
static void test_partial_drivers(void)
{
    fake_lib min = fake_open(VRAM_FAKE_CUDA_MINIMAL);
    fake_env_set(VRAM_FAKE_CUDA_MINIMAL, NULL, NULL);
    vram_device *d = open_cuda(0);
    uint64_t a, g;
    expect_eq_u64(vram_device_granularity(d), 2 * MiB);
    expect_status(vram_device_reserve_growable(d, 4 * MiB, &g), VRAM_EUNSUPPORTED);
    assert_true(min.fail_call("cuMemAlloc", 1, 0, CUDA_ERROR_OUT_OF_MEMORY) == 0);
    expect_status(vram_device_reserve(d, MiB, &a), VRAM_ENOMEM);
    expect_true(has(vram_device_errmsg(d), "cuMemAlloc failed: unknown error (CUresult 2)"));
    assert_ok(vram_device_reserve(d, MiB, &a));
    vram_hostpool *p;
    assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * 1024}, &p));
    void *blk;
    assert_ok(vram_hostpool_get(p, 4096, &blk));
    vram_hostpool_stats ps;
    vram_hostpool_stats_get(p, &ps);
    expect_eq_u64(ps.pinned_chunks, 0);
    vram_hostpool_destroy(p);
    vram_device_destroy(d);
    /* No cuDevicePrimaryCtxRelease: the driver keeps the context reference. */
    expect_live(&min, 0, 0, 0, 0, 1);
    dlclose(min.lib);

    fake_lib nfh = fake_open(VRAM_FAKE_CUDA_NOFREEHOST);
    fake_env_set(VRAM_FAKE_CUDA_NOFREEHOST, NULL, NULL);
    d = open_cuda(0);
    assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * 1024}, &p));
    assert_ok(vram_hostpool_get(p, 4096, &blk));
    vram_hostpool_stats_get(p, &ps);
    expect_eq_u64(ps.chunks, 1);
    expect_eq_u64(ps.pinned_chunks, 0);
    expect_live(&nfh, 0, 0, 0, 0, 1);
    vram_hostpool_destroy(p);
    vram_device_destroy(d);
    expect_live(&nfh, 0, 0, 0, 0, 0);
    dlclose(nfh.lib);
}

/* A driver lacking a required entry point is refused by name before any call. */
static void test_missing_required(void)
{
    fake_lib nodtod = fake_open(VRAM_FAKE_CUDA_NODTOD);
    fake_env_set(VRAM_FAKE_CUDA_NODTOD, NULL, NULL);
    char eb[512];
    vram_device *d = (vram_device *)eb;
    expect_status(try_create(0, &d, eb, sizeof eb), VRAM_ENODRIVER);
    expect_true(has(eb, "the CUDA driver " VRAM_FAKE_CUDA_NODTOD " lacks cuMemcpyDtoD; run with "
                        "the sim backend (--backend sim)"));
    expect_live(&nodtod, 0, 0, 0, 0, 0);
    dlclose(nodtod.lib);
}

/* The calls whose host allocations are refused in turn. */
typedef enum { H_CREATE, H_RESERVE, H_GROWABLE, H_GROW, H_STAGING } host_step;

/* Runs `step` on a fresh device (*d; made by the step itself for H_CREATE,
 * H_GROW on a growable segment *g) with the n-th host allocation of the call
 * refused, and checks that a failed call changed nothing. Returns non-zero
 * when the call made fewer than n allocations (so it succeeded). */
static int host_step_run(host_step step, long n)
{
    vram_device *d = NULL;
    uint64_t g = 0, x;
    vram_hostpool *p = NULL;
    void *blk = NULL;
    char eb[256];
    if (step != H_CREATE)
        d = open_cuda(0);
    if (step == H_GROW)
        assert_ok(vram_device_reserve_growable(d, 8 * MiB, &g));
    if (step == H_STAGING)
        assert_ok(vram_hostpool_create(d, &(vram_hostpool_config){.chunk_bytes = 64 * 1024}, &p));

    vram_status st = VRAM_OK;
    host_fail_at(n);
    switch (step) {
    case H_CREATE: st = try_create(0, &d, eb, sizeof eb); break;
    case H_RESERVE: st = vram_device_reserve(d, MiB, &x); break;
    case H_GROWABLE: st = vram_device_reserve_growable(d, 4 * MiB, &x); break;
    case H_GROW: st = vram_device_grow_segment(d, g, 2 * MiB); break;
    case H_STAGING: st = vram_hostpool_get(p, 100, &blk); break;
    }
    fail_at = 0;

    if (!host_failed) {
        assert_ok(st);
    } else {
        expect_status(st, VRAM_ENOHOST);
        if (step == H_CREATE)
            expect_true(has(eb, "out of host memory"));
        else if (step != H_STAGING)
            expect_true(has(vram_device_errmsg(d), "out of host memory"));
        if (d) {
            vram_device_stats s;
            vram_device_stats_get(d, &s);
            expect_eq_u64(s.segments, step == H_GROW);
            expect_eq_u64(s.reserved, 0);
            expect_eq_u64(s.map_calls, 0);
            vram_segment_info si;
            if (step == H_GROW) {
                assert_ok(vram_device_segment_info(d, g, &si));
                expect_eq_u64(si.size, 0);
            }
            expect_live(&fake, 0, 0, 0, step == H_GROW, 1);
        }
        if (p) {
            vram_hostpool_stats ps;
            vram_hostpool_stats_get(p, &ps);
            expect_eq_u64(ps.chunks, 0);
            expect_eq_u64(ps.gets, 0);
        }
    }
    if (blk)
        assert_ok(vram_hostpool_put(p, blk));
    vram_hostpool_destroy(p);
    vram_device_destroy(d);
    expect_live(&fake, 0, 0, 0, 0, 0);
    return !host_failed;
}

/* Every host allocation of each step refused in turn: VRAM_ENOHOST, the
 * device and the driver as they were. */
static void test_host_allocations(void)
{
    static const char *const names[] = {"create", "reserve", "reserve_growable", "grow",
                                        "staging"};
    fake_env_set(VRAM_FAKE_CUDA, "FAKE_CUDA_NO_HOSTALLOC", "1"); /* staging through malloc */
    for (host_step step = H_CREATE; step <= H_STAGING; step++) {
        long n = 1;
        while (!host_step_run(step, n))
            n++;
        printf("device_cuda_errors: %s: %ld host allocations, each refused once\n", names[step],
               n - 1);
        expect_true(n > 1);
    }
}

/* Destroying a device whose context cannot be made current: the host side is
 * freed (ASan checks), the driver keeps what it was never told to free, and
 * the primary context reference still goes back. Last: it leaves the fake
 * holding memory. */
static void test_destroy_without_context(void)
{
    fake_env_set(VRAM_FAKE_CUDA, NULL, NULL);
    uint64_t before[5];
    fake.live(before);
    vram_device *d = open_cuda(0);
    uint64_t a, g;
    assert_ok(vram_device_reserve(d, MiB, &a));
    assert_ok(vram_device_reserve_growable(d, 8 * MiB, &g));
    assert_ok(vram_device_grow_segment(d, g, 4 * MiB));
    assert_true(fake.fail_call("cuCtxSetCurrent", 1, 1, CUDA_ERROR_INVALID_CONTEXT) == 0);
    vram_device_destroy(d);
    fake.fail_call(NULL, 0, 0, CUDA_SUCCESS);
    expect_live(&fake, before[0] + 1, before[1] + 2, 0, 1, 0);
}

int main(void)
{
    fake = fake_open(VRAM_FAKE_CUDA);
    test_create_failures();
    test_bad_granularity();
    test_context_lost();
    test_call_failures();
    test_host_allocations(); /* before a failed cuMemRelease leaves the driver a handle */
    test_growable_failures();
    test_partial_drivers();
    test_missing_required();
    test_destroy_without_context();
    /* fake.lib stays loaded: what the driver was left holding stays reachable
     * from its globals, as it would in a real driver, rather than leaked. */
    return test_finish("device_cuda_errors");
}
#endif
