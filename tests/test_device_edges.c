/* test_device_edges.c - the device wrapper's argument checks and the sim
 * backend's limits: NULL and zero arguments of every call, copy, fill and
 * verify ranges outside a segment, growable sizes that cannot be rounded,
 * no-op resizes, host backing the host cannot give, the top of the 64-bit
 * address space, and a segment table that grows. Every refused call is
 * checked to leave the stats, free bytes and segments as they were. */
#include "testlib.h"
#include "vram/device.h"

#define MiB (1ull << 20)
#define BASE 0x7f0000000000ull /* where the sim's address space starts */

/* Under ASan, a request no host can satisfy returns NULL (the library's
 * answer to that is under test) rather than stopping the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

static vram_device *make(uint64_t capacity, int backing)
{
    vram_device_config cfg = {.capacity = capacity, .host_backing = backing};
    vram_device *d = NULL;
    assert_ok(vram_device_create(&cfg, &d));
    return d;
}

/* What a refused call must leave alone. */
typedef struct state {
    vram_device_stats stats;
    uint64_t free_bytes;
} state;

static state state_of(vram_device *d)
{
    state s;
    uint64_t total;
    vram_device_stats_get(d, &s.stats);
    assert_ok(vram_device_mem_info(d, &s.free_bytes, &total));
    return s;
}

static void expect_unchanged(vram_device *d, const state *before)
{
    state now = state_of(d);
    expect_eq_u64(now.free_bytes, before->free_bytes);
    expect_eq_u64(now.stats.reserved, before->stats.reserved);
    expect_eq_u64(now.stats.segments, before->stats.segments);
    expect_eq_u64(now.stats.reserve_calls, before->stats.reserve_calls);
    expect_eq_u64(now.stats.release_calls, before->stats.release_calls);
    expect_eq_u64(now.stats.copy_calls, before->stats.copy_calls);
    expect_eq_u64(now.stats.map_calls, before->stats.map_calls);
    expect_eq_u64(now.stats.unmap_calls, before->stats.unmap_calls);
    expect_true(now.stats.modelled_ns == before->stats.modelled_ns);
}

static int msg_has(const vram_device *d, const char *part)
{
    if (strstr(vram_device_errmsg(d), part))
        return 1;
    fprintf(stderr, "message \"%s\" lacks \"%s\"\n", vram_device_errmsg(d), part);
    return 0;
}

static void test_create_arguments(void)
{
    vram_device_config cfg = {.capacity = MiB};
    expect_status(vram_device_create(&cfg, NULL), VRAM_EINVAL);
    /* No configuration: the sim backend with capacity 0, which is refused. */
    vram_device *d = (vram_device *)&cfg;
    expect_status(vram_device_create(NULL, &d), VRAM_EINVAL);
    expect_true(d == NULL);
}

static void test_call_arguments(void)
{
    vram_device *d = make(64 * MiB, 1);
    uint64_t a, b, f, t;
    assert_ok(vram_device_reserve(d, 4096, &a));
    assert_ok(vram_device_reserve(d, 4096, &b));
    assert_ok(vram_device_fill(d, a, 4096, 7));
    state before = state_of(d);
    unsigned char buf[64];

    /* Zero bytes: VRAM_OK, nothing done, whatever the addresses. */
    assert_ok(vram_device_copy_d2h(d, NULL, 12345, 0));
    assert_ok(vram_device_copy_d2d(d, 1, 2, 0));
    assert_ok(vram_device_fill(d, 3, 0, 1));
    assert_ok(vram_device_verify(d, 4, 0, 1));
    expect_unchanged(d, &before);

    expect_status(vram_device_copy_d2h(d, NULL, a, 1), VRAM_EINVAL);
    expect_true(msg_has(d, "copy_d2h: NULL destination"));
    expect_status(vram_device_copy_d2d(d, b, a + 4000, 100), VRAM_EINVAL);
    expect_true(msg_has(d, "copy_d2d (source): ["));
    expect_status(vram_device_copy_d2d(d, b + 4000, a, 100), VRAM_EINVAL);
    expect_true(msg_has(d, "copy_d2d (destination): ["));
    expect_status(vram_device_verify(d, a + 1, 4096, 7), VRAM_EINVAL);
    expect_true(msg_has(d, "verify: [") && msg_has(d, "is not inside one live segment"));
    expect_status(vram_device_mem_info(d, NULL, &t), VRAM_EINVAL);
    expect_true(msg_has(d, "mem_info: NULL out-pointer"));
    expect_status(vram_device_mem_info(d, &f, NULL), VRAM_EINVAL);
    expect_status(vram_device_segment_info(d, a, NULL), VRAM_EINVAL);
    expect_unchanged(d, &before);

    /* The refused calls touched nothing: a's pattern is intact, b still zero. */
    assert_ok(vram_device_verify(d, a, 4096, 7));
    assert_ok(vram_device_copy_d2h(d, buf, b + 4000, sizeof buf));
    int zero = 1;
    for (size_t i = 0; i < sizeof buf; i++)
        zero &= buf[i] == 0;
    expect_true(zero);
    vram_device_destroy(d);
}

