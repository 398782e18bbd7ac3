/* test_caching_edges.c - the caching policy's error paths and rare branches
 * through the public API: vram_heap_caching_stats' refusals, what
 * vram_heap_caching_reserved reads and refuses, every error of
 * the PYTORCH_CUDA_ALLOC_CONF parser, the small expandable segment unmapping
 * its whole free tail behind a used block, and the release of several
 * oversize segments that together make room. */
#include "test_heap_lib.h"
#include "vram/caching.h"

#define MIB (UINT64_C(1) << 20)

static vram_heap *make(uint64_t capacity, uint64_t max_split, int expandable)
{
    vram_caching_options o = {.max_split_size = max_split, .expandable_segments = expandable};
    vram_heap_config cfg = {.capacity = capacity, .caching = &o};
    vram_heap *h = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("caching"), &cfg, &h));
    return h;
}

static void expect_healthy(const vram_heap *h)
{
    char msg[256];
    vram_status st = vram_heap_check(h, msg, sizeof msg);
    if (st)
        fprintf(stderr, "check: %s\n", msg);
    expect_status(st, VRAM_OK);
}

static vram_caching_stats cstats(const vram_heap *h)
{
    vram_caching_stats s;
    assert_ok(vram_heap_caching_stats(h, &s));
    return s;
}

static void test_stats_refusals(void)
{
    vram_heap *h = make(64 * MIB, 0, 0);
    vram_caching_stats s = {.segments = 7};
    expect_status(vram_heap_caching_stats(NULL, &s), VRAM_EINVAL);
    expect_status(vram_heap_caching_stats(h, NULL), VRAM_EINVAL);
    expect_eq_u64(s.segments, 7);
    vram_heap_config cfg = {.capacity = 64 * MIB};
    vram_heap *bf = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("bestfit"), &cfg, &bf));
    expect_status(vram_heap_caching_stats(bf, &s), VRAM_EMISMATCH);
    expect_eq_u64(s.segments, 7); /* untouched on failure */
    vram_heap_destroy(bf);
    vram_heap_destroy(h);
}

/* vram_heap_caching_reserved gives what vram_heap_caching_stats reports. */
static void expect_reserved(const vram_heap *h, uint64_t reserved, uint64_t allocated)
{
    uint64_t r = 0, a = 0;
    assert_ok(vram_heap_caching_reserved(h, &r, &a));
    vram_caching_stats s = cstats(h);
    expect_eq_u64(r, s.reserved);
    expect_eq_u64(a, s.allocated);
    expect_eq_u64(r, reserved);
    expect_eq_u64(a, allocated);
}

static void test_reserved(void)
{
    vram_heap *h = make(64 * MIB, 0, 0);
    expect_reserved(h, 0, 0);
    uint64_t small = test_heap_alloc(h, 1000); /* 1024 B of a 2 MiB small segment */
    expect_reserved(h, 2 * MIB, 1024);
    uint64_t large = test_heap_alloc(h, 3 * MIB); /* a 20 MiB large segment */
    expect_reserved(h, 22 * MIB, 3 * MIB + 1024);
    assert_ok(vram_heap_free(h, small)); /* cached: reserved stays */
    expect_reserved(h, 22 * MIB, 3 * MIB);
    assert_ok(vram_heap_caching_empty_cache(h)); /* the small segment goes */
    expect_reserved(h, 20 * MIB, 3 * MIB);
    assert_ok(vram_heap_free(h, large));
    expect_reserved(h, 20 * MIB, 0);

    uint64_t r = 7, a = 9;
    expect_status(vram_heap_caching_reserved(NULL, &r, &a), VRAM_EINVAL);
    expect_status(vram_heap_caching_reserved(h, NULL, &a), VRAM_EINVAL);
    expect_status(vram_heap_caching_reserved(h, &r, NULL), VRAM_EINVAL);
    vram_heap_config cfg = {.capacity = 64 * MIB};
    vram_heap *bf = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("bestfit"), &cfg, &bf));
    expect_eq_u64(test_heap_alloc(bf, MIB), 0);
    expect_status(vram_heap_caching_reserved(bf, &r, &a), VRAM_EMISMATCH);
    expect_eq_u64(r, 7); /* untouched on failure */
    expect_eq_u64(a, 9);
    vram_heap_destroy(bf);
    vram_heap_destroy(h);
}

typedef struct conf_case {
    const char *conf;
    vram_status want;
    const char *err; /* the whole message */
} conf_case;

