/* test_tensor_cache.c - the tensor cache over a "caching" heap: shape keys,
 * hits and misses without heap traffic, the byte limit, adopt, trim, check,
 * and a seeded random run with check() after every operation. */
#include "test_tensor_cache_lib.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

static vram_heap *make_heap(void)
{
    vram_heap_config cfg = {.capacity = 256 * MIB};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &cfg, &h));
    return h;
}

static vram_tensor_shape shape2(uint64_t a, uint64_t b, vram_dtype t)
{
    return (vram_tensor_shape){.ndim = 2, .dims = {a, b}, .dtype = t};
}

static void test_bytes(void)
{
    uint64_t n = 0;
    vram_tensor_shape s = shape2(3, 4, VRAM_DTYPE_F32);
    assert_ok(vram_tensor_bytes(&s, &n));
    expect_eq_u64(n, 48);
    s = (vram_tensor_shape){.ndim = 0, .dtype = VRAM_DTYPE_BF16};
    assert_ok(vram_tensor_bytes(&s, &n));
    expect_eq_u64(n, 2);
    s = shape2(3, 0, VRAM_DTYPE_F32);
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EINVAL);
    s = shape2(UINT64_C(1) << 40, UINT64_C(1) << 30, VRAM_DTYPE_F16);
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EOVERFLOW);
    s = shape2(1, 1, VRAM_DTYPE_COUNT);
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EINVAL);
    s.dtype = VRAM_DTYPE_I8;
    s.ndim = VRAM_TENSOR_MAX_DIMS + 1;
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EINVAL);
    expect_true(strcmp(vram_dtype_name(VRAM_DTYPE_BF16), "bf16") == 0);
    expect_eq_u64(vram_dtype_size(VRAM_DTYPE_FP8), 1);
}

/* Hits and misses hand buffers out and back without any heap call. */
static void test_hits_and_misses(void)
{
    vram_heap *h = make_heap();
    vram_tensor_cache *tc = test_cache(h, 64 * MIB);
    vram_tensor_shape act = shape2(8, 1024, VRAM_DTYPE_BF16); /* 16 KiB */
    assert_ok(vram_tensor_cache_reserve(tc, &act, 4));
    vram_heap_stats hs = test_heap_stats(h);
    expect_eq_u64(hs.live_allocs, 4);
    vram_tensor_cache_stats cs = test_cache_stats(tc);
    expect_eq_u64(cs.idle_buffers, 4);
    expect_eq_u64(cs.idle_bytes, 64 * KIB);
    expect_eq_u64(cs.shapes, 1);

    uint64_t offs[4];
    for (int i = 0; i < 4; i++)
        assert_ok(vram_tensor_cache_acquire(tc, &act, &offs[i]));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < i; j++)
            expect_true(offs[i] != offs[j]);
    uint64_t off;
    expect_status(vram_tensor_cache_acquire(tc, &act, &off), VRAM_ENOTFOUND);
    vram_tensor_shape other = shape2(1024, 8, VRAM_DTYPE_BF16); /* same bytes, other shape */
    expect_status(vram_tensor_cache_acquire(tc, &other, &off), VRAM_ENOTFOUND);
    vram_tensor_shape other_type = shape2(8, 1024, VRAM_DTYPE_F16);
    expect_status(vram_tensor_cache_acquire(tc, &other_type, &off), VRAM_ENOTFOUND);
    cs = test_cache_stats(tc);
    expect_eq_u64(cs.hits, 4);
    expect_eq_u64(cs.misses, 3);
    expect_eq_u64(cs.out_bytes, 64 * KIB);
    expect_eq_u64(cs.idle_bytes, 0);
    vram_heap_stats now = test_heap_stats(h);
    expect_eq_u64(now.live_allocs, hs.live_allocs); /* the heap saw none of it */
    expect_eq_u64(now.in_use, hs.in_use);

    assert_ok(vram_tensor_cache_release(tc, offs[2]));
    expect_status(vram_tensor_cache_release(tc, offs[2]), VRAM_EDOUBLEFREE);
    expect_status(vram_tensor_cache_release(tc, offs[2] + 512), VRAM_ENOTFOUND);
    vram_tensor_shape noisy = act; /* dims past ndim are not part of the key */
    noisy.dims[5] = 77;
    assert_ok(vram_tensor_cache_acquire(tc, &noisy, &off));
    expect_eq_u64(off, offs[2]);
    EXPECT_CACHE_CLEAN(tc);

    vram_tensor_cache_destroy(tc); /* every buffer goes back, handed out or not */
    expect_eq_u64(test_heap_stats(h).live_allocs, 0);
    vram_heap_destroy(h);
}

