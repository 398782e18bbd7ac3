/* test_check_bestfit.c - every violation the "bestfit" policy's check() reports,
 * the red-black rules of its size index (alloc/rbtree.c) among them.
 *
 * This file includes the policy's source, so it sees the private state, and the
 * executable's copy of the policy takes precedence over libvram's (precedent:
 * tests/cmake/heap_diff.cmake). Each case corrupts one piece of state on
 * purpose, asserts VRAM_ECORRUPT and the exact message, restores the state and
 * asserts that check() passes again. */
#include "test_heap_lib.h"

#include "../alloc/heap_bestfit.c"

/* The layout every case starts from, over 64 KiB with 256-byte alignment (b
 * freed by offset, so the offset index is built):
 *   a [0, 1024) used (1000 requested), record 0; b [1024, 1536) free, record 1;
 *   c [1536, 1792) used (256 requested), record 2; tail [1792, 65536) free,
 *   record 3. The size index holds tail (the black root) and b (its red left
 *   child). */
typedef struct fixture {
    vram_heap *heap;
    bf_heap *h;
    bf_block *a, *b, *c, *tail;
} fixture;

static bf_block *block_at(const bf_heap *h, uint64_t off)
{
    bf_block *b = off_find(h, off);
    assert_true(b != NULL);
    return b;
}

static fixture setup(void)
{
    fixture f;
    vram_heap_config cfg = {.capacity = 64 * KiB, .min_align = 256};
    assert_ok(vram_heap_create(vram_heap_policy("bestfit"), &cfg, &f.heap));
    uint64_t a, b, c;
    assert_ok(vram_heap_alloc(f.heap, 1000, 0, &a));
    assert_ok(vram_heap_alloc(f.heap, 512, 0, &b));
    assert_ok(vram_heap_alloc(f.heap, 256, 0, &c));
    assert_true(a == 0 && b == 1024 && c == 1536);
    assert_ok(vram_heap_free(f.heap, b));
    f.h = vram__heap_impl(f.heap);
    f.a = block_at(f.h, 0);
    f.b = block_at(f.h, 1024);
    f.c = block_at(f.h, 1536);
    f.tail = block_at(f.h, 1792);
    vram__rb_node *root = f.h->by_size.root;
    assert_true(root == &f.tail->u.by_size && root->left == &f.b->u.by_size && !root->right);
    assert_true(!vram__rb_is_red(root) && vram__rb_is_red(&f.b->u.by_size));
    assert_true(f.a->idx == 0 && f.b->idx == 1 && f.c->idx == 2 && f.tail->idx == 3);
    EXPECT_HEAP_CLEAN(f.heap);
    return f;
}

static void test_block_list(void)
{
    fixture f = setup();
    bf_heap *h = f.h;
    CORRUPT(f.heap, f.c->prev, BF_NIL, "block at 1536: prev link does not name the block before it");
    CORRUPT(f.heap, f.c->idx, 7, "block at 1536: record 2 calls itself 7");
    CORRUPT(f.heap, f.b->next, 9, "block list: record 9, or more than the 4 made");
    CORRUPT(f.heap, f.c->off, 1792, "blocks do not tile the range: block at 1792, expected 1536");
    CORRUPT(f.heap, f.c->size, 0, "block [1536, +0) is empty or not aligned to min_align 256");
    CORRUPT(f.heap, f.c->size, 300, "block [1536, +300) is empty or not aligned to min_align 256");
    CORRUPT(f.heap, f.c->used, 0, "free blocks at 1024 and 1536 should have coalesced");
    CORRUPT(f.heap, f.a->u.requested, 0, "used block at 0: requested 0 outside (0, size 1024]");
    CORRUPT(f.heap, f.a->u.requested, 1025,
            "used block at 0: requested 1025 outside (0, size 1024]");
    CORRUPT(f.heap, f.a->gen, 0, "used block at 0: no token was issued");
    CORRUPT(f.heap, f.a->batch_mark, 1, "block at 0 still carries a batch mark");
    CORRUPT(f.heap, h->tail, f.a->idx, "the tail pointer is not the last block");
    CORRUPT(f.heap, h->capacity, 64 * KiB + 256, "blocks end at 65536, capacity is 65792");
    CORRUPT(f.heap, h->by_off.count, 5, "offset index holds 5 blocks, the list 4");
    CORRUPT(f.heap, h->nspare, 1, "4 blocks and 0 spare records (1 counted), 4 made");
    CORRUPT(f.heap, h->made, 5, "4 blocks and 0 spare records (0 counted), 5 made");
    vram_heap_destroy(f.heap);
}

