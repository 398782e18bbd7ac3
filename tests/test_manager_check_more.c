/* test_manager_check_more.c - the violations of vram_manager_check that
 * test_manager_check.c does not provoke: the state is corrupted on purpose
 * through the internal headers, the check must return VRAM_ECORRUPT and name
 * the violation, and it passes again once the state is restored. */
#include "test_manager_lib.h"

#include "vram/vram.h"

#include "../alloc/caching_internal.h"
#include "../alloc/manager_internal.h"

#define MIB (UINT64_C(1) << 20)

static vram_manager *make(uint64_t capacity, int host_backing, const char *heap_policy)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = capacity;
    cfg.device.host_backing = host_backing;
    cfg.heap_policy = heap_policy;
    cfg.evict = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

static vram_handle alloc_one(vram_manager *m, uint64_t size, int prio, vram_backing backing)
{
    vram_alloc_desc d = {.size = size, .priority = prio, .backing = backing};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

static vram__handle *slot(vram_manager *m, vram_handle h) { return &m->handles.slots[(uint32_t)h.v]; }

/* The check fails with VRAM_ECORRUPT and its message contains `words`. */
static void expect_violation(const vram_manager *m, const char *words, int line)
{
    char msg[256];
    vram_status st = vram_manager_check(m, msg, sizeof msg);
    if (st != VRAM_ECORRUPT || !strstr(msg, words)) {
        fprintf(stderr, "line %d: wanted a violation with \"%s\", got %s: \"%s\"\n", line, words,
                vram_status_name(st), msg);
        test_failures++;
    }
}

static vram__shared_entry *registry_entry(vram_manager *m, const char *key)
{
    for (uint32_t k = 0; k < m->shared.cap; k++)
        if (strcmp(m->shared.slots[k].key, key) == 0)
            return &m->shared.slots[k];
    return NULL;
}

/* Per-handle flags, the recounted totals and the policy's set. */
static void handle_rules(void)
{
    vram_manager *m = make(8 * MIB, 0, NULL);
    vram_handle a = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    vram_handle b = alloc_one(m, MIB, 1, VRAM_BACKING_HOST);
    vram_handle n = alloc_one(m, MIB, 0, VRAM_BACKING_NONE);
    vram__handle *sa = slot(m, a), *sn = slot(m, n);
    EXPECT_MANAGER_CLEAN(m);

    sn->evictable = 1; /* a never-evicted handle flagged as in the set */
    expect_violation(m, "is in the eviction set but not evictable", __LINE__);
    sn->evictable = 0;

    unsigned char fake;
    sa->host_copy = &fake; /* a resident handle with a host copy */
    expect_violation(m, "(resident) holds a host copy", __LINE__);
    sa->host_copy = NULL;

    m->handles.live++;
    expect_violation(m, "counts: 3 live", __LINE__);
    /* With no room for the message the status still tells, and msg is untouched. */
    char small[8] = "unset";
    expect_status(vram_manager_check(m, small, 0), VRAM_ECORRUPT);
    expect_true(strcmp(small, "unset") == 0);
    m->handles.live--;
    m->resident_handles++;
    expect_violation(m, "counts: 3 live, 3 resident", __LINE__);
    m->resident_handles--;
    m->evictable_bytes++;
    expect_violation(m, "evictable bytes recounted", __LINE__);
    m->evictable_bytes--;

    /* Totals that agree with each other but not with the heap's capacity. */
    sa->size += 8 * MIB;
    m->resident_bytes += 8 * MIB;
    m->evictable_bytes += 8 * MIB;
    expect_violation(m, "exceed the capacity 8388608", __LINE__);
    sa->size -= 8 * MIB;
    m->resident_bytes -= 8 * MIB;
    m->evictable_bytes -= 8 * MIB;

    /* The policy lost a handle: pop one victim, then put it back exactly. */
    uint32_t victim;
    vram_evict_key key;
    assert_true(m->policy->pop(m->policy_impl, &victim, &key));
    expect_eq_u64(victim, (uint32_t)a.v); /* priority 0, the least recently used */
    expect_violation(m, "the prio-lru policy holds 1 handles, 2 evictable", __LINE__);
    m->policy->unpop(m->policy_impl, victim);
    EXPECT_MANAGER_CLEAN(m);

    expect_status(vram_free(m, b), VRAM_OK);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 2);
}

