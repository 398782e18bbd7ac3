/* test_prefix_cache.c - vram_prefix_cache (vram/prefix_cache.h) and the
 * reference hit counts of sim/replay/prefix_ref.h:
 *   - hand-made block streams with known LRU and Belady hit counts (textbook
 *     and worked by hand), and the module's own hits on them;
 *   - each policy's eviction order on a small case;
 *   - refcounts, lookups, inserts, the host tier and the pool heap;
 *   - bad input refused, with nothing changed;
 *   - random request streams: the module's "lru" equals the reference LRU on
 *     one-block chains, and no policy beats Belady;
 *   - the batch calls (alloc_n, insert_n) against the single calls on two
 *     caches fed the same random requests: the same blocks, statuses, block
 *     states and counters; and their bad input refused, nothing changed.
 * check() runs after every step. VRAM_TEST_SEED overrides the random seed. */
#include "prefix_ref.h"
#include "testlib.h"
#include "vram/vram.h"

#define EXPECT_PC_CLEAN(pc)                                                                        \
    do {                                                                                           \
        char msg_[256];                                                                            \
        vram_status st_ = vram_prefix_cache_check((pc), msg_, sizeof msg_);                        \
        if (st_) {                                                                                 \
            fprintf(stderr, "%s:%d: FAILED: check(): %s\n", __FILE__, __LINE__, msg_);             \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

static vram_prefix_cache *make(const char *policy, uint32_t blocks, uint32_t host)
{
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = blocks,
                                    .block_bytes = 1u << 20, .policy = policy,
                                    .host_blocks = host};
    vram_prefix_cache *pc = NULL;
    assert_ok(vram_prefix_cache_create(&cfg, &pc));
    EXPECT_PC_CLEAN(pc);
    return pc;
}

/* One request: acquire the chain, compute (alloc + insert) the blocks that
 * missed, then release all of it. Returns the blocks that hit. */
static size_t run_request(vram_prefix_cache *pc, const uint64_t *chain, size_t n, int priority)
{
    uint32_t blocks[64];
    size_t hits = 0;
    assert_true(n <= 64);
    assert_ok(vram_prefix_cache_acquire(pc, chain, n, priority, blocks, &hits));
    for (size_t i = hits; i < n; i++) {
        int cached;
        assert_ok(vram_prefix_cache_alloc(pc, &blocks[i]));
        assert_ok(vram_prefix_cache_insert(pc, blocks[i], i ? blocks[i - 1] : VRAM_PREFIX_NONE,
                                           chain[i], priority, &cached));
    }
    assert_ok(vram_prefix_cache_release(pc, blocks, n));
    EXPECT_PC_CLEAN(pc);
    return hits;
}

/* The victims' hashes, in order, until nothing is evictable. */
static size_t drain(vram_prefix_cache *pc, uint64_t *out, size_t max)
{
    size_t k = 0;
    uint64_t h;
    while (k < max && vram_prefix_cache_evict(pc, &h) == VRAM_OK) {
        out[k++] = h;
        EXPECT_PC_CLEAN(pc);
    }
    return k;
}

#define EXPECT_ORDER(got, n, ...)                                                                  \
    do {                                                                                           \
        const uint64_t want_[] = {__VA_ARGS__};                                                    \
        size_t nw_ = sizeof want_ / sizeof want_[0];                                               \
        expect_eq_u64((n), nw_);                                                                   \
        for (size_t i_ = 0; i_ < nw_ && i_ < (n); i_++)                                            \
            expect_eq_u64((got)[i_], want_[i_]);                                                   \
    } while (0)

/* --- references on hand-made streams --- */

/* The textbook reference string (Belady's anomaly string; Silberschatz): at 3
 * frames LRU faults 10 times and OPT 7; at 4 frames LRU 8 and OPT 6. */
static const uint64_t textbook[] = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};
#define NTEXT (sizeof textbook / sizeof textbook[0])

static void test_references_textbook(void)
{
    uint64_t h;
    assert_ok(vprefix_ref_lru(textbook, NTEXT, 3, &h));
    expect_eq_u64(h, NTEXT - 10);
    assert_ok(vprefix_ref_belady(textbook, NTEXT, 3, &h));
    expect_eq_u64(h, NTEXT - 7);
    assert_ok(vprefix_ref_lru(textbook, NTEXT, 4, &h));
    expect_eq_u64(h, NTEXT - 8);
    assert_ok(vprefix_ref_belady(textbook, NTEXT, 4, &h));
    expect_eq_u64(h, NTEXT - 6);
    assert_ok(vprefix_ref_unlimited(textbook, NTEXT, &h));
    expect_eq_u64(h, NTEXT - 5);
    /* capacity 0 and capacity beyond the distinct keys */
    assert_ok(vprefix_ref_lru(textbook, NTEXT, 0, &h));
    expect_eq_u64(h, 0);
    assert_ok(vprefix_ref_belady(textbook, NTEXT, 0, &h));
    expect_eq_u64(h, 0);
    assert_ok(vprefix_ref_lru(textbook, NTEXT, 100, &h));
    expect_eq_u64(h, NTEXT - 5);
    assert_ok(vprefix_ref_belady(textbook, NTEXT, 5, &h));
    expect_eq_u64(h, NTEXT - 5);
    /* an empty stream, and bad arguments */
    assert_ok(vprefix_ref_belady(NULL, 0, 3, &h));
    expect_eq_u64(h, 0);
    expect_status(vprefix_ref_lru(NULL, 1, 3, &h), VRAM_EINVAL);
    expect_status(vprefix_ref_belady(textbook, NTEXT, 3, NULL), VRAM_EINVAL);
    expect_status(vprefix_ref_unlimited(NULL, 2, &h), VRAM_EINVAL);

    /* The module on one-block chains is demand caching too: "lru" and "vllm"
     * count exactly the reference LRU's hits. */
    for (int cap = 3; cap <= 4; cap++) {
        uint64_t ref;
        assert_ok(vprefix_ref_lru(textbook, NTEXT, (uint64_t)cap, &ref));
        const char *pols[] = {"lru", "vllm"};
        for (int p = 0; p < 2; p++) {
            vram_prefix_cache *pc = make(pols[p], (uint32_t)cap, 0);
            uint64_t got = 0;
            for (size_t i = 0; i < NTEXT; i++)
                got += run_request(pc, &textbook[i], 1, 0);
            expect_eq_u64(got, ref);
            vram_prefix_cache_destroy(pc);
        }
    }
}

/* Requests A = [a0 a1], B = [a0 b1], C = [c0], then A and B again; the
 * stream of keys is a0 a1 a0 b1 c0 a0 a1 a0 b1. At 3 blocks, worked by hand:
 * LRU hits a0 three times (3); Belady does not cache c0 (never used again)
 * and hits a0 a1 a0 b1 after it (5, all there is: unlimited is 9 - 4 = 5).
 * The module's "vllm" policy, with prefix lookups, hits a0 three times. */