/* The limit bounds idle plus handed-out bytes; adopt keeps blocks within it. */
static void test_limit_and_adopt(void)
{
    vram_heap *h = make_heap();
    vram_tensor_cache *tc = test_cache(h, 100 * KIB);
    vram_tensor_shape s = shape2(4, 1024, VRAM_DTYPE_F32); /* 16 KiB */
    assert_ok(vram_tensor_cache_reserve(tc, &s, 4));
    uint64_t off;
    assert_ok(vram_tensor_cache_acquire(tc, &s, &off));
    expect_status(vram_tensor_cache_reserve(tc, &s, 3), VRAM_ENOMEM); /* 112 KiB > 100 */
    expect_eq_u64(test_heap_stats(h).live_allocs, 4);
    expect_status(vram_tensor_cache_reserve(tc, &s, 0), VRAM_EINVAL);

    uint64_t blk;
    assert_ok(vram_heap_alloc(h, 16 * KIB, 0, &blk));
    assert_ok(vram_tensor_cache_adopt(tc, &s, blk));
    expect_status(vram_tensor_cache_adopt(tc, &s, blk), VRAM_EBUSY);
    uint64_t blk2;
    assert_ok(vram_heap_alloc(h, 32 * KIB, 0, &blk2));
    vram_tensor_shape big = shape2(8, 1024, VRAM_DTYPE_F32); /* 32 KiB: 112 KiB > 100 */
    expect_status(vram_tensor_cache_adopt(tc, &big, blk2), VRAM_ENOMEM);
    vram_tensor_cache_stats cs = test_cache_stats(tc);
    expect_eq_u64(cs.adopted, 1);
    expect_eq_u64(cs.refused, 1);
    expect_eq_u64(cs.idle_buffers, 4);
    expect_eq_u64(cs.out_buffers, 1);
    EXPECT_CACHE_CLEAN(tc);
    assert_ok(vram_heap_free(h, blk2));

    uint64_t freed = 0;
    assert_ok(vram_tensor_cache_trim(tc, &s, &freed));
    expect_eq_u64(freed, 4 * 16 * KIB);
    expect_eq_u64(test_heap_stats(h).live_allocs, 1); /* the handed-out one */
    expect_eq_u64(test_cache_stats(tc).shapes, 1);
    assert_ok(vram_tensor_cache_release(tc, off));
    assert_ok(vram_tensor_cache_trim(tc, NULL, &freed));
    expect_eq_u64(freed, 16 * KIB);
    expect_eq_u64(test_cache_stats(tc).shapes, 0);
    expect_eq_u64(test_heap_stats(h).live_allocs, 0);
    EXPECT_CACHE_CLEAN(tc);

    /* An adopted offset that is no heap block: check() finds it, trim fails on it. */
    vram_tensor_shape tiny = shape2(1, 1, VRAM_DTYPE_U8);
    assert_ok(vram_tensor_cache_adopt(tc, &tiny, 12345 * 256));
    char msg[256];
    expect_status(vram_tensor_cache_check(tc, msg, sizeof msg), VRAM_ECORRUPT);
    expect_true(strstr(msg, "live heap blocks") != NULL);
    expect_status(vram_tensor_cache_trim(tc, NULL, &freed), VRAM_ENOTFOUND);
    expect_eq_u64(test_cache_stats(tc).idle_buffers, 1);
    vram_tensor_cache_destroy(tc);

    vram_tensor_cache *bad = NULL;
    vram_tensor_cache_config cfg = {.limit_bytes = 0};
    expect_status(vram_tensor_cache_create(h, &cfg, &bad), VRAM_EINVAL);
    cfg = (vram_tensor_cache_config){.limit_bytes = MIB, .align = 3};
    expect_status(vram_tensor_cache_create(h, &cfg, &bad), VRAM_EINVAL);
    expect_true(bad == NULL);
    vram_heap_destroy(h);
}

/* Seeded random reserve/acquire/release/adopt/trim with check() after each. */
static void test_random(uint64_t seed)
{
    printf("random: seed %" PRIu64 "\n", seed);
    uint64_t rng = seed, out[512];
    size_t nout = 0;
    vram_heap *h = make_heap();
    vram_tensor_cache *tc = test_cache(h, 8 * MIB);
    vram_tensor_shape shapes[6];
    for (int i = 0; i < 6; i++)
        shapes[i] = shape2(1 + (uint64_t)i, 1024 << i, i % 2 ? VRAM_DTYPE_F16 : VRAM_DTYPE_F32);
    for (int op = 0; op < 4000; op++) {
        uint64_t r = test_rand(&rng) % 100;
        const vram_tensor_shape *s = &shapes[test_rand(&rng) % 6];
        vram_status st;
        if (r < 10) {
            st = vram_tensor_cache_reserve(tc, s, 1 + (uint32_t)(test_rand(&rng) % 3));
            expect_true(st == VRAM_OK || st == VRAM_ENOMEM);
        } else if (r < 50 && nout < 512) {
            st = vram_tensor_cache_acquire(tc, s, &out[nout]);
            expect_true(st == VRAM_OK || st == VRAM_ENOTFOUND);
            nout += st == VRAM_OK;
        } else if (r < 85 && nout) {
            size_t k = test_rand(&rng) % nout;
            expect_status(vram_tensor_cache_release(tc, out[k]), VRAM_OK);
            out[k] = out[--nout];
        } else if (r < 95) {
            uint64_t bytes, off;
            assert_ok(vram_tensor_bytes(s, &bytes));
            assert_ok(vram_heap_alloc(h, bytes, 0, &off));
            if (vram_tensor_cache_adopt(tc, s, off) != VRAM_OK)
                assert_ok(vram_heap_free(h, off));
        } else {
            assert_ok(vram_tensor_cache_trim(tc, test_rand(&rng) % 2 ? s : NULL, NULL));
        }
        char msg[256];
        st = vram_tensor_cache_check(tc, msg, sizeof msg);
        if (st) {
            fprintf(stderr, "op %d: %s\n", op, msg);
            expect_status(st, VRAM_OK);
            break;
        }
    }
    vram_tensor_cache_stats cs = test_cache_stats(tc);
    expect_eq_u64(cs.out_buffers, nout);
    expect_true(cs.idle_bytes + cs.out_bytes <= 8 * MIB);
    printf("random: %" PRIu64 " hits, %" PRIu64 " misses, %" PRIu64 " adopted, %" PRIu64
           " refused\n", cs.hits, cs.misses, cs.adopted, cs.refused);
    vram_tensor_cache_destroy(tc);
    expect_eq_u64(test_heap_stats(h).live_allocs, 0);
    vram_heap_destroy(h);
}

int main(void)
{
    test_bytes();
    test_hits_and_misses();
    test_limit_and_adopt();
    test_random(11);
    test_random(12);
    return test_finish("tensor_cache");
}