/* An evicted handle on a host-backed device keeps its contents in a host copy. */
static void host_copy_rule(void)
{
    vram_manager *m = make(2 * MIB, 1, NULL);
    vram_handle x = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    alloc_one(m, MIB, 1, VRAM_BACKING_HOST);
    alloc_one(m, MIB, 1, VRAM_BACKING_HOST); /* evicts x */
    vram__handle *sx = slot(m, x);
    assert_true(!sx->resident && sx->host_copy);
    EXPECT_MANAGER_CLEAN(m);
    void *copy = sx->host_copy;
    sx->host_copy = NULL;
    expect_violation(m, "(evicted) lacks a host copy", __LINE__);
    sx->host_copy = copy;
    EXPECT_MANAGER_CLEAN(m);
    expect_status(vram_touch(m, x), VRAM_OK); /* the copy comes back and verifies */
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 3);
}

/* Every registry key names a distinct live shared handle. */
static void registry_rules(void)
{
    vram_manager *m = make(8 * MIB, 0, NULL);
    vram_handle plain = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    vram_handle gone = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    vram_handle k1, k2;
    assert_ok(vram_acquire_shared(m, "k1", 4096, 0, NULL, NULL, &k1));
    assert_ok(vram_acquire_shared(m, "k2", 4096, 0, NULL, NULL, &k2));
    assert_ok(vram_free(m, gone));
    EXPECT_MANAGER_CLEAN(m);
    vram__shared_entry *e = registry_entry(m, "k1");
    assert_true(e && e->index == (uint32_t)k1.v);

    e->index = m->handles.used + 3; /* beyond the table */
    expect_violation(m, "shared key \"k1\" names no live shared handle", __LINE__);
    e->index = (uint32_t)gone.v; /* a freed slot */
    expect_violation(m, "shared key \"k1\" names no live shared handle", __LINE__);
    e->index = (uint32_t)plain.v; /* a live handle that is not shared */
    expect_violation(m, "shared key \"k1\" names no live shared handle", __LINE__);
    e->index = (uint32_t)k2.v; /* k2's handle, named twice; k1's is named by none */
    expect_violation(m, "names a handle another key names", __LINE__);
    e->index = (uint32_t)k1.v;
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 3);
}

/* Resident handles against the heap's used blocks. */
static void block_rules(void)
{
    vram_manager *m = make(8 * MIB, 0, NULL);
    vram_handle a = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    vram_handle b = alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    vram__handle *sa = slot(m, a), *sb = slot(m, b);
    assert_true(sa->offset < sb->offset);
    EXPECT_MANAGER_CLEAN(m);

    /* The lowest two overlap (the scan stops at the first pair of three). */
    sa->size = sb->offset - sa->offset + 1;
    m->resident_bytes += sa->size - MIB;
    m->evictable_bytes += sa->size - MIB;
    expect_violation(m, "overlap at offset", __LINE__);
    m->resident_bytes -= sa->size - MIB;
    m->evictable_bytes -= sa->size - MIB;
    sa->size = MIB;

    /* A block large enough whose requested bytes are not the handle's size. */
    sb->size--;
    m->resident_bytes--;
    m->evictable_bytes--;
    expect_violation(m, "of 1048575 bytes sits in a heap block of 1048576 bytes (1048576 requested)",
                     __LINE__);
    sb->size++;
    m->resident_bytes++;
    m->evictable_bytes++;
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 3);
}

/* A violation of the heap policy's own check comes first, named with the policy. */
static void heap_rule(void)
{
    vram_manager *m = make(64 * MIB, 0, "caching");
    alloc_one(m, MIB, 0, VRAM_BACKING_HOST);
    EXPECT_MANAGER_CLEAN(m);
    caching_heap *c = vram__heap_impl(vram_manager_heap(m));
    c->live_allocs++;
    expect_violation(m, "heap (caching): 1 used blocks but 2 live allocations", __LINE__);
    c->live_allocs--;
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 1);
}

int main(void)
{
    handle_rules();
    host_copy_rule();
    registry_rules();
    block_rules();
    heap_rule();
    return test_finish("manager_check_more");
}