enum { A0 = 10, A1 = 11, B1 = 21, C0 = 30 };

static void test_references_prefix_stream(void)
{
    const uint64_t stream[] = {A0, A1, A0, B1, C0, A0, A1, A0, B1};
    uint64_t h;
    assert_ok(vprefix_ref_lru(stream, 9, 3, &h));
    expect_eq_u64(h, 3);
    assert_ok(vprefix_ref_belady(stream, 9, 3, &h));
    expect_eq_u64(h, 5);
    assert_ok(vprefix_ref_unlimited(stream, 9, &h));
    expect_eq_u64(h, 5);

    const uint64_t a[] = {A0, A1}, b[] = {A0, B1}, c[] = {C0};
    for (const char *const *p = vram_prefix_policy_names; *p; p++) {
        vram_prefix_cache *pc = make(*p, 3, 0);
        size_t got = run_request(pc, a, 2, 0) + run_request(pc, b, 2, 0) +
                     run_request(pc, c, 1, 0) + run_request(pc, a, 2, 0) +
                     run_request(pc, b, 2, 0);
        expect_eq_u64(got, 3); /* every policy: a0 is hit by B, A and B */
        vram_prefix_cache_stats st;
        vram_prefix_cache_stats_get(pc, &st);
        expect_eq_u64(st.lookups, 5);
        expect_eq_u64(st.lookup_blocks, 9);
        expect_eq_u64(st.hit_blocks, 3);
        expect_eq_u64(st.evictions, 3); /* a1, b1 and c0 made room */
        vram_prefix_cache_destroy(pc);
    }
}

/* --- eviction order per policy --- */

/* vLLM: a finished request's blocks join the free queue's tail last to
 * first, so its deepest block goes first; a later request's blocks go after. */
static void test_order_vllm(void)
{
    vram_prefix_cache *pc = make("vllm", 8, 0);
    const uint64_t x[] = {100, 101, 102}, y[] = {200, 201};
    run_request(pc, x, 3, 0);
    run_request(pc, y, 2, 0);
    uint64_t got[8];
    size_t n = drain(pc, got, 8);
    EXPECT_ORDER(got, n, 102, 101, 100, 201, 200);

    /* A hit takes a block out of the queue; its release puts it at the tail. */
    run_request(pc, x, 3, 0);
    run_request(pc, y, 2, 0);
    run_request(pc, x, 1, 0); /* x0 again */
    n = drain(pc, got, 8);
    EXPECT_ORDER(got, n, 102, 101, 201, 200, 100);

    /* A parent released before its child (vLLM frees blocks that leave a
     * sliding window early): the queue evicts the parent, the child's chain
     * is then unreachable. */
    uint32_t p, c;
    int cached;
    assert_ok(vram_prefix_cache_alloc(pc, &p));
    assert_ok(vram_prefix_cache_insert(pc, p, VRAM_PREFIX_NONE, 300, 0, &cached));
    assert_ok(vram_prefix_cache_alloc(pc, &c));
    assert_ok(vram_prefix_cache_insert(pc, c, p, 301, 0, &cached));
    assert_ok(vram_prefix_cache_release(pc, &p, 1));
    EXPECT_PC_CLEAN(pc);
    uint64_t h = 0;
    uint32_t v = 99;
    assert_ok(vram_prefix_cache_evict_block(pc, &v, &h));
    expect_true(h == 300 && v == p);
    size_t dev = 9;
    const uint64_t chain[] = {300, 301};
    assert_ok(vram_prefix_cache_lookup(pc, chain, 2, &dev, NULL));
    expect_eq_u64(dev, 0);
    assert_ok(vram_prefix_cache_release(pc, &c, 1));
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_destroy(pc);
}

/* The leaf-only policies in the same parent-first case: nothing is evictable
 * while the child is held. */
static void test_leaf_only_parent(const char *policy)
{
    vram_prefix_cache *pc = make(policy, 4, 0);
    uint32_t p, c;
    int cached;
    assert_ok(vram_prefix_cache_alloc(pc, &p));
    assert_ok(vram_prefix_cache_insert(pc, p, VRAM_PREFIX_NONE, 300, 0, &cached));
    assert_ok(vram_prefix_cache_alloc(pc, &c));
    assert_ok(vram_prefix_cache_insert(pc, c, p, 301, 0, &cached));
    assert_ok(vram_prefix_cache_release(pc, &p, 1));
    EXPECT_PC_CLEAN(pc);
    expect_status(vram_prefix_cache_evict(pc, NULL), VRAM_ENOTFOUND);
    vram_prefix_block_info info;
    assert_ok(vram_prefix_cache_block_get(pc, p, &info));
    expect_true(info.cached && !info.evictable && info.children == 1 && info.refs == 0);
    assert_ok(vram_prefix_cache_release(pc, &c, 1));
    EXPECT_PC_CLEAN(pc);
    uint64_t got[4];
    size_t n = drain(pc, got, 4);
    EXPECT_ORDER(got, n, 301, 300); /* the child, then the parent it left a leaf */
    vram_prefix_cache_destroy(pc);
}

/* lru: A = [a0 a1 a2] released first, B = [b0] next, then a0 hit again: the
 * leaves a2 (oldest), a1 (a leaf once a2 went; A's release stamp), b0, a0. */
static void test_order_lru(void)
{
    vram_prefix_cache *pc = make("lru", 8, 0);
    const uint64_t a[] = {100, 101, 102}, b[] = {200};
    run_request(pc, a, 3, 0);
    run_request(pc, b, 1, 0);
    expect_eq_u64(run_request(pc, a, 1, 0), 1);
    uint64_t got[8];
    size_t n = drain(pc, got, 8);
    EXPECT_ORDER(got, n, 102, 101, 200, 100);
    vram_prefix_cache_destroy(pc);
    test_leaf_only_parent("lru");
}

/* lfu: the fewest hits first, then the least recently accessed. a is hit
 * three times, b once, c twice, d never: d, b, c, a. */