static void test_counters(void)
{
    fixture f = setup();
    bf_heap *h = f.h;
    CORRUPT(f.heap, h->in_use, 1024,
            "counters disagree with a walk: in_use 1024/1280 requested 1256/1256 live 2/2 "
            "(counter/walk)");
    CORRUPT(f.heap, h->requested, 1,
            "counters disagree with a walk: in_use 1280/1280 requested 1/1256 live 2/2 "
            "(counter/walk)");
    CORRUPT(f.heap, h->live, 3,
            "counters disagree with a walk: in_use 1280/1280 requested 1256/1256 live 3/2 "
            "(counter/walk)");
    CORRUPT(f.heap, h->peak_in_use, 1024, "a peak is below its current value");
    CORRUPT(f.heap, h->peak_footprint, 1536, "a peak is below its current value");
    vram_heap_destroy(f.heap);
}

/* The red-black rules, broken with nodes hung into the size index. */
static void test_tree_rules(void)
{
    fixture f = setup();
    vram__rb_tree *t = &f.h->by_size;
    vram__rb_node *root = t->root, *b = &f.b->u.by_size;
    vram__rb_node x = {0}, y = {0};

    CORRUPT(f.heap, root->parent_red, 1, "red-black tree: the root is red or has a parent");
    CORRUPT(f.heap, root->parent_red, (uintptr_t)&x,
            "red-black tree: the root is red or has a parent");
    CORRUPT(f.heap, b->parent_red, 1, /* red, no parent */
            "red-black tree: a child's parent link does not name its parent");
    CORRUPT(f.heap, root->right, &x, /* x.parent is NULL */
            "red-black tree: a child's parent link does not name its parent");
    CORRUPT(f.heap, t->count, 3, "red-black tree: node count differs from the recorded count");

    /* b is red: a red child under it, on either side. */
    x = (vram__rb_node){.parent_red = (uintptr_t)b | 1u};
    CORRUPT(f.heap, b->left, &x, "red-black tree: a red node has a red child");
    CORRUPT(f.heap, b->right, &x, "red-black tree: a red node has a red child");

    /* Two red nodes in a row in the root's right subtree. */
    x = (vram__rb_node){.parent_red = (uintptr_t)root | 1u, .left = &y};
    y = (vram__rb_node){.parent_red = (uintptr_t)&x | 1u};
    CORRUPT(f.heap, root->right, &x, "red-black tree: a red node has a red child");

    /* A black leaf on the right: one black node more than through red b. */
    x = (vram__rb_node){.parent_red = (uintptr_t)root};
    CORRUPT(f.heap, root->right, &x,
            "red-black tree: two paths cross different numbers of black nodes");

    vram_heap_destroy(f.heap);
}

/* The size index walked backwards (vram__rb_prev) visits the free blocks in
 * descending (size, offset) order, the forward walk reversed. Holes of 1 to 16
 * units between used blocks make a tree deep enough for every step kind. */
