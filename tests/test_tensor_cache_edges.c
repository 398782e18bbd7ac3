/* test_tensor_cache_edges.c - the tensor cache's refusals through the public
 * API (NULL arguments, bad shapes, limits, a heap that runs out half-way, a
 * heap that refuses a trim), many shapes (the shape table grows and collides),
 * and a seeded random run against a shadow model with check() after every
 * operation. */
#include "test_tensor_cache_lib.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

static vram_heap *make_heap(uint64_t capacity)
{
    vram_heap_config cfg = {.capacity = capacity};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("bestfit"), &cfg, &h));
    return h;
}

static uint64_t heap_live(const vram_heap *h)
{
    vram_heap_stats s;
    vram_heap_stats_get(h, &s);
    return s.live_allocs;
}

static vram_tensor_shape vec(uint64_t n, vram_dtype t)
{
    return (vram_tensor_shape){.ndim = 1, .dims = {n}, .dtype = t};
}

static void test_dtypes_and_bytes(void)
{
    expect_eq_u64(vram_dtype_size(VRAM_DTYPE_COUNT), 0);
    expect_eq_u64(vram_dtype_size((vram_dtype)-1), 0);
    expect_true(strcmp(vram_dtype_name(VRAM_DTYPE_COUNT), "?") == 0);
    expect_true(strcmp(vram_dtype_name((vram_dtype)-1), "?") == 0);
    expect_true(strcmp(vram_dtype_name(VRAM_DTYPE_BOOL), "bool") == 0);

    uint64_t n = 99;
    vram_tensor_shape s = vec(4, VRAM_DTYPE_F32);
    expect_status(vram_tensor_bytes(NULL, &n), VRAM_EINVAL);
    expect_status(vram_tensor_bytes(&s, NULL), VRAM_EINVAL);
    s.ndim = VRAM_TENSOR_MAX_DIMS + 1;
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EINVAL);
    s = vec(4, VRAM_DTYPE_COUNT);
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EINVAL);
    s = (vram_tensor_shape){.ndim = 2, .dims = {4, 0}, .dtype = VRAM_DTYPE_F32};
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EINVAL);
    s = (vram_tensor_shape){.ndim = 2, .dims = {UINT64_C(1) << 40, UINT64_C(1) << 22},
                            .dtype = VRAM_DTYPE_F64}; /* 2^65 bytes */
    expect_status(vram_tensor_bytes(&s, &n), VRAM_EOVERFLOW);
    expect_eq_u64(n, 99);
    s = (vram_tensor_shape){.ndim = 0, .dtype = VRAM_DTYPE_F64}; /* a scalar */
    assert_ok(vram_tensor_bytes(&s, &n));
    expect_eq_u64(n, 8);
}

static void test_create_refusals(void)
{
    vram_heap *h = make_heap(MIB);
    vram_tensor_cache *tc = (vram_tensor_cache *)&tc;
    vram_tensor_cache_config cfg = {.limit_bytes = KIB};
    expect_status(vram_tensor_cache_create(h, &cfg, NULL), VRAM_EINVAL);
    expect_status(vram_tensor_cache_create(NULL, &cfg, &tc), VRAM_EINVAL);
    expect_true(tc == NULL); /* *out cleared on failure */
    expect_status(vram_tensor_cache_create(h, NULL, &tc), VRAM_EINVAL);
    cfg.limit_bytes = 0;
    expect_status(vram_tensor_cache_create(h, &cfg, &tc), VRAM_EINVAL);
    cfg = (vram_tensor_cache_config){.limit_bytes = KIB, .align = 768};
    expect_status(vram_tensor_cache_create(h, &cfg, &tc), VRAM_EINVAL);
    expect_true(tc == NULL);

    /* a power-of-two alignment is used for every buffer */
    cfg.align = 4096;
    assert_ok(vram_tensor_cache_create(h, &cfg, &tc));
    vram_tensor_shape s = vec(64, VRAM_DTYPE_U8);
    assert_ok(vram_tensor_cache_reserve(tc, &s, 2));
    uint64_t o1 = 1, o2 = 1;
    assert_ok(vram_tensor_cache_acquire(tc, &s, &o1));
    assert_ok(vram_tensor_cache_acquire(tc, &s, &o2));
    expect_eq_u64(o1 % 4096, 0);
    expect_eq_u64(o2 % 4096, 0);
    expect_true(o1 != o2);
    EXPECT_CACHE_CLEAN(tc);
    vram_tensor_cache_destroy(tc);
    vram_tensor_cache_destroy(NULL); /* a no-op */
    expect_eq_u64(heap_live(h), 0);
    vram_heap_destroy(h);
}