static void test_order_lfu(void)
{
    vram_prefix_cache *pc = make("lfu", 8, 0);
    const uint64_t a[] = {1}, b[] = {2}, c[] = {3}, d[] = {4};
    run_request(pc, a, 1, 0);
    run_request(pc, b, 1, 0);
    run_request(pc, c, 1, 0);
    run_request(pc, d, 1, 0);
    for (int i = 0; i < 3; i++)
        run_request(pc, a, 1, 0);
    run_request(pc, c, 1, 0);
    run_request(pc, b, 1, 0);
    run_request(pc, c, 1, 0);
    uint64_t got[8];
    size_t n = drain(pc, got, 8);
    EXPECT_ORDER(got, n, 4, 2, 3, 1);
    vram_prefix_cache_destroy(pc);
    test_leaf_only_parent("lfu");

    /* More hit counts than the policy keeps lists for (64): block k is hit k
     * times, the releases in a shuffled order, so classes arrive out of order
     * and some go to the side heap; victims still go by hits. */
    enum { K = 80 };
    pc = make("lfu", K, 0);
    uint64_t order[K], s = 7;
    for (uint64_t k = 0; k < K; k++)
        order[k] = k;
    for (uint64_t k = K - 1; k > 0; k--) {
        uint64_t j = test_rand(&s) % (k + 1), t = order[k];
        order[k] = order[j];
        order[j] = t;
    }
    for (uint64_t k = 0; k < K; k++) {
        uint64_t key = 1000 + order[k];
        for (uint64_t h = 0; h <= order[k]; h++) /* the first computes it: order[k] hits */
            run_request(pc, &key, 1, 0);
    }
    uint64_t all[K];
    n = drain(pc, all, K);
    expect_eq_u64(n, K);
    for (uint64_t k = 0; k < n; k++)
        expect_eq_u64(all[k], 1000 + k);
    vram_prefix_cache_destroy(pc);
}

/* priority: the lowest priority first, then the least recently accessed; a
 * block's priority is the highest of the requests that used it. */
static void test_order_priority(void)
{
    vram_prefix_cache *pc = make("priority", 8, 0);
    const uint64_t a[] = {1}, b[] = {2}, c[] = {3}, d[] = {4};
    run_request(pc, a, 1, 5);
    run_request(pc, b, 1, 1);
    run_request(pc, c, 1, 1);
    run_request(pc, d, 1, -3);
    run_request(pc, b, 1, 7); /* b is raised to 7 */
    run_request(pc, a, 1, 0); /* a stays at 5 */
    uint32_t blk;
    size_t hits;
    assert_ok(vram_prefix_cache_acquire(pc, b, 1, 0, &blk, &hits));
    vram_prefix_block_info info;
    assert_ok(vram_prefix_cache_block_get(pc, blk, &info));
    expect_true(info.priority == 7 && info.hits == 2);
    assert_ok(vram_prefix_cache_release(pc, &blk, 1));
    uint64_t got[8];
    size_t n = drain(pc, got, 8);
    EXPECT_ORDER(got, n, 4, 3, 1, 2);
    vram_prefix_cache_destroy(pc);
    test_leaf_only_parent("priority");
}

/* The keyed policies' side heap, driven directly: block 0 (stamp 100) is the
 * list's tail, so stamps 1, 10, 2, 11, 12, 3, 4 all go to the heap, as
 * [1 10 2 11 12 3 4]; removing 11 (a hit on it) moves 4 into its place and
 * then up past 10. Victims then go 1 2 3 4 10 12, then the list's 100. */
static void test_side_heap(void)
{
    const vram_prefix_policy_ops *ops = vram_prefix_policy("lru");
    void *impl;
    assert_ok(ops->create(8, &impl));
    const uint64_t stamps[] = {100, 1, 10, 2, 11, 12, 3, 4};
    for (uint32_t b = 0; b < 8; b++) {
        vram_prefix_item it = {.stamp = stamps[b]};
        ops->insert(impl, b, &it);
    }
    char msg[256];
    assert_ok(ops->check(impl, msg, sizeof msg));
    ops->remove(impl, 4); /* stamp 11 */
    assert_ok(ops->check(impl, msg, sizeof msg));
    expect_eq_u64(ops->count(impl), 7);
    expect_true(!ops->member(impl, 4) && ops->member(impl, 7));
    const uint32_t want[] = {1, 3, 6, 7, 2, 5, 0};
    for (int i = 0; i < 7; i++) {
        /* peek gives every member, the first three exactly in pop's order */
        uint32_t v = 99, next[8];
        expect_eq_u64((uint64_t)ops->peek(impl, next, 8), (uint64_t)(7 - i));
        for (int k = 0; k < 3 && i + k < 7; k++)
            expect_eq_u64(next[k], want[i + k]);
        assert_true(ops->pop(impl, &v));
        expect_eq_u64(v, want[i]);
        assert_ok(ops->check(impl, msg, sizeof msg));
    }
    uint32_t v, none[2];
    expect_true(!ops->pop(impl, &v) && ops->peek(impl, none, 2) == 0);
    ops->destroy(impl);
}

/* --- refcounts, lookups, inserts --- */