static void test_conf_errors(void)
{
    static const conf_case cases[] = {
        {":5", VRAM_EINVAL, "':5': expected key:value"},
        {"max_split_size_mb:", VRAM_EINVAL, "'max_split_size_mb:': expected key:value"},
        {"expandable_segments:True,,", VRAM_EINVAL, "'': expected key:value"},
        {"max_split_size_mb:1000000000000000000000000000000000000000000000000000000000000000000",
         VRAM_EINVAL,
         "'max_split_size_mb:1000000000000000000000000000000000000000000000000000000000000000000'"
         ": value too long"},
        {"max_split_size_mb:99999999999999999999999", VRAM_EINVAL,
         "'max_split_size_mb:99999999999999999999999': max_split_size_mb must be an integer > 20"},
        {"max_split_size_mb:17592186044416", VRAM_EINVAL, /* 2^44 MiB: 2^64 bytes */
         "'max_split_size_mb:17592186044416': max_split_size_mb must be an integer > 20"},
        {"max_split_size_mb:-64", VRAM_EINVAL,
         "'max_split_size_mb:-64': max_split_size_mb must be an integer > 20"},
        {"max_split_size_mb:64x", VRAM_EINVAL,
         "'max_split_size_mb:64x': max_split_size_mb must be an integer > 20"},
        {"garbage_collection_threshold:0.5x", VRAM_EINVAL,
         "'garbage_collection_threshold:0.5x': garbage_collection_threshold must be in (0, 1)"},
        {"garbage_collection_threshold:0", VRAM_EINVAL,
         "'garbage_collection_threshold:0': garbage_collection_threshold must be in (0, 1)"},
        {"garbage_collection_threshold:1e-400", VRAM_EINVAL, /* underflows: ERANGE */
         "'garbage_collection_threshold:1e-400': garbage_collection_threshold must be in (0, 1)"},
        /* as long as a known key, but another */
        {"expandable_segmentz:True", VRAM_EUNSUPPORTED,
         "'expandable_segmentz:True': key not modelled by the caching policy"},
        {"backenx:native", VRAM_EUNSUPPORTED,
         "'backenx:native': key not modelled by the caching policy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vram_caching_options o = {.max_split_size = 99, .gc_threshold = 0.5};
        char err[256] = "";
        vram_status st = vram_caching_options_parse(cases[i].conf, &o, err, sizeof err);
        if (st != cases[i].want || strcmp(err, cases[i].err) != 0) {
            fprintf(stderr, "conf \"%s\": %s \"%s\", wanted %s \"%s\"\n", cases[i].conf,
                    vram_strerror(st), err, vram_strerror(cases[i].want), cases[i].err);
            test_failures++;
        }
        expect_eq_u64(o.max_split_size, 99); /* *out untouched on failure */
    }

    /* no room for the message, or no buffer at all: the status alone */
    vram_caching_options o = {0};
    char err[8] = "keep";
    expect_status(vram_caching_options_parse(":5", &o, err, 0), VRAM_EINVAL);
    expect_true(strcmp(err, "keep") == 0);
    expect_status(vram_caching_options_parse(":5", &o, NULL, 64), VRAM_EINVAL);
    char big[64];
    expect_status(vram_caching_options_parse(NULL, &o, big, sizeof big), VRAM_EINVAL);
    expect_true(strcmp(big, "no configuration string or output") == 0);
    expect_status(vram_caching_options_parse("", NULL, big, sizeof big), VRAM_EINVAL);
}

static void test_conf_accepts(void)
{
    vram_caching_options o = {.max_split_size = 1};
    char err[128] = "";
    assert_ok(vram_caching_options_parse("expandable_segments:True,expandable_segments:False,"
                                         "garbage_collection_threshold:0.25,max_split_size_mb:64,",
                                         &o, err, sizeof err));
    expect_eq_u64(o.expandable_segments, 0);
    expect_eq_u64(o.max_split_size, 64 * MIB);
    expect_true(o.gc_threshold == 0.25);
    /* every key that changes nothing about where memory goes */
    assert_ok(vram_caching_options_parse("backend:native,release_lock_on_cudamalloc:True,"
                                         "pinned_use_cuda_host_register:True,"
                                         "pinned_num_register_threads:8,"
                                         "pinned_use_background_threads:True",
                                         &o, NULL, 0));
    expect_eq_u64(o.max_split_size, 0);
    expect_eq_u64(o.expandable_segments, 0);
    expect_true(o.gc_threshold == 0.0);
}

typedef struct walk_log {
    int n;
    vram_block_info b[8];
} walk_log;

static int log_block(const vram_block_info *b, void *ctx)
{
    walk_log *w = ctx;
    if (w->n < 8)
        w->b[w->n] = *b;
    w->n++;
    return 0;
}

/* The small expandable segment's free tail starts on a page boundary behind a
 * used block: the release before the last retry unmaps it whole and the used
 * block becomes the segment's last. */
static void test_small_tail_unmapped_whole(void)
{
    vram_heap *h = make(24 * MIB, 0, 1);
    expect_eq_u64(test_heap_alloc(h, MIB), 0);
    expect_eq_u64(test_heap_alloc(h, MIB), MIB);
    uint64_t c = test_heap_alloc(h, MIB);
    expect_eq_u64(c, 2 * MIB);
    expect_eq_u64(cstats(h).reserved, 4 * MIB);
    assert_ok(vram_heap_free(h, c));
    expect_healthy(h);

    /* 21 MiB needs two 20 MiB pages of the large pool: never room in 24 MiB */
    uint64_t off = 77;
    expect_status(vram_heap_alloc(h, 21 * MIB, 0, &off), VRAM_ENOMEM);
    expect_eq_u64(off, 77);
    vram_caching_stats s = cstats(h);
    expect_eq_u64(s.reserved, 2 * MIB);
    expect_eq_u64(s.allocated, 2 * MIB);
    expect_eq_u64(s.unmaps, 1);
    expect_eq_u64(s.unmap_bytes, 2 * MIB);
    expect_eq_u64(s.alloc_retries, 1);
    expect_eq_u64(s.ooms, 1);
    expect_eq_u64(s.segments, 1);
    expect_eq_u64(s.cached_blocks, 0);
    expect_healthy(h);
    walk_log w = {0};
    assert_ok(vram_heap_walk(h, log_block, &w));
    expect_eq_u64(w.n, 3); /* two used blocks, then the unreserved rest */
    expect_true(w.b[0].used && w.b[1].used && !w.b[2].used);
    expect_eq_u64(w.b[1].offset + w.b[1].size, 2 * MIB);
    expect_eq_u64(w.b[2].size, 22 * MIB);

    /* the segment grows again from its used end */
    expect_eq_u64(test_heap_alloc(h, MIB), 2 * MIB);
    expect_eq_u64(cstats(h).reserved, 4 * MIB);
    expect_healthy(h);
    vram_heap_destroy(h);
}

/* No single cached oversize segment is worth the request, the two largest
 * (by size, then offset) together are: those two are released, the third
 * stays cached, and the retry succeeds without releasing everything. */
static void test_oversize_release_adds_up(void)
{
    vram_heap *h = make(72 * MIB, 22 * MIB, 0);
    uint64_t a = test_heap_alloc(h, 24 * MIB), b = test_heap_alloc(h, 24 * MIB), d = test_heap_alloc(h, 24 * MIB);
    expect_eq_u64(a, 0);
    expect_eq_u64(b, 24 * MIB);
    expect_eq_u64(d, 48 * MIB);
    assert_ok(vram_heap_free(h, a));
    assert_ok(vram_heap_free(h, b));
    assert_ok(vram_heap_free(h, d));
    vram_caching_stats s = cstats(h);
    expect_eq_u64(s.cached_blocks, 3);
    expect_eq_u64(s.reserved, 72 * MIB);

    expect_eq_u64(test_heap_alloc(h, 40 * MIB), 24 * MIB); /* where b and d were */
    s = cstats(h);
    expect_eq_u64(s.segment_frees, 2);
    expect_eq_u64(s.segment_free_bytes, 48 * MIB);
    expect_eq_u64(s.alloc_retries, 0);
    expect_eq_u64(s.reserved, 64 * MIB);
    expect_eq_u64(s.cached_blocks, 1); /* a */
    expect_eq_u64(s.largest_cached, 24 * MIB);
    expect_eq_u64(s.segments, 2);
    expect_healthy(h);
    vram_heap_destroy(h);
}

int main(void)
{
    test_stats_refusals();
    test_reserved();
    test_conf_errors();
    test_conf_accepts();
    test_small_tail_unmapped_whole();
    test_oversize_release_adds_up();
    return test_finish("caching_edges");
}