static void test_growable_arguments(void)
{
    vram_device *d = make(64 * MiB, 0);
    uint64_t g, a, x = 0;
    assert_ok(vram_device_reserve_growable(d, 8 * MiB, &g));
    assert_ok(vram_device_reserve(d, MiB, &a));
    state before = state_of(d);

    expect_status(vram_device_reserve_growable(d, 0, &x), VRAM_EINVAL);
    expect_true(msg_has(d, "reserve_growable: max_size 0 or too large"));
    expect_status(vram_device_reserve_growable(d, UINT64_MAX, &x), VRAM_EINVAL);
    expect_true(msg_has(d, "max_size 0 or too large to round to the granularity"));
    expect_status(vram_device_reserve_growable(d, 2 * MiB, NULL), VRAM_EINVAL);
    expect_true(msg_has(d, "reserve_growable: NULL address out-pointer"));

    expect_status(vram_device_grow_segment(d, g + 4096, 2 * MiB), VRAM_ENOTFOUND);
    expect_true(msg_has(d, "grow_segment: 0x7f0000001000 is not the start of a growable segment"));
    expect_status(vram_device_shrink_segment(d, 12345, 0), VRAM_ENOTFOUND);
    expect_true(msg_has(d, "shrink_segment: 0x3039 is not the start"));
    expect_status(vram_device_grow_segment(d, a, 2 * MiB), VRAM_ENOTFOUND); /* fixed */
    expect_status(vram_device_grow_segment(d, g, UINT64_MAX), VRAM_EINVAL);
    expect_true(msg_has(d, "grow_segment: size 18446744073709551615 beyond the segment's 8388608"));
    expect_unchanged(d, &before);

    assert_ok(vram_device_grow_segment(d, g, 4 * MiB));
    before = state_of(d);
    expect_status(vram_device_shrink_segment(d, g, 6 * MiB), VRAM_EINVAL);
    expect_true(msg_has(d, "shrink_segment: size 6291456 would grow the 4194304 mapped bytes"));
    /* Resizing to the mapped size (after rounding) is a no-op, not a call. */
    assert_ok(vram_device_grow_segment(d, g, 3 * MiB + 1));
    assert_ok(vram_device_shrink_segment(d, g, 4 * MiB));
    expect_unchanged(d, &before);
    vram_segment_info si;
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 4 * MiB);
    assert_ok(vram_device_shrink_segment(d, g, 0));
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 0);
    vram_device_destroy(d);
}

/* Host backing larger than any host can give: VRAM_ENOHOST, nothing changes. */
static void test_backing_too_large(void)
{
    const uint64_t huge = 1ull << 60;
    vram_device *d = make(huge, 1);
    uint64_t a, g;
    state before = state_of(d);
    expect_status(vram_device_reserve(d, huge, &a), VRAM_ENOHOST);
    expect_true(msg_has(d, "sim: no host memory to back 1152921504606846976 bytes"));
    expect_unchanged(d, &before);

    assert_ok(vram_device_reserve_growable(d, huge, &g));
    assert_ok(vram_device_grow_segment(d, g, 2 * MiB));
    assert_ok(vram_device_fill(d, g, 2 * MiB, 3));
    before = state_of(d);
    expect_status(vram_device_grow_segment(d, g, huge), VRAM_ENOHOST);
    expect_true(msg_has(d, "sim: no host memory to back 1152921504606846976 bytes"));
    expect_unchanged(d, &before);
    vram_segment_info si;
    assert_ok(vram_device_segment_info(d, g, &si));
    expect_eq_u64(si.size, 2 * MiB);
    assert_ok(vram_device_verify(d, g, 2 * MiB, 3)); /* the backing survived */
    vram_device_destroy(d);
}

/* The last byte of the 64-bit address space taken: nothing fits after it. */
static void test_address_space_top(void)
{
    vram_device *d = make(UINT64_MAX, 0);
    uint64_t a, b;
    assert_ok(vram_device_reserve(d, UINT64_MAX - BASE, &a)); /* [BASE, 2^64 - 1) */
    expect_eq_u64(a, BASE);
    state before = state_of(d);
    expect_status(vram_device_reserve(d, 1, &b), VRAM_EOVERFLOW);
    expect_true(msg_has(d, "sim: no gap of 1 bytes left in the address space"));
    expect_unchanged(d, &before);
    assert_ok(vram_device_release(d, a));
    assert_ok(vram_device_reserve(d, 1, &b));
    expect_eq_u64(b, BASE);
    vram_device_destroy(d);
}

/* More segments than the table's first allocation holds, released out of
 * order: placement stays first fit and the stats follow. */
static void test_many_segments(void)
{
    enum { N = 40 };
    vram_device *d = make(N * 2 * MiB, 0);
    uint64_t addr[N];
    for (int i = 0; i < N; i++) {
        assert_ok(vram_device_reserve(d, MiB, &addr[i]));
        expect_eq_u64(addr[i], BASE + (uint64_t)i * 2 * MiB);
    }
    for (int i = 0; i < N; i += 3)
        assert_ok(vram_device_release(d, addr[i]));
    vram_device_stats s;
    vram_device_stats_get(d, &s);
    expect_eq_u64(s.segments, N - (N + 2) / 3);
    uint64_t x;
    for (int i = 0; i < N; i += 3) { /* the gaps come back lowest first */
        assert_ok(vram_device_reserve(d, 2 * MiB, &x));
        expect_eq_u64(x, addr[i]);
    }
    vram_segment_info si;
    assert_ok(vram_device_segment_info(d, addr[N - 1] + 5, &si));
    expect_eq_u64(si.addr, addr[N - 1]);
    vram_device_destroy(d);
}

int main(void)
{
    test_create_arguments();
    test_call_arguments();
    test_growable_arguments();
    test_backing_too_large();
    test_address_space_top();
    test_many_segments();
    return test_finish("device_edges");
}