static void test_refcounts_and_lookup(void)
{
    vram_prefix_cache *pc = make("vllm", 6, 0);
    const uint64_t chain[] = {11, 12, 13};
    run_request(pc, chain, 3, 0);
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(pc, &st);
    expect_true(st.cached_blocks == 3 && st.evictable_blocks == 3 && st.free_blocks == 3);

    /* Longest prefix: stops at the first miss, and a block matches only under
     * its parent hash. */
    size_t dev = 0, host = 9;
    const uint64_t l1[] = {11, 12, 99, 13}, l2[] = {11, 13}, l3[] = {99}, l4[] = {12};
    assert_ok(vram_prefix_cache_lookup(pc, l1, 4, &dev, &host));
    expect_true(dev == 2 && host == 0);
    assert_ok(vram_prefix_cache_lookup(pc, l2, 2, &dev, NULL));
    expect_eq_u64(dev, 1);
    assert_ok(vram_prefix_cache_lookup(pc, l3, 1, &dev, NULL));
    expect_eq_u64(dev, 0);
    assert_ok(vram_prefix_cache_lookup(pc, l4, 1, &dev, NULL));
    expect_eq_u64(dev, 0);
    assert_ok(vram_prefix_cache_lookup(pc, chain, 3, NULL, NULL));

    /* Two requests share the prefix: two references; the blocks stay held
     * until the second lets go. match walks as lookup does and counts the
     * hits no request holds. */
    uint32_t r1[3], r2[3];
    size_t h1, h2, idle = 9;
    assert_ok(vram_prefix_cache_match(pc, l1, 4, &dev, &idle));
    expect_true(dev == 2 && idle == 2);
    assert_ok(vram_prefix_cache_acquire(pc, chain, 2, 0, r2, &h2));
    assert_ok(vram_prefix_cache_match(pc, chain, 3, &dev, &idle));
    expect_true(dev == 3 && idle == 1);
    assert_ok(vram_prefix_cache_release(pc, r2, 2));
    assert_ok(vram_prefix_cache_match(pc, l3, 1, &dev, NULL));
    expect_eq_u64(dev, 0);
    expect_status(vram_prefix_cache_match(pc, l3, 1, NULL, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_match(pc, l4, 0, &dev, NULL), VRAM_EINVAL);
    assert_ok(vram_prefix_cache_acquire(pc, chain, 3, 0, r1, &h1));
    assert_ok(vram_prefix_cache_acquire(pc, chain, 2, 0, r2, &h2));
    expect_true(h1 == 3 && h2 == 2 && r1[0] == r2[0] && r1[1] == r2[1]);
    vram_prefix_block_info info;
    assert_ok(vram_prefix_cache_block_get(pc, r1[0], &info));
    expect_true(info.refs == 2 && info.cached && !info.evictable && info.depth == 0);
    assert_ok(vram_prefix_cache_block_get(pc, r1[2], &info));
    expect_true(info.refs == 1 && info.depth == 2 && info.parent_hash == 12);
    EXPECT_PC_CLEAN(pc);
    assert_ok(vram_prefix_cache_release(pc, r1, 3));
    assert_ok(vram_prefix_cache_block_get(pc, r1[0], &info));
    expect_true(info.refs == 1 && !info.evictable);
    assert_ok(vram_prefix_cache_block_get(pc, r1[2], &info));
    expect_true(info.refs == 0 && info.evictable);
    assert_ok(vram_prefix_cache_release(pc, r2, 2));
    EXPECT_PC_CLEAN(pc);

    /* Free blocks go before cached ones: three allocs take the three free
     * blocks and evict nothing; the fourth evicts the deepest block. */
    uint32_t b[4];
    for (int i = 0; i < 3; i++)
        assert_ok(vram_prefix_cache_alloc(pc, &b[i]));
    vram_prefix_cache_stats_get(pc, &st);
    expect_true(st.evictions == 0 && st.cached_blocks == 3 && st.free_blocks == 0);
    assert_ok(vram_prefix_cache_alloc(pc, &b[3]));
    expect_eq_u64(b[3], r1[2]);
    assert_ok(vram_prefix_cache_lookup(pc, chain, 3, &dev, NULL));
    expect_eq_u64(dev, 2);
    /* Uncached blocks released go back to the free list, most recent on top. */
    assert_ok(vram_prefix_cache_release(pc, b, 4));
    uint32_t again;
    assert_ok(vram_prefix_cache_alloc(pc, &again));
    expect_eq_u64(again, b[0]); /* released last (the list is dropped last to first) */
    assert_ok(vram_prefix_cache_release(pc, &again, 1));
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_destroy(pc);
}

static void test_duplicates_and_full(void)
{
    vram_prefix_cache *pc = make("lru", 3, 0);
    uint32_t a, b, c, d;
    int cached = -1;
    /* Two requests compute the same first block at once: the second is a
     * private duplicate and is freed, not cached, with its last reference. */
    assert_ok(vram_prefix_cache_alloc(pc, &a));
    assert_ok(vram_prefix_cache_alloc(pc, &b));
    assert_ok(vram_prefix_cache_insert(pc, a, VRAM_PREFIX_NONE, 42, 0, &cached));
    expect_eq_u64(cached, 1);
    assert_ok(vram_prefix_cache_insert(pc, b, VRAM_PREFIX_NONE, 42, 0, &cached));
    expect_eq_u64(cached, 0);
    /* A duplicate has a hash, so it can be a parent; its child is cached. */
    assert_ok(vram_prefix_cache_alloc(pc, &c));
    assert_ok(vram_prefix_cache_insert(pc, c, b, 43, 0, &cached));
    expect_eq_u64(cached, 1);
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(pc, &st);
    expect_true(st.duplicates == 1 && st.inserts == 2 && st.cached_blocks == 2);
    /* Every block held: alloc fails, counted, nothing changes. */
    expect_status(vram_prefix_cache_alloc(pc, &d), VRAM_ENOMEM);
    vram_prefix_cache_stats_get(pc, &st);
    expect_eq_u64(st.alloc_failures, 1);
    EXPECT_PC_CLEAN(pc);
    const uint32_t rb[] = {b, c};
    assert_ok(vram_prefix_cache_release(pc, rb, 2));
    vram_prefix_block_info info;
    assert_ok(vram_prefix_cache_block_get(pc, b, &info));
    expect_true(!info.cached && info.hash == 0 && info.refs == 0);
    const uint64_t chain[] = {42, 43};
    size_t dev;
    assert_ok(vram_prefix_cache_lookup(pc, chain, 2, &dev, NULL));
    expect_eq_u64(dev, 2); /* 42 on block a, 43 (its parent hash 42) on block c */
    assert_ok(vram_prefix_cache_release(pc, &a, 1));
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_destroy(pc);
}

/* --- the host tier --- */

static void test_host_tier(void)
{
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = 2,
                                    .block_bytes = 1000000, .host_blocks = 2};
    vram_prefix_cache *pc;
    assert_ok(vram_prefix_cache_create(&cfg, &pc));
    const uint64_t a[] = {1}, b[] = {2}, c[] = {3}, d[] = {4}, e[] = {5};
    run_request(pc, a, 1, 0);
    run_request(pc, b, 1, 0);
    run_request(pc, c, 1, 0); /* a goes to the host tier */
    expect_true(vram_prefix_cache_host_has(pc, 1) && !vram_prefix_cache_host_has(pc, 2));
    size_t dev, host;
    assert_ok(vram_prefix_cache_lookup(pc, a, 1, &dev, &host));
    expect_true(dev == 0 && host == 1);
    /* A hit on the host tier: copied back (b, the device's oldest, goes to the
     * host in exchange), charged at 10 us + 1 MB / 25 GB/s = 50 us. */
    expect_eq_u64(run_request(pc, a, 1, 0), 1);
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(pc, &st);
    expect_true(st.host_hit_blocks == 1 && st.hit_blocks == 0 && st.host_writes == 2);
    expect_true(st.host_read_ns > 49999.0 && st.host_read_ns < 50001.0);
    expect_true(st.host_write_ns > 99999.0 && st.host_write_ns < 100001.0);
    expect_true(!vram_prefix_cache_host_has(pc, 1) && vram_prefix_cache_host_has(pc, 2));
    /* The host tier keeps its newest two: d and e push c and b in, then out. */
    run_request(pc, d, 1, 0); /* c to the host: host b, c */
    run_request(pc, e, 1, 0); /* a to the host, dropping b: host c, a */
    vram_prefix_cache_stats_get(pc, &st);
    expect_true(st.host_drops == 1 && st.host_entries == 2);
    expect_true(!vram_prefix_cache_host_has(pc, 2) && vram_prefix_cache_host_has(pc, 3) &&
                vram_prefix_cache_host_has(pc, 1));
    /* Inserting a hash that is on the host tier drops the host copy: the
     * alloc evicts d (dropping c: host a, d), then hash 1 (a) is inserted. */
    uint32_t x;
    int cached;
    assert_ok(vram_prefix_cache_alloc(pc, &x));
    expect_true(!vram_prefix_cache_host_has(pc, 3) && vram_prefix_cache_host_has(pc, 4));
    assert_ok(vram_prefix_cache_insert(pc, x, VRAM_PREFIX_NONE, 1, 0, &cached));
    expect_true(cached && !vram_prefix_cache_host_has(pc, 1));
    EXPECT_PC_CLEAN(pc);
    /* A chain across the tiers needs matching parents: 4 is on the host tier
     * but was cached as a first block, not as 1's child. */
    const uint64_t mixed[] = {1, 4};
    assert_ok(vram_prefix_cache_lookup(pc, mixed, 2, &dev, &host));
    expect_true(dev == 1 && host == 0);
    assert_ok(vram_prefix_cache_lookup(pc, d, 1, &dev, &host));
    expect_true(dev == 0 && host == 1);
    assert_ok(vram_prefix_cache_release(pc, &x, 1));
    /* Promotion needs a device block: with both held the prefix ends there
     * (the two allocs evict e and a to the host tier). */
    uint32_t h1, h2;
    assert_ok(vram_prefix_cache_alloc(pc, &h1));
    assert_ok(vram_prefix_cache_alloc(pc, &h2));
    uint32_t got;
    size_t hits = 9;
    assert_ok(vram_prefix_cache_acquire(pc, a, 1, 0, &got, &hits));
    expect_eq_u64(hits, 0);
    expect_true(vram_prefix_cache_host_has(pc, 1));
    const uint32_t both[] = {h1, h2};
    assert_ok(vram_prefix_cache_release(pc, both, 2));
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_destroy(pc);
}