/* Every call refuses NULL, bad shapes and bad offsets, and changes nothing then. */
static void test_call_refusals(void)
{
    vram_heap *h = make_heap(MIB);
    vram_tensor_cache *tc = test_cache(h, 4 * KIB);
    vram_tensor_shape good = vec(256, VRAM_DTYPE_F32); /* 1 KiB */
    vram_tensor_shape zero = {.ndim = 1, .dims = {0}, .dtype = VRAM_DTYPE_F32};
    vram_tensor_shape huge = {.ndim = 2, .dims = {UINT64_MAX, 2}, .dtype = VRAM_DTYPE_U8};
    uint64_t off = 77, freed = 77;

    expect_status(vram_tensor_cache_reserve(NULL, &good, 1), VRAM_EINVAL);
    expect_status(vram_tensor_cache_reserve(tc, &good, 0), VRAM_EINVAL);
    expect_status(vram_tensor_cache_reserve(tc, &zero, 1), VRAM_EINVAL);
    expect_status(vram_tensor_cache_reserve(tc, &huge, 1), VRAM_EOVERFLOW);
    expect_status(vram_tensor_cache_reserve(tc, NULL, 1), VRAM_EINVAL);
    expect_status(vram_tensor_cache_reserve(tc, &good, 5), VRAM_ENOMEM); /* 5 KiB > 4 KiB */
    expect_eq_u64(heap_live(h), 0);

    expect_status(vram_tensor_cache_acquire(NULL, &good, &off), VRAM_EINVAL);
    expect_status(vram_tensor_cache_acquire(tc, &good, NULL), VRAM_EINVAL);
    expect_status(vram_tensor_cache_acquire(tc, &zero, &off), VRAM_EINVAL);
    expect_status(vram_tensor_cache_acquire(tc, &huge, &off), VRAM_EOVERFLOW);
    expect_eq_u64(test_cache_stats(tc).misses, 0); /* bad shapes are not misses */
    expect_status(vram_tensor_cache_acquire(tc, &good, &off), VRAM_ENOTFOUND); /* never seen */
    expect_eq_u64(off, 77);
    expect_eq_u64(test_cache_stats(tc).misses, 1);

    expect_status(vram_tensor_cache_release(NULL, 0), VRAM_EINVAL);
    expect_status(vram_tensor_cache_release(tc, 0), VRAM_ENOTFOUND);

    expect_status(vram_tensor_cache_adopt(NULL, &good, 0), VRAM_EINVAL);
    expect_status(vram_tensor_cache_adopt(tc, &zero, 0), VRAM_EINVAL);
    expect_status(vram_tensor_cache_adopt(tc, &huge, 0), VRAM_EOVERFLOW);

    expect_status(vram_tensor_cache_trim(NULL, NULL, &freed), VRAM_EINVAL);
    expect_status(vram_tensor_cache_trim(tc, &zero, &freed), VRAM_EINVAL);
    expect_status(vram_tensor_cache_trim(tc, &huge, &freed), VRAM_EOVERFLOW);
    expect_eq_u64(freed, 77);
    assert_ok(vram_tensor_cache_trim(tc, &good, &freed)); /* a shape the cache never saw */
    expect_eq_u64(freed, 0);
    assert_ok(vram_tensor_cache_trim(tc, &good, NULL));

    vram_tensor_cache_stats s = test_cache_stats(tc);
    expect_eq_u64(s.idle_buffers + s.out_buffers + s.shapes + s.hits + s.adopted + s.refused, 0);
    EXPECT_CACHE_CLEAN(tc);

    /* a known shape with nothing idle is a miss too; release twice is a double free */
    assert_ok(vram_tensor_cache_reserve(tc, &good, 1));
    assert_ok(vram_tensor_cache_acquire(tc, &good, &off));
    expect_status(vram_tensor_cache_acquire(tc, &good, &off), VRAM_ENOTFOUND);
    expect_eq_u64(test_cache_stats(tc).misses, 2);
    assert_ok(vram_tensor_cache_release(tc, off));
    expect_status(vram_tensor_cache_release(tc, off), VRAM_EDOUBLEFREE);
    expect_status(vram_tensor_cache_adopt(tc, &good, off), VRAM_EBUSY);
    EXPECT_CACHE_CLEAN(tc);
    vram_tensor_cache_destroy(tc);
    expect_eq_u64(heap_live(h), 0);
    vram_heap_destroy(h);
}

