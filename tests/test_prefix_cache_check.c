/* test_prefix_cache_check.c - every violation vram_prefix_cache_check and the
 * policies' own checks report. Each case corrupts one piece of a healthy
 * cache (through prefix_cache_internal.h; the policies' structs are seen by
 * including prefix_cache_policy.c, whose object then takes precedence over
 * libvram's archive member), asserts VRAM_ECORRUPT and the exact message,
 * restores the piece and asserts that check() passes again. The loop guards
 * ("... longer than ...") that only stop a walk of a corrupted cycle are not
 * provoked: a cycle breaks a back link first. */
#include "../alloc/prefix_cache_policy.c"
#include "testlib.h"

static void expect_msg(vram_status st, const char *msg, const char *want, int line)
{
    if (st != VRAM_ECORRUPT || strcmp(msg, want) != 0) {
        fprintf(stderr, "%s:%d: FAILED: got %s \"%s\", wanted \"%s\"\n", __FILE__, line,
                vram_status_name(st), msg, want);
        test_failures++;
    }
}

#define EXPECT_VIOLATION(pc, want)                                                                 \
    do {                                                                                           \
        char m_[256];                                                                              \
        expect_msg(vram_prefix_cache_check((pc), m_, sizeof m_), m_, (want), __LINE__);            \
    } while (0)