/* A chain evicted to the host tier comes back whole, linked again. */
static void test_host_chain(void)
{
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = 3,
                                    .block_bytes = 4096, .host_blocks = 8, .policy = "lru"};
    vram_prefix_cache *pc;
    assert_ok(vram_prefix_cache_create(&cfg, &pc));
    const uint64_t a[] = {1, 2, 3}, b[] = {7, 8, 9};
    run_request(pc, a, 3, 0);
    run_request(pc, b, 3, 0); /* a's three blocks go to the host */
    expect_eq_u64(run_request(pc, a, 3, 0), 3);
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(pc, &st);
    expect_true(st.host_hit_blocks == 3 && st.cached_blocks == 3 && st.host_entries == 3);
    uint32_t blocks[3];
    size_t hits;
    assert_ok(vram_prefix_cache_acquire(pc, a, 3, 0, blocks, &hits));
    vram_prefix_block_info info;
    assert_ok(vram_prefix_cache_block_get(pc, blocks[0], &info));
    expect_true(hits == 3 && info.children == 1 && info.hits == 2);
    assert_ok(vram_prefix_cache_release(pc, blocks, 3));
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_destroy(pc);
}

/* --- the pool heap --- */

static void test_pool(void)
{
    vram_heap_config hc = {.capacity = 8 * 4096, .block_size = 4096};
    vram_heap *heap;
    assert_ok(vram_heap_create(vram_heap_policy("pool"), &hc, &heap));
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = 6, .block_bytes = 4096,
                                    .pool = heap};
    vram_prefix_cache *pc;
    assert_ok(vram_prefix_cache_create(&cfg, &pc));
    vram_heap_stats hs;
    vram_heap_stats_get(heap, &hs);
    expect_eq_u64(hs.live_allocs, 6);
    vram_prefix_block_info info;
    assert_ok(vram_prefix_cache_block_get(pc, 5, &info));
    expect_eq_u64(info.offset % 4096, 0);
    EXPECT_PC_CLEAN(pc);
    /* A second cache of 6 does not fit the 2 blocks left: refused, the heap
     * as it was. */
    vram_prefix_cache *pc2 = pc;
    expect_status(vram_prefix_cache_create(&cfg, &pc2), VRAM_ENOMEM);
    expect_true(pc2 == NULL);
    vram_heap_stats_get(heap, &hs);
    expect_eq_u64(hs.live_allocs, 6);
    /* check() sees a block the heap no longer holds. */
    assert_ok(vram_heap_free(heap, info.offset));
    char msg[256];
    expect_status(vram_prefix_cache_check(pc, msg, sizeof msg), VRAM_ECORRUPT);
    expect_true(strcmp(msg, "5 of 6 blocks are live heap blocks") == 0);
    uint64_t off;
    assert_ok(vram_heap_alloc(heap, 4096, 0, &off));
    expect_eq_u64(off, info.offset);
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_destroy(pc);
    vram_heap_stats_get(heap, &hs);
    expect_eq_u64(hs.live_allocs, 0);
    vram_heap_destroy(heap);
}

/* --- bad input --- */