/* The heap runs out at the fifth of five buffers: the four are given back. */
static void test_reserve_all_or_none(void)
{
    vram_heap *h = make_heap(4 * KIB);
    vram_tensor_cache *tc = test_cache(h, MIB);
    vram_tensor_shape s = vec(256, VRAM_DTYPE_F32); /* 1 KiB */
    expect_status(vram_tensor_cache_reserve(tc, &s, 5), VRAM_ENOMEM);
    expect_eq_u64(heap_live(h), 0);
    vram_tensor_cache_stats st = test_cache_stats(tc);
    expect_eq_u64(st.idle_buffers, 0);
    expect_eq_u64(st.idle_bytes, 0);
    expect_eq_u64(st.shapes, 0);
    EXPECT_CACHE_CLEAN(tc);
    assert_ok(vram_tensor_cache_reserve(tc, &s, 4));
    expect_eq_u64(heap_live(h), 4);
    expect_eq_u64(test_cache_stats(tc).idle_bytes, 4 * KIB);
    EXPECT_CACHE_CLEAN(tc);
    vram_tensor_cache_destroy(tc);
    vram_heap_destroy(h);
}

/* The heap refuses a buffer during a trim of every shape (it was freed behind
 * the cache's back): the trim stops there with the heap's status, and the
 * shapes after it keep their buffers. */
static void test_trim_refused(void)
{
    vram_heap *h = make_heap(MIB);
    vram_tensor_cache *tc = test_cache(h, MIB);
    vram_tensor_shape first = vec(256, VRAM_DTYPE_U8), second = vec(256, VRAM_DTYPE_F32);
    uint64_t blk = UINT64_MAX, freed = 77;
    assert_ok(vram_heap_alloc(h, 256, 0, &blk));
    assert_ok(vram_tensor_cache_adopt(tc, &first, blk)); /* shape 0 */
    assert_ok(vram_tensor_cache_reserve(tc, &second, 2)); /* shape 1 */
    EXPECT_CACHE_CLEAN(tc);
    assert_ok(vram_heap_free(h, blk));
    expect_status(vram_tensor_cache_trim(tc, NULL, &freed), VRAM_EDOUBLEFREE);
    expect_eq_u64(freed, 0);
    vram_tensor_cache_stats s = test_cache_stats(tc);
    expect_eq_u64(s.idle_buffers, 3);
    expect_eq_u64(s.shapes, 2);
    expect_eq_u64(heap_live(h), 2);

    uint64_t again = UINT64_MAX;
    assert_ok(vram_heap_alloc(h, 256, 0, &again)); /* the block is live again */
    expect_eq_u64(again, blk);
    EXPECT_CACHE_CLEAN(tc);
    assert_ok(vram_tensor_cache_trim(tc, NULL, &freed));
    expect_eq_u64(freed, 256 + 2 * KIB);
    expect_eq_u64(heap_live(h), 0);
    expect_eq_u64(test_cache_stats(tc).shapes, 0);
    EXPECT_CACHE_CLEAN(tc);
    vram_tensor_cache_destroy(tc);
    vram_heap_destroy(h);
}

/* Shapes differing in rank, dtype or dims are distinct keys, however many. */
static vram_tensor_shape many_shape(int k)
{
    vram_tensor_shape s = {.ndim = (uint32_t)(k % (VRAM_TENSOR_MAX_DIMS + 1)),
                           .dtype = (vram_dtype)(k % VRAM_DTYPE_COUNT)};
    for (uint32_t i = 0; i < s.ndim; i++)
        s.dims[i] = i == 0 ? (uint64_t)(k / 9 + 1) : 1;
    return s;
}

static void test_many_shapes(void)
{
    enum { N = 99 }; /* k and k + 99 would be one key */
    vram_heap *h = make_heap(4 * MIB);
    vram_tensor_cache *tc = test_cache(h, MIB);
    uint64_t offs[N];
    for (int k = 0; k < N; k++) {
        vram_tensor_shape s = many_shape(k);
        assert_ok(vram_tensor_cache_reserve(tc, &s, 1));
    }
    expect_eq_u64(test_cache_stats(tc).shapes, N);
    EXPECT_CACHE_CLEAN(tc);
    for (int k = 0; k < N; k++) {
        vram_tensor_shape s = many_shape(k);
        assert_ok(vram_tensor_cache_acquire(tc, &s, &offs[k]));
        for (int j = 0; j < k; j++)
            expect_true(offs[j] != offs[k]);
        /* its one buffer is out: the shape has none left */
        uint64_t none = 0;
        expect_status(vram_tensor_cache_acquire(tc, &s, &none), VRAM_ENOTFOUND);
    }
    vram_tensor_cache_stats st = test_cache_stats(tc);
    expect_eq_u64(st.hits, N);
    expect_eq_u64(st.misses, N);
    expect_eq_u64(st.out_buffers, N);
    EXPECT_CACHE_CLEAN(tc);
    for (int k = 0; k < N; k++)
        assert_ok(vram_tensor_cache_release(tc, offs[k]));
    for (int k = N - 1; k >= 0; k--) { /* the same buffer comes back for each shape */
        vram_tensor_shape s = many_shape(k);
        uint64_t off = UINT64_MAX;
        assert_ok(vram_tensor_cache_acquire(tc, &s, &off));
        expect_eq_u64(off, offs[k]);
    }
    EXPECT_CACHE_CLEAN(tc);
    vram_tensor_cache_destroy(tc);
    expect_eq_u64(heap_live(h), 0);
    vram_heap_destroy(h);
}

