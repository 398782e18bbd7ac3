/* test_heap_token.c - free without a lookup (vram_heap_alloc_token and
 * vram_heap_free_token, vram/heap.h) on every policy: a token frees its block
 * as the offset would, placement is the same whichever way blocks are freed,
 * and a token that names no live block (freed, stale, forged) is refused and
 * changes nothing. "tlsf" and "bestfit" carry a record number and an
 * allocation count in the token, so even a stale token whose record holds a
 * new block is refused; the other policies' token is the offset. */
#include "test_heap_lib.h"

#include <string.h>

static const char *const policies[] = {"bestfit", "buddy", "tlsf", "pool", "caching"};
#define NPOLICIES (sizeof policies / sizeof policies[0])

static int counted(const char *policy)
{
    return strcmp(policy, "tlsf") == 0 || strcmp(policy, "bestfit") == 0;
}

static vram_heap *make(const char *policy)
{
    return test_heap(policy, (vram_heap_config){.capacity = 256 * MiB, .block_size = MiB});
}

static int same_stats(const vram_heap_stats *a, const vram_heap_stats *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* A free of `token` that must be refused and change nothing. */
static void expect_refused(vram_heap *h, uint64_t token, int line)
{
    vram_heap_stats before = test_heap_stats(h);
    vram_status st = vram_heap_free_token(h, token);
    vram_heap_stats after = test_heap_stats(h);
    if ((st != VRAM_ENOTFOUND && st != VRAM_EDOUBLEFREE) || !same_stats(&before, &after)) {
        fprintf(stderr, "%s:%d: FAILED: %s: free_token(%#llx) gave %s%s\n", __FILE__, line,
                vram_heap_name(h), (unsigned long long)token, vram_status_name(st),
                same_stats(&before, &after) ? "" : " and changed the stats");
        test_failures++;
    }
    EXPECT_HEAP_CLEAN(h);
}
#define EXPECT_REFUSED(h, t) expect_refused((h), (t), __LINE__)

static void test_refusals(const char *policy)
{
    vram_heap *h = make(policy);
    uint64_t off[3], tok[3];
    for (int i = 0; i < 3; i++)
        assert_ok(vram_heap_alloc_token(h, 300 * KiB, 0, &off[i], &tok[i]));
    expect_status(vram_heap_alloc_token(h, 0, 0, &off[0], &tok[0]), VRAM_EINVAL);
    expect_status(vram_heap_alloc_token(h, MiB, 3 * 256, &off[0], &tok[0]), VRAM_EINVAL);
    expect_status(vram_heap_alloc_token(NULL, MiB, 0, &off[0], &tok[0]), VRAM_EINVAL);
    expect_status(vram_heap_alloc_token(h, MiB, 0, &off[0], NULL), VRAM_EINVAL);
    expect_status(vram_heap_free_token(NULL, tok[0]), VRAM_EINVAL);

    /* Freed once by token: a second free of the token is refused. */
    assert_ok(vram_heap_free_token(h, tok[1]));
    EXPECT_HEAP_CLEAN(h);
    if (counted(policy))
        expect_status(vram_heap_free_token(h, tok[1]), VRAM_EDOUBLEFREE);
    EXPECT_REFUSED(h, tok[1]);

    /* Freed by offset: the token is gone too. */
    assert_ok(vram_heap_free(h, off[2]));
    EXPECT_REFUSED(h, tok[2]);

    /* A new block where the freed one was: a counted policy refuses the old
     * token (the record's count moved on), and the new block stays live. */
    uint64_t o, t;
    assert_ok(vram_heap_alloc_token(h, 300 * KiB, 0, &o, &t));
    expect_eq_u64(o, off[1]);
    if (counted(policy)) {
        expect_true(t != tok[1] && t != tok[2]);
        EXPECT_REFUSED(h, tok[1]);
        EXPECT_REFUSED(h, tok[2]);
        expect_eq_u64(test_heap_stats(h).live_allocs, 2);
    }

    /* Forged tokens: past every record, an allocation count of 0. */
    EXPECT_REFUSED(h, UINT64_MAX);
    EXPECT_REFUSED(h, UINT64_C(0xffffffff00000000) | 7);
    if (counted(policy))
        EXPECT_REFUSED(h, tok[0] & 0xffffffffu); /* the live block's record, count 0 */

    assert_ok(vram_heap_free_token(h, tok[0]));
    assert_ok(vram_heap_free_token(h, t));
    expect_eq_u64(test_heap_stats(h).live_allocs, 0);
    expect_eq_u64(test_heap_stats(h).in_use, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

/* The same random op stream on two heaps of the policy: one frees by token,
 * the other by offset (and mixes in frees by token after its first free by
 * offset built the offset index, where a policy builds one). Every
 * allocation lands at the same offset, and both heaps check clean. */
#define LIVE_MAX 200
static void test_same_placement(const char *policy, uint64_t seed)
{
    vram_heap *a = make(policy), *b = make(policy);
    uint64_t aoff[LIVE_MAX], atok[LIVE_MAX], btok[LIVE_MAX], boff[LIVE_MAX];
    int n = 0;
    uint64_t rng = seed;
    for (int op = 0; op < 4000; op++) {
        uint64_t r = test_rand(&rng);
        if (n && (n == LIVE_MAX || r % 3 == 0)) {
            int k = (int)(test_rand(&rng) % (uint64_t)n);
            assert_ok(vram_heap_free_token(a, atok[k]));
            if (r % 2)
                assert_ok(vram_heap_free(b, boff[k]));
            else
                assert_ok(vram_heap_free_token(b, btok[k]));
            n--;
            aoff[k] = aoff[n], atok[k] = atok[n], boff[k] = boff[n], btok[k] = btok[n];
        } else {
            /* 256 B to 2 MiB, some with a larger alignment. */
            uint64_t size = 256 + test_rand(&rng) % (2 * MiB);
            uint64_t align = r % 7 == 0 ? 64 * KiB : 0;
            vram_status sa = vram_heap_alloc_token(a, size, align, &aoff[n], &atok[n]);
            vram_status sb = vram_heap_alloc_token(b, size, align, &boff[n], &btok[n]);
            expect_status(sb, sa);
            if (sa == VRAM_OK && sb == VRAM_OK) {
                if (aoff[n] != boff[n]) {
                    fprintf(stderr, "%s:%d: FAILED: %s: op %d placed at %llu and %llu\n", __FILE__,
                            __LINE__, policy, op, (unsigned long long)aoff[n],
                            (unsigned long long)boff[n]);
                    test_failures++;
                    break;
                }
                n++;
            }
        }
        if (op % 500 == 0) {
            EXPECT_HEAP_CLEAN(a);
            EXPECT_HEAP_CLEAN(b);
        }
    }
    vram_heap_stats sa = test_heap_stats(a), sb = test_heap_stats(b);
    expect_true(same_stats(&sa, &sb));
    EXPECT_HEAP_CLEAN(a);
    EXPECT_HEAP_CLEAN(b);
    vram_heap_destroy(a);
    vram_heap_destroy(b);
}

/* A batch freed by offset, then blocks freed by token: both ways agree. */
static void test_batch_then_tokens(const char *policy)
{
    vram_heap *h = make(policy);
    uint64_t off[6], tok[6];
    for (int i = 0; i < 6; i++)
        assert_ok(vram_heap_alloc_token(h, (uint64_t)(i + 1) * 64 * KiB, 0, &off[i], &tok[i]));
    uint64_t batch[3] = {off[4], off[0], off[2]};
    assert_ok(vram_heap_free_batch(h, 3, batch));
    EXPECT_REFUSED(h, tok[0]);
    EXPECT_HEAP_CLEAN(h);
    assert_ok(vram_heap_free_token(h, tok[1]));
    assert_ok(vram_heap_free_token(h, tok[3]));
    assert_ok(vram_heap_free_token(h, tok[5]));
    expect_eq_u64(test_heap_stats(h).live_allocs, 0);
    EXPECT_HEAP_CLEAN(h);
    vram_heap_destroy(h);
}

int main(void)
{
    for (size_t i = 0; i < NPOLICIES; i++) {
        test_refusals(policies[i]);
        test_same_placement(policies[i], 0x70c3a + i);
        test_batch_then_tokens(policies[i]);
    }
    return test_finish("heap_token");
}