static void test_bad_input(void)
{
    uint64_t h = 0;
    const uint32_t tok[16] = {1, 2, 3};
    expect_status(vram_prefix_hash(0, tok, 0, 0, &h), VRAM_EINVAL);
    expect_status(vram_prefix_hash(0, NULL, 16, 0, &h), VRAM_EINVAL);
    expect_status(vram_prefix_hash(0, tok, 16, 0, NULL), VRAM_EINVAL);
    /* the hash: deterministic, chained on the parent and the extra key */
    uint64_t h1, h2, h3, h4, h5;
    assert_ok(vram_prefix_hash(VRAM_PREFIX_ROOT, tok, 16, 0, &h1));
    assert_ok(vram_prefix_hash(VRAM_PREFIX_ROOT, tok, 16, 0, &h2));
    assert_ok(vram_prefix_hash(h1, tok, 16, 0, &h3));
    assert_ok(vram_prefix_hash(VRAM_PREFIX_ROOT, tok, 16, 7, &h4));
    assert_ok(vram_prefix_hash(VRAM_PREFIX_ROOT, tok, 15, 0, &h5));
    expect_true(h1 == h2 && h1 != h3 && h1 != h4 && h1 != h5 && h1 && h3 && h4 && h5);
    expect_eq_u64(h1, UINT64_C(0x1251d47f2d313e75)); /* stable across runs and machines */

    vram_prefix_cache *pc = NULL;
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = 4};
    expect_status(vram_prefix_cache_create(NULL, &pc), VRAM_EINVAL);
    expect_status(vram_prefix_cache_create(&cfg, NULL), VRAM_EINVAL);
    cfg.block_tokens = 0;
    expect_status(vram_prefix_cache_create(&cfg, &pc), VRAM_EINVAL);
    cfg.block_tokens = 16;
    cfg.device_blocks = 0;
    expect_status(vram_prefix_cache_create(&cfg, &pc), VRAM_EINVAL);
    cfg.device_blocks = VRAM_PREFIX_MAX_BLOCKS + 1;
    expect_status(vram_prefix_cache_create(&cfg, &pc), VRAM_EINVAL);
    cfg.device_blocks = 4;
    cfg.host_blocks = 4; /* a host tier needs block_bytes */
    expect_status(vram_prefix_cache_create(&cfg, &pc), VRAM_EINVAL);
    cfg.block_bytes = 4096;
    cfg.policy = "fifo";
    expect_status(vram_prefix_cache_create(&cfg, &pc), VRAM_EINVAL);
    cfg.policy = "lfu";
    cfg.cost.h2d_gbps = -1;
    expect_status(vram_prefix_cache_create(&cfg, &pc), VRAM_EINVAL);
    cfg.cost.h2d_gbps = 0;
    vram_prefix_policy_ops broken = *vram_prefix_policy("lru");
    broken.pop = NULL;
    cfg.policy_ops = &broken;
    expect_status(vram_prefix_cache_create(&cfg, &pc), VRAM_EINVAL);
    expect_true(pc == NULL);
    cfg.policy_ops = NULL;
    assert_ok(vram_prefix_cache_create(&cfg, &pc));
    expect_true(strcmp(vram_prefix_cache_policy_name(pc), "lfu") == 0);
    expect_true(vram_prefix_policy(NULL) == NULL && vram_prefix_policy("LRU") == NULL);

    const uint64_t chain[] = {5, 6}, zero[] = {5, 0};
    uint32_t blocks[2], b, p;
    size_t hits;
    int cached;
    expect_status(vram_prefix_cache_lookup(NULL, chain, 2, NULL, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_lookup(pc, NULL, 2, NULL, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_lookup(pc, chain, 0, NULL, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_lookup(pc, zero, 2, NULL, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_acquire(pc, chain, 0, 0, blocks, &hits), VRAM_EINVAL);
    expect_status(vram_prefix_cache_acquire(pc, zero, 2, 0, blocks, &hits), VRAM_EINVAL);
    expect_status(vram_prefix_cache_acquire(pc, chain, 2, 0, NULL, &hits), VRAM_EINVAL);
    expect_status(vram_prefix_cache_acquire(pc, chain, 2, 0, blocks, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_alloc(pc, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_alloc(NULL, &b), VRAM_EINVAL);

    assert_ok(vram_prefix_cache_alloc(pc, &p));
    assert_ok(vram_prefix_cache_alloc(pc, &b));
    /* insert: a block not held, out of range, hash 0, NULL, bad parents */
    expect_status(vram_prefix_cache_insert(pc, 3, VRAM_PREFIX_NONE, 5, 0, &cached), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert(pc, 4, VRAM_PREFIX_NONE, 5, 0, &cached), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert(pc, p, VRAM_PREFIX_NONE, 0, 0, &cached), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert(pc, p, VRAM_PREFIX_NONE, 5, 0, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert(NULL, p, VRAM_PREFIX_NONE, 5, 0, &cached), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert(pc, b, p, 6, 0, &cached), VRAM_EINVAL); /* p has no hash */
    expect_status(vram_prefix_cache_insert(pc, b, b, 6, 0, &cached), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert(pc, b, 3, 6, 0, &cached), VRAM_EINVAL); /* not held */
    expect_status(vram_prefix_cache_insert(pc, b, 9, 6, 0, &cached), VRAM_EINVAL);
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(pc, &st);
    expect_true(st.inserts == 0 && st.cached_blocks == 0);
    /* a block inserted twice */
    assert_ok(vram_prefix_cache_insert(pc, p, VRAM_PREFIX_NONE, 5, 0, &cached));
    expect_status(vram_prefix_cache_insert(pc, p, VRAM_PREFIX_NONE, 5, 0, &cached), VRAM_EBUSY);
    expect_status(vram_prefix_cache_insert(pc, p, VRAM_PREFIX_NONE, 77, 0, &cached), VRAM_EBUSY);
    assert_ok(vram_prefix_cache_insert(pc, b, p, 6, 0, &cached));
    expect_status(vram_prefix_cache_insert(pc, b, p, 6, 0, &cached), VRAM_EBUSY);
    EXPECT_PC_CLEAN(pc);

    /* release: validated first, nothing changes on failure */
    const uint32_t twice[] = {p, b, b}, out_of_range[] = {p, 4};
    expect_status(vram_prefix_cache_release(pc, twice, 3), VRAM_EDOUBLEFREE);
    expect_status(vram_prefix_cache_release(pc, out_of_range, 2), VRAM_EINVAL);
    expect_status(vram_prefix_cache_release(pc, twice, 0), VRAM_EINVAL);
    expect_status(vram_prefix_cache_release(pc, NULL, 1), VRAM_EINVAL);
    vram_prefix_block_info info;
    assert_ok(vram_prefix_cache_block_get(pc, b, &info));
    expect_true(info.refs == 1 && info.cached);
    EXPECT_PC_CLEAN(pc);
    const uint32_t both[] = {p, b};
    assert_ok(vram_prefix_cache_release(pc, both, 2));
    expect_status(vram_prefix_cache_release(pc, both, 2), VRAM_EDOUBLEFREE);
    /* a block may appear as often as it has references */
    assert_ok(vram_prefix_cache_acquire(pc, chain, 2, 0, blocks, &hits));
    assert_ok(vram_prefix_cache_acquire(pc, chain, 1, 0, blocks, &hits));
    const uint32_t p2[] = {p, p, b};
    assert_ok(vram_prefix_cache_release(pc, p2, 3));
    EXPECT_PC_CLEAN(pc);

    expect_status(vram_prefix_cache_block_get(pc, 4, &info), VRAM_EINVAL);
    expect_status(vram_prefix_cache_block_get(pc, 0, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_evict(NULL, NULL), VRAM_EINVAL);
    expect_true(!vram_prefix_cache_host_has(NULL, 5) && !vram_prefix_cache_host_has(pc, 0));
    expect_status(vram_prefix_cache_check(NULL, NULL, 0), VRAM_EINVAL);
    vram_prefix_cache_destroy(pc);
    vram_prefix_cache_destroy(NULL);
}

/* --- the batch calls --- */

/* Every counter and every block's state of a and b agree. */
static void expect_same_state(const vram_prefix_cache *a, const vram_prefix_cache *b)
{
    vram_prefix_cache_stats x, y;
    vram_prefix_cache_stats_get(a, &x);
    vram_prefix_cache_stats_get(b, &y);
#define SAME_(f) expect_true(x.f == y.f)
    SAME_(lookups); SAME_(lookup_blocks); SAME_(hit_blocks); SAME_(host_hit_blocks);
    SAME_(inserts); SAME_(duplicates); SAME_(allocs); SAME_(alloc_failures); SAME_(evictions);
    SAME_(host_writes); SAME_(host_drops); SAME_(host_read_ns); SAME_(host_write_ns);
    SAME_(free_blocks); SAME_(held_blocks); SAME_(cached_blocks); SAME_(evictable_blocks);
    SAME_(host_entries);
#undef SAME_
    for (uint32_t i = 0; i < x.device_blocks; i++) {
        vram_prefix_block_info p, q;
        assert_ok(vram_prefix_cache_block_get(a, i, &p));
        assert_ok(vram_prefix_cache_block_get(b, i, &q));
        expect_true(p.hash == q.hash && p.parent_hash == q.parent_hash && p.stamp == q.stamp &&
                    p.hits == q.hits && p.refs == q.refs && p.depth == q.depth &&
                    p.children == q.children && p.priority == q.priority &&
                    p.cached == q.cached && p.evictable == q.evictable);
    }
}

/* A request of the batch test: its blocks in chain order. */
typedef struct breq {
    uint32_t blocks[24];
    size_t n;
} breq;

/* Random requests, up to 6 running at once, over 12 documents whose chains
 * share their first blocks in threes (so requests hit, duplicate and run out
 * of blocks; a host tier of 6 or none), on two caches: `one` computes the missed blocks with single
 * allocs (until the first failure) and inserts, `two` with alloc_n and
 * insert_n. Everything must agree after every request. */
static void test_batch_equals_single(const char *policy, uint32_t host, uint64_t seed)
{
    enum { NB = 40, RUN = 6, REQS = 1500 };
    vram_prefix_cache *one = make(policy, NB, host), *two = make(policy, NB, host);
    breq run[2][RUN] = {{{{0}, 0}}};
    uint64_t s = seed;
    for (int r = 0; r < REQS; r++) {
        int slot = (int)(test_rand(&s) % RUN);
        if (run[0][slot].n) { /* it ends */
            assert_ok(vram_prefix_cache_release(one, run[0][slot].blocks, run[0][slot].n));
            assert_ok(vram_prefix_cache_release(two, run[1][slot].blocks, run[1][slot].n));
            run[0][slot].n = run[1][slot].n = 0;
        }
        uint64_t doc = test_rand(&s) % 12, chain[24];
        size_t len = 1 + test_rand(&s) % 24;
        int prio = (int)(test_rand(&s) % 5) - 2;
        /* past its first 3 blocks a document repeats the hashes of another
         * document's chain under other parents: its inserts duplicate them */
        for (size_t j = 0; j < len; j++)
            chain[j] = j < 3 ? doc / 3 * 1000 + j + 1 : doc % 4 * 1000 + 500 + j;
        size_t hits[2];
        assert_ok(vram_prefix_cache_acquire(one, chain, len, prio, run[0][slot].blocks, &hits[0]));
        assert_ok(vram_prefix_cache_acquire(two, chain, len, prio, run[1][slot].blocks, &hits[1]));
        expect_eq_u64(hits[0], hits[1]);
        /* the missed blocks; the last one sometimes partial (no hash) */
        size_t want = len - hits[0], got1 = 0, got2 = 99;
        vram_status st1 = VRAM_OK;
        for (; got1 < want; got1++)
            if ((st1 = vram_prefix_cache_alloc(one, &run[0][slot].blocks[hits[0] + got1])))
                break;
        vram_status st2 = want ? vram_prefix_cache_alloc_n(two, want, run[1][slot].blocks +
                                                                  hits[1], &got2)
                               : (got2 = 0, VRAM_OK);
        expect_eq_u64(st1, st2);
        expect_eq_u64(got1, got2);
        size_t n = hits[0] + got1, full = n - (got1 && test_rand(&s) % 4 == 0);
        for (size_t i = 0; i < n; i++)
            expect_eq_u64(run[0][slot].blocks[i], run[1][slot].blocks[i]);
        int c1[24], c2[24];
        for (size_t i = hits[0]; i < full; i++)
            assert_ok(vram_prefix_cache_insert(one, run[0][slot].blocks[i],
                                               i ? run[0][slot].blocks[i - 1] : VRAM_PREFIX_NONE,
                                               chain[i], prio, &c1[i]));
        if (full > hits[1]) {
            const uint32_t *b2 = run[1][slot].blocks;
            assert_ok(vram_prefix_cache_insert_n(two, b2 + hits[1],
                                                 hits[1] ? b2[hits[1] - 1] : VRAM_PREFIX_NONE,
                                                 chain + hits[1], full - hits[1], prio,
                                                 c2 + hits[1]));
        }
        for (size_t i = hits[0]; i < full; i++)
            expect_eq_u64((uint64_t)c1[i], (uint64_t)c2[i]);
        run[0][slot].n = run[1][slot].n = n;
        if (!n) /* nothing held: the request is over */
            continue;
        EXPECT_PC_CLEAN(one);
        EXPECT_PC_CLEAN(two);
        expect_same_state(one, two);
    }
    vram_prefix_cache_stats st;
    vram_prefix_cache_stats_get(two, &st);
    printf("batch = single, %s, host %u: %" PRIu64 " allocs, %" PRIu64 " failures, %" PRIu64
           " evictions, %" PRIu64 " duplicates\n", policy, host, st.allocs, st.alloc_failures,
           st.evictions, st.duplicates);
    /* the stream reached every path: failures, evictions, duplicates */
    expect_true(st.alloc_failures > 0 && st.evictions > 0 && st.duplicates > 0);
    vram_prefix_cache_destroy(one);
    vram_prefix_cache_destroy(two);
}

/* Refused batch calls change nothing: the state equals a twin's that never
 * saw them, and the marks of a refused chain are gone (check() is clean and a
 * good call succeeds after it). */
static void test_batch_bad_input(void)
{
    vram_prefix_cache *pc = make("lru", 8, 0), *twin = make("lru", 8, 0);
    uint32_t b[4], t[4];
    size_t got = 99;
    int c[4];
    expect_status(vram_prefix_cache_alloc_n(NULL, 2, b, &got), VRAM_EINVAL);
    expect_status(vram_prefix_cache_alloc_n(pc, 2, NULL, &got), VRAM_EINVAL);
    expect_status(vram_prefix_cache_alloc_n(pc, 2, b, NULL), VRAM_EINVAL);
    expect_status(vram_prefix_cache_alloc_n(pc, 0, b, &got), VRAM_EINVAL);
    expect_eq_u64(got, 99);
    assert_ok(vram_prefix_cache_alloc_n(pc, 4, b, &got));
    expect_eq_u64(got, 4);
    for (int i = 0; i < 4; i++)
        assert_ok(vram_prefix_cache_alloc(twin, &t[i]));
    const uint64_t h[4] = {11, 12, 13, 14}, zero[4] = {11, 12, 0, 14};
    expect_same_state(pc, twin);
    /* one held block given a hash: a parent for the rest */
    assert_ok(vram_prefix_cache_insert(pc, b[0], VRAM_PREFIX_NONE, 10, 0, &c[0]));
    assert_ok(vram_prefix_cache_insert(twin, t[0], VRAM_PREFIX_NONE, 10, 0, &c[0]));
    const uint32_t rest[3] = {b[1], b[2], b[3]};
    const uint32_t out_of_range[3] = {b[1], 8, b[3]};
    const uint32_t repeated[3] = {b[1], b[2], b[1]};
    const uint32_t has_hash[3] = {b[1], b[0], b[2]};
    expect_status(vram_prefix_cache_insert_n(NULL, rest, b[0], h, 3, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, NULL, b[0], h, 3, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, rest, b[0], NULL, 3, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, rest, b[0], h, 0, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, rest, b[0], zero, 3, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, out_of_range, b[0], h, 3, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, repeated, b[0], h, 3, 0, c), VRAM_EBUSY);
    expect_status(vram_prefix_cache_insert_n(pc, has_hash, b[0], h, 3, 0, c), VRAM_EBUSY);
    /* bad first parents: out of range, itself, without hash, not held */
    expect_status(vram_prefix_cache_insert_n(pc, rest, 8, h, 3, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, rest, b[1], h, 3, 0, c), VRAM_EINVAL);
    expect_status(vram_prefix_cache_insert_n(pc, rest, b[2], h, 3, 0, c), VRAM_EINVAL);
    vram_prefix_block_info info;
    uint32_t idle = 0;
    for (uint32_t i = 0; i < 8; i++)
        if (!vram_prefix_cache_block_get(pc, i, &info) && !info.refs)
            idle = i;
    expect_status(vram_prefix_cache_insert_n(pc, rest, idle, h, 3, 0, c), VRAM_EINVAL);
    EXPECT_PC_CLEAN(pc);
    expect_same_state(pc, twin);
    /* and the good call after them: the chain cached under b[0] */
    c[0] = c[1] = c[2] = -1;
    assert_ok(vram_prefix_cache_insert_n(pc, rest, b[0], h + 1, 3, 0, c));
    expect_true(c[0] == 1 && c[1] == 1 && c[2] == 1);
    size_t dev = 0;
    const uint64_t chain[4] = {10, 12, 13, 14};
    assert_ok(vram_prefix_cache_lookup(pc, chain, 4, &dev, NULL));
    expect_eq_u64(dev, 4);
    /* every block held: none to give, one failure counted, nothing else */
    vram_prefix_cache_stats before, after;
    vram_prefix_cache_stats_get(pc, &before);
    assert_ok(vram_prefix_cache_alloc_n(pc, 4, b, &got)); /* the 4 still free */
    expect_status(vram_prefix_cache_alloc_n(pc, 3, b, &got), VRAM_ENOMEM);
    expect_eq_u64(got, 0);
    vram_prefix_cache_stats_get(pc, &after);
    expect_eq_u64(after.allocs, before.allocs + 4);
    expect_eq_u64(after.alloc_failures, before.alloc_failures + 1);
    EXPECT_PC_CLEAN(pc);
    vram_prefix_cache_destroy(pc);
    vram_prefix_cache_destroy(twin);
}

/* --- random streams against the references --- */

static void test_random(uint64_t seed)
{
    /* One-block chains: the module's lru is the reference LRU. */
    enum { N = 20000, KEYS = 300, CAP = 64 };
    static uint64_t keys[N];
    uint64_t s = seed;
    for (size_t i = 0; i < N; i++) /* skewed: low keys more often */
        keys[i] = 1 + (test_rand(&s) % KEYS) * (test_rand(&s) % KEYS) / KEYS;
    uint64_t ref_lru, ref_bel, ref_inf;
    assert_ok(vprefix_ref_lru(keys, N, CAP, &ref_lru));
    assert_ok(vprefix_ref_belady(keys, N, CAP, &ref_bel));
    assert_ok(vprefix_ref_unlimited(keys, N, &ref_inf));
    expect_true(ref_lru <= ref_bel && ref_bel <= ref_inf);
    for (const char *const *p = vram_prefix_policy_names; *p; p++) {
        vram_prefix_cache *pc = make(*p, CAP, 0);
        uint64_t got = 0;
        for (size_t i = 0; i < N; i++) {
            got += run_request(pc, &keys[i], 1, (int)(keys[i] % 3));
            if (i % 1000 == 0)
                EXPECT_PC_CLEAN(pc);
        }
        if (!strcmp(*p, "lru") || !strcmp(*p, "vllm"))
            expect_eq_u64(got, ref_lru);
        expect_true(got <= ref_bel);
        vram_prefix_cache_destroy(pc);
    }

    /* Chained requests (prefixes of a few documents, each a chain of up to 8
     * blocks): no policy beats Belady over the same stream of keys. */
    enum { REQS = 3000, DOCS = 40, DEPTH = 8, CAP2 = 48 };
    static uint64_t stream[REQS * DEPTH];
    static uint64_t chains[REQS][DEPTH];
    static size_t lens[REQS];
    size_t ns = 0;
    for (size_t r = 0; r < REQS; r++) {
        uint64_t doc = test_rand(&s) % DOCS;
        lens[r] = 1 + test_rand(&s) % DEPTH;
        for (size_t j = 0; j < lens[r]; j++)
            stream[ns++] = chains[r][j] = doc * 100 + j + 1;
    }
    assert_ok(vprefix_ref_belady(stream, ns, CAP2, &ref_bel));
    uint64_t vllm_hits = 0;
    for (const char *const *p = vram_prefix_policy_names; *p; p++) {
        vram_prefix_cache *pc = make(*p, CAP2, 0);
        uint64_t got = 0;
        for (size_t r = 0; r < REQS; r++)
            got += run_request(pc, chains[r], lens[r], (int)(chains[r][0] / 100 % 4));
        printf("chained stream, %s: %" PRIu64 " hits of %zu (Belady %" PRIu64 ")\n", *p, got, ns,
               ref_bel);
        expect_true(got <= ref_bel);
        /* vLLM's queue is a leaf-first LRU by release time when requests
         * release whole chains (docs/PREFIX_CACHE.md): the same victims */
        if (!strcmp(*p, "vllm"))
            vllm_hits = got;
        if (!strcmp(*p, "lru"))
            expect_eq_u64(got, vllm_hits);
        vram_prefix_cache_destroy(pc);
    }
}

int main(void)
{
    uint64_t seed = 12;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("seed %" PRIu64 "\n", seed);
    test_references_textbook();
    test_references_prefix_stream();
    test_order_vllm();
    test_order_lru();
    test_order_lfu();
    test_order_priority();
    test_side_heap();
    test_refcounts_and_lookup();
    test_duplicates_and_full();
    test_host_tier();
    test_host_chain();
    test_pool();
    test_bad_input();
    test_random(seed);
    for (const char *const *p = vram_prefix_policy_names; *p; p++) {
        test_batch_equals_single(*p, 0, seed);
        test_batch_equals_single(*p, 6, seed + 1);
    }
    test_batch_bad_input();
    return test_finish("prefix_cache");
}