#define EXPECT_CLEAN(pc)                                                                           \
    do {                                                                                           \
        char m_[256];                                                                              \
        vram_status st_ = vram_prefix_cache_check((pc), m_, sizeof m_);                            \
        if (st_) {                                                                                 \
            fprintf(stderr, "%s:%d: FAILED: check(): %s\n", __FILE__, __LINE__, m_);              \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define EXPECT_POLICY_VIOLATION(ops, impl, want)                                                   \
    do {                                                                                           \
        char m_[256] = "";                                                                         \
        expect_msg((ops)->check((impl), m_, sizeof m_), m_, (want), __LINE__);                     \
    } while (0)

#define EXPECT_POLICY_CLEAN(ops, impl)                                                             \
    do {                                                                                           \
        char m_[256] = "";                                                                         \
        if ((ops)->check((impl), m_, sizeof m_)) {                                                 \
            fprintf(stderr, "%s:%d: FAILED: policy check(): %s\n", __FILE__, __LINE__, m_);       \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

static void request(vram_prefix_cache *pc, const uint64_t *chain, size_t n)
{
    uint32_t b[8];
    size_t hits;
    int cached;
    assert_ok(vram_prefix_cache_acquire(pc, chain, n, 0, b, &hits));
    for (size_t i = hits; i < n; i++) {
        assert_ok(vram_prefix_cache_alloc(pc, &b[i]));
        assert_ok(vram_prefix_cache_insert(pc, b[i], i ? b[i - 1] : VRAM_PREFIX_NONE, chain[i], 0,
                                           &cached));
    }
    assert_ok(vram_prefix_cache_release(pc, b, n));
}

/* "vllm", 8 blocks, a host tier of 2: block 0 free (its hash 1 went to host
 * slot 0), block 1 (hash 2) and blocks 2, 3, 4 (chain 11, 12, 13) idle, in
 * the queue as 1, 4, 3, 2; blocks 5, 6 (chain 31, 32) held; block 7 free. The
 * free list is [7, 0], 0 on top. */
static vram_prefix_cache *fixture(void)
{
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = 8, .block_bytes = 4096,
                                    .host_blocks = 2};
    vram_prefix_cache *pc;
    assert_ok(vram_prefix_cache_create(&cfg, &pc));
    const uint64_t a[] = {1}, b[] = {2}, c[] = {11, 12, 13};
    request(pc, a, 1);
    request(pc, b, 1);
    request(pc, c, 3);
    uint32_t h5, h6;
    int cached;
    assert_ok(vram_prefix_cache_alloc(pc, &h5));
    assert_ok(vram_prefix_cache_insert(pc, h5, VRAM_PREFIX_NONE, 31, 0, &cached));
    assert_ok(vram_prefix_cache_alloc(pc, &h6));
    assert_ok(vram_prefix_cache_insert(pc, h6, h5, 32, 0, &cached));
    uint64_t gone;
    assert_ok(vram_prefix_cache_evict(pc, &gone));
    assert_true(gone == 1 && h5 == 5 && h6 == 6);
    assert_true(pc->nfree == 2 && pc->free_stack[0] == 7 && pc->free_stack[1] == 0);
    assert_true(pc->host[0].used && pc->host[0].hash == 1 && pc->host_head == 0);
    EXPECT_CLEAN(pc);
    return pc;
}

static void test_blocks(vram_prefix_cache *pc)
{
    pc->nfree = 9;
    EXPECT_VIOLATION(pc, "free list holds 9 entries for 8 blocks");
    pc->nfree = 2;
    pc->free_stack[0] = 99;
    EXPECT_VIOLATION(pc, "free list entry 0: block 99 out of range");
    pc->free_stack[0] = 7;
    pc->free_stack[1] = 7;
    EXPECT_VIOLATION(pc, "block 7 is on the free list twice");
    pc->free_stack[1] = 0;
    pc->blocks[7].refs = 1;
    EXPECT_VIOLATION(pc, "free block 7 has 1 references or a hash");
    pc->blocks[7].refs = 0;
    pc->nfree = 1;
    EXPECT_VIOLATION(pc, "block 0 has no reference, is not cached and is not on the free list");
    pc->nfree = 2;
    EXPECT_CLEAN(pc);

    pc->blocks[1].hash = 0;
    EXPECT_VIOLATION(pc, "cached block 1 has no hash");
    pc->blocks[1].hash = 777;
    EXPECT_VIOLATION(pc, "cached block 1 is not in the index under its hash 0x309");
    pc->blocks[1].hash = 2;
    pc->blocks[7].children = 2;
    EXPECT_VIOLATION(pc, "block 7 is not cached but has 2 children");
    pc->blocks[7].children = 0;
    pc->blocks[6].refs = 0;
    EXPECT_VIOLATION(pc, "block 6 is not in the policy's set but is evictable");
    pc->blocks[6].refs = 1;
    pc->blocks[2].refs = 1;
    EXPECT_VIOLATION(pc, "block 2 is in the policy's set but not evictable");
    pc->blocks[2].refs = 0;
    pc->blocks[2].children = 0;
    EXPECT_VIOLATION(pc, "block 2 counts 0 children, 1 cached blocks link to it");
    pc->blocks[2].children = 1;
    EXPECT_CLEAN(pc);
}

static void test_index(vram_prefix_cache *pc)
{
    vram__pc_index_put(&pc->index, 999, 7);
    uint64_t s = 0;
    while (pc->index.slots[s].key != 999)
        s++;
    char want[128];
    snprintf(want, sizeof want, "index slot %" PRIu64 ": hash 0x3e7 maps to block 7, which does"
             " not cache it", s);
    EXPECT_VIOLATION(pc, want);
    assert_true(vram__pc_index_del(&pc->index, 999));
    pc->index.count++;
    EXPECT_VIOLATION(pc, "index holds 6 hashes (count 7), 6 blocks are cached");
    pc->index.count--;
    EXPECT_CLEAN(pc);
}

static void test_queue(vram_prefix_cache *pc)
{
    queue_policy *q = pc->policy;
    assert_true(q->head == 1 && q->tail == 2 && q->n == 4);
    q->n++;
    EXPECT_VIOLATION(pc, "the policy holds 5 blocks, 4 are evictable");
    q->n--;
    q->node[2].next = 7;
    EXPECT_VIOLATION(pc, "free queue: block 7 listed but not marked");
    q->node[2].next = 99;
    EXPECT_VIOLATION(pc, "free queue: block 99 out of range");
    q->node[2].next = PC_NIL;
    q->node[3].prev = 1;
    EXPECT_VIOLATION(pc, "free queue: back link of block 3 broken");
    q->node[3].prev = 4;
    q->tail = 3;
    EXPECT_VIOLATION(pc, "free queue: tail is not the last block listed");
    q->tail = 2;
    q->head = 4;
    q->node[4].prev = PC_NIL;
    EXPECT_VIOLATION(pc, "free queue: 3 listed, 4 marked, count 4");
    q->head = 1;
    q->node[4].prev = 1;
    EXPECT_CLEAN(pc);
}

static void test_host(vram_prefix_cache *pc)
{
    pc->host_cap = 0;
    EXPECT_VIOLATION(pc, "no host tier but 1 host entries");
    pc->host_cap = 2;
    pc->host[0].hash = 555;
    EXPECT_VIOLATION(pc, "host entry 0 (hash 0x22b) is not in the host index");
    pc->host[0].hash = 2;
    assert_true(vram__pc_index_del(&pc->host_index, 1));
    vram__pc_index_put(&pc->host_index, 2, 0);
    EXPECT_VIOLATION(pc, "hash 0x2 is on both tiers");
    assert_true(vram__pc_index_del(&pc->host_index, 2));
    vram__pc_index_put(&pc->host_index, 1, 0);
    pc->host[0].hash = 1;
    pc->host_head = 1;
    EXPECT_VIOLATION(pc, "host list holds unused entry 1");
    pc->host_head = 0;
    pc->host[0].prev = 1;
    EXPECT_VIOLATION(pc, "host list: back link of entry 0 broken");
    pc->host[0].prev = PC_NIL;
    pc->host_tail = PC_NIL;
    EXPECT_VIOLATION(pc, "host list: tail is not the last entry listed");
    pc->host_tail = 0;
    pc->st.host_entries = 2;
    EXPECT_VIOLATION(pc, "host tier: 1 used, 1 listed, 1 free of 2, 1 indexed, counter 2");
    pc->st.host_entries = 1;
    EXPECT_CLEAN(pc);
}

static void test_counters(vram_prefix_cache *pc)
{
    pc->st.free_blocks = 3;
    EXPECT_VIOLATION(pc, "counters disagree with the blocks: free 3/2 held 2/2 cached 6/6"
                         " evictable 4/4");
    pc->st.free_blocks = 2;
    pc->st.evictable_blocks = 0;
    EXPECT_VIOLATION(pc, "counters disagree with the blocks: free 2/2 held 2/2 cached 6/6"
                         " evictable 0/4");
    pc->st.evictable_blocks = 4;
    EXPECT_CLEAN(pc);
}

/* The pool: a block whose offset is a heap block too small. */
static void test_pool(void)
{
    vram_heap_config hc = {.capacity = 1u << 20};
    vram_heap *heap;
    assert_ok(vram_heap_create(vram_heap_policy("bestfit"), &hc, &heap));
    vram_prefix_cache_config cfg = {.block_tokens = 16, .device_blocks = 2, .block_bytes = 4096,
                                    .pool = heap};
    vram_prefix_cache *pc;
    assert_ok(vram_prefix_cache_create(&cfg, &pc));
    assert_true(pc->blocks[0].offset == 0 && pc->blocks[1].offset == 4096);
    uint64_t small;
    assert_ok(vram_heap_alloc(heap, 256, 0, &small));
    expect_eq_u64(small, 8192);
    pc->blocks[0].offset = small;
    EXPECT_VIOLATION(pc, "block at offset 8192 is a heap block smaller than 4096 bytes");
    pc->blocks[0].offset = 0;
    EXPECT_CLEAN(pc);
    assert_ok(vram_heap_free(heap, small));
    vram_prefix_cache_destroy(pc);
    vram_heap_destroy(heap);
}

/* The keyed policies' own check, on a policy driven directly: lru with
 * blocks 0 (stamp 10) and 1 (stamp 20) in its list, 2 (stamp 5) and 3
 * (stamp 3) in its side heap (they arrived below the list's tail). */
static void test_keyed(void)
{
    const vram_prefix_policy_ops *ops = vram_prefix_policy("lru");
    void *impl;
    assert_ok(ops->create(8, &impl));
    keyed_policy *p = impl;
    const uint32_t blocks[] = {0, 1, 2, 3};
    const uint64_t stamps[] = {10, 20, 5, 3};
    for (int i = 0; i < 4; i++) {
        vram_prefix_item it = {.stamp = stamps[i]};
        ops->insert(impl, blocks[i], &it);
    }
    assert_true(p->nlists == 1 && p->lists[0].head == 0 && p->lists[0].tail == 1);
    assert_true(p->nheap == 2 && p->heap[0] == 3 && p->heap[1] == 2);
    uint32_t next[2];
    assert_true(ops->peek(impl, next, 2) == 2 && next[0] == 3 && next[1] == 2);
    EXPECT_POLICY_CLEAN(ops, impl);

    p->where[1] = IN_HEAP;
    EXPECT_POLICY_VIOLATION(ops, impl, "list 0 holds block 1, not marked as listed");
    p->where[1] = IN_LIST;
    p->node[1].prev = 5;
    EXPECT_POLICY_VIOLATION(ops, impl, "list 0: back link of block 1 broken");
    p->node[1].prev = 0;
    p->key[1].cls = 9;
    EXPECT_POLICY_VIOLATION(ops, impl, "list 0 holds block 1 of another class");
    p->key[1].cls = 0;
    p->key[1].k2 = 1;
    EXPECT_POLICY_VIOLATION(ops, impl, "list 0: block 1 goes before block 0 ahead of it");
    p->key[1].k2 = 20;
    p->lists[0].tail = 0;
    EXPECT_POLICY_VIOLATION(ops, impl, "list 0: empty, or its tail is not its last block");
    p->lists[0].tail = 1;
    p->hpos[2] = 0;
    EXPECT_POLICY_VIOLATION(ops, impl, "heap entry 1 (block 2): position index broken");
    p->hpos[2] = 1;
    p->key[2].k2 = 1;
    EXPECT_POLICY_VIOLATION(ops, impl, "heap entry 1 (block 2) goes before its parent");
    p->key[2].k2 = 5;
    p->where[5] = IN_LIST;
    EXPECT_POLICY_VIOLATION(ops, impl, "2 blocks listed of 3 marked, 2 in the heap of 2 marked,"
                                       " count 4");
    p->where[5] = NOWHERE;
    EXPECT_POLICY_CLEAN(ops, impl);
    /* the victims in key order: 3, 2 (heap), then 0, 1 (list) */
    uint32_t v[4];
    for (int i = 0; i < 4; i++)
        assert_true(ops->pop(impl, &v[i]));
    expect_true(v[0] == 3 && v[1] == 2 && v[2] == 0 && v[3] == 1 && !ops->pop(impl, &v[0]));
    ops->destroy(impl);

    /* priority: one list per class, in class order */
    ops = vram_prefix_policy("priority");
    assert_ok(ops->create(4, &impl));
    p = impl;
    vram_prefix_item lo = {.stamp = 1, .priority = 1}, hi = {.stamp = 2, .priority = 2};
    ops->insert(impl, 0, &lo);
    ops->insert(impl, 1, &hi);
    assert_true(p->nlists == 2);
    EXPECT_POLICY_CLEAN(ops, impl);
    uint64_t cls = p->lists[1].cls;
    p->lists[1].cls = p->lists[0].cls;
    EXPECT_POLICY_VIOLATION(ops, impl, "lists 0 and 1 are not in class order");
    p->lists[1].cls = cls;
    EXPECT_POLICY_CLEAN(ops, impl);
    ops->destroy(impl);
}

int main(void)
{
    vram_prefix_cache *pc = fixture();
    test_blocks(pc);
    test_index(pc);
    test_queue(pc);
    test_host(pc);
    test_counters(pc);
    vram_prefix_cache_destroy(pc);
    test_pool();
    test_keyed();
    return test_finish("prefix_cache_check");
}