/* Seeded random adopt/acquire/release/trim against a shadow of each shape's
 * idle and handed-out buffers, check() after every operation. */
enum { RSHAPES = 3, RMAX = 96 };

typedef struct shadow {
    uint64_t out[RMAX];
    int nout;
    uint64_t idle[RSHAPES], outs[RSHAPES];
} shadow;

static void test_random(uint64_t seed)
{
    printf("random: seed %" PRIu64 "\n", seed);
    uint64_t rng = seed;
    vram_heap *h = make_heap(4 * MIB);
    vram_tensor_cache *tc = test_cache(h, 64 * KIB);
    vram_tensor_shape shapes[RSHAPES] = {vec(64, VRAM_DTYPE_F32), vec(300, VRAM_DTYPE_U8),
                                         vec(2048, VRAM_DTYPE_I32)};
    uint64_t bytes[RSHAPES] = {256, 300, 8192};
    int shape_of[RMAX];
    shadow sh = {0};
    int failures_before = test_failures;
    for (int i = 0; i < 4000; i++) {
        uint64_t r = test_rand(&rng) % 100;
        int k = (int)(test_rand(&rng) % RSHAPES);
        if (r < 40) {
            uint64_t blk;
            assert_ok(vram_heap_alloc(h, bytes[k], 0, &blk));
            vram_tensor_cache_stats s = test_cache_stats(tc);
            vram_status st = vram_tensor_cache_adopt(tc, &shapes[k], blk);
            if (s.idle_bytes + s.out_bytes + bytes[k] > 64 * KIB) {
                expect_status(st, VRAM_ENOMEM);
                assert_ok(vram_heap_free(h, blk));
            } else {
                expect_status(st, VRAM_OK);
                sh.idle[k]++;
            }
        } else if (r < 65) {
            uint64_t off;
            vram_status st = vram_tensor_cache_acquire(tc, &shapes[k], &off);
            if (!sh.idle[k] || sh.nout == RMAX) {
                expect_status(st, sh.idle[k] ? VRAM_OK : VRAM_ENOTFOUND);
                if (!st)
                    assert_ok(vram_tensor_cache_release(tc, off));
            } else {
                expect_status(st, VRAM_OK);
                sh.idle[k]--;
                sh.outs[k]++;
                shape_of[sh.nout] = k;
                sh.out[sh.nout++] = off;
            }
        } else if (r < 90) {
            if (sh.nout) {
                int j = (int)(test_rand(&rng) % (uint64_t)sh.nout);
                assert_ok(vram_tensor_cache_release(tc, sh.out[j]));
                sh.idle[shape_of[j]]++;
                sh.outs[shape_of[j]]--;
                sh.out[j] = sh.out[--sh.nout];
                shape_of[j] = shape_of[sh.nout];
            }
        } else {
            uint64_t freed = 0;
            assert_ok(vram_tensor_cache_trim(tc, r < 97 ? &shapes[k] : NULL, &freed));
            uint64_t want = 0;
            for (int j = 0; j < RSHAPES; j++)
                if (r >= 97 || j == k) {
                    want += sh.idle[j] * bytes[j];
                    sh.idle[j] = 0;
                }
            expect_eq_u64(freed, want);
        }
        vram_tensor_cache_stats s = test_cache_stats(tc);
        uint64_t idle = 0, out = 0, nidle = 0;
        for (int j = 0; j < RSHAPES; j++) {
            idle += sh.idle[j] * bytes[j];
            out += sh.outs[j] * bytes[j];
            nidle += sh.idle[j];
        }
        expect_eq_u64(s.idle_bytes, idle);
        expect_eq_u64(s.out_bytes, out);
        expect_eq_u64(s.idle_buffers, nidle);
        expect_eq_u64(s.out_buffers, (uint64_t)sh.nout);
        EXPECT_CACHE_CLEAN(tc);
        if (test_failures > failures_before) {
            fprintf(stderr, "random: seed %" PRIu64 " failed at op %d\n", seed, i);
            break;
        }
    }
    vram_tensor_cache_destroy(tc);
    expect_eq_u64(heap_live(h), 0);
    vram_heap_destroy(h);
}

int main(void)
{
    test_dtypes_and_bytes();
    test_create_refusals();
    test_call_refusals();
    test_reserve_all_or_none();
    test_trim_refused();
    test_many_shapes();
    test_random(1);
    test_random(0x5eed);
    return test_finish("tensor_cache_edges");
}