static void test_walk_backwards(void)
{
    vram_heap_config cfg = {.capacity = 1 << 20, .min_align = 256};
    vram_heap *heap = NULL;
    assert_ok(vram_heap_create(vram_heap_policy("bestfit"), &cfg, &heap));
    uint64_t hole[16], sep;
    for (int i = 0; i < 16; i++) {
        assert_ok(vram_heap_alloc(heap, (uint64_t)(16 - i) * 256, 0, &hole[i]));
        assert_ok(vram_heap_alloc(heap, 256, 0, &sep));
    }
    for (int i = 0; i < 16; i++)
        assert_ok(vram_heap_free(heap, hole[i]));
    const vram__rb_tree *t = &((bf_heap *)vram__heap_impl(heap))->by_size;
    assert_true(t->count == 17);
    const vram__rb_node *fwd[17];
    size_t n = 0;
    for (const vram__rb_node *x = vram__rb_first(t); x && n < 17; x = vram__rb_next(x))
        fwd[n++] = x;
    expect_eq_u64(n, 17);
    size_t k = n;
    const bf_block *later = NULL;
    for (const vram__rb_node *x = vram__rb_last(t); x; x = vram__rb_prev(x)) {
        const bf_block *blk = size_node((vram__rb_node *)x);
        assert_true(k > 0);
        expect_true(fwd[--k] == x);
        expect_true(!later || size_less(blk->size, blk->off, later));
        later = blk;
    }
    expect_eq_u64(k, 0);
    EXPECT_HEAP_CLEAN(heap);
    vram_heap_destroy(heap);
}

/* The size and offset indexes against the block list. */
static void test_indexes(void)
{
    fixture f = setup();
    bf_heap *h = f.h;

    vram__rb_erase(&h->by_size, &f.b->u.by_size);
    EXPECT_HEAP_VIOLATION(f.heap, "size index holds 1 blocks, the list 2 free ones");
    /* A used block in b's place: its node overwrites its requested bytes (with
     * the address of the tail's node, its parent, and the red bit), caught first. */
    size_insert(h, f.c);
    char want[128];
    snprintf(want, sizeof want, "used block at 1536: requested %llu outside (0, size 256]",
             (unsigned long long)f.c->u.requested);
    EXPECT_HEAP_VIOLATION(f.heap, want);
    vram__rb_erase(&h->by_size, &f.c->u.by_size);
    f.c->u.requested = 256;
    /* b linked after the largest block: out of (size, offset) order. */
    vram__rb_node *last = vram__rb_last(&h->by_size);
    vram__rb_link(&h->by_size, &f.b->u.by_size, last, &last->right);
    EXPECT_HEAP_VIOLATION(f.heap, "size index out of order at block 1024");
    vram__rb_erase(&h->by_size, &f.b->u.by_size);

    /* The size index holds a copy of b, not b itself. */
    bf_block copy = *f.b;
    size_insert(h, &copy);
    EXPECT_HEAP_VIOLATION(f.heap, "size index does not find free block at 1024");
    vram__rb_erase(&h->by_size, &copy.u.by_size);
    /* ... or a smaller stranger: b's search lands on the larger tail. */
    bf_block stranger = {.off = 8 * KiB, .size = 256};
    size_insert(h, &stranger);
    EXPECT_HEAP_VIOLATION(f.heap, "size index does not find free block at 1024");
    /* ... or the stranger instead of the tail: nothing is large enough for it. */
    vram__rb_erase(&h->by_size, &f.tail->u.by_size);
    size_insert(h, f.b);
    EXPECT_HEAP_VIOLATION(f.heap, "size index does not find free block at 1792");
    vram__rb_erase(&h->by_size, &stranger.u.by_size);
    size_insert(h, f.tail);
    EXPECT_HEAP_CLEAN(f.heap);

    /* The offset index maps b's offset to c. */
    vram__offmap_del(&h->by_off, 1024);
    vram__offmap_put(&h->by_off, 1024, f.c);
    EXPECT_HEAP_VIOLATION(f.heap, "offset index does not find block at 1024");
    vram__offmap_del(&h->by_off, 1024);
    vram__offmap_put(&h->by_off, 1024, f.b);
    EXPECT_HEAP_CLEAN(f.heap);
    vram_heap_destroy(f.heap);
}

int main(void)
{
    test_block_list();
    test_counters();
    test_tree_rules();
    test_walk_backwards();
    test_indexes();
    return test_finish("check_bestfit");
}
