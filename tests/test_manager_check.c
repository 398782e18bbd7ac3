/* test_manager_check.c - vram_manager_check finds each kind of violation:
 * the state is corrupted on purpose through the internal header, the check
 * must name the violation, and it passes again once the state is restored. */
#include "test_manager_lib.h"

#include "vram/vram.h"

#include "../alloc/manager_internal.h"

#define MIB (UINT64_C(1) << 20)

static vram_manager *make(void)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 4 * MIB;
    cfg.evict = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

static vram_handle alloc_one(vram_manager *m, uint64_t size, int prio)
{
    vram_alloc_desc d = {.size = size, .priority = prio, .backing = VRAM_BACKING_HOST};
    vram_handle h;
    assert_ok(vram_alloc(m, &d, &h));
    return h;
}

/* The check fails and its message contains `words`. */
static void expect_violation(vram_manager *m, const char *words, int line)
{
    char msg[256];
    vram_status st = vram_manager_check(m, msg, sizeof msg);
    if (st != VRAM_ECORRUPT || !strstr(msg, words)) {
        fprintf(stderr, "line %d: wanted a violation with \"%s\", got %s: \"%s\"\n", line, words,
                vram_status_name(st), msg);
        test_failures++;
    }
}

int main(void)
{
    vram_manager *m = make();
    vram_handle a = alloc_one(m, MIB, 0);
    vram_handle b = alloc_one(m, MIB, 1);
    vram_handle c = alloc_one(m, MIB, 2);
    vram_handle d = alloc_one(m, MIB, 3);
    vram_handle e = alloc_one(m, MIB, 9); /* evicts a */
    vram_handle s;
    assert_ok(vram_acquire_shared(m, "w", 4096, 0, NULL, NULL, &s));
    (void)b, (void)e;
    EXPECT_MANAGER_CLEAN(m);
    vram__handle *sa = &m->handles.slots[(uint32_t)a.v];
    vram__handle *sc = &m->handles.slots[(uint32_t)c.v];
    vram__handle *sd = &m->handles.slots[(uint32_t)d.v];
    vram__handle *ss = &m->handles.slots[(uint32_t)s.v];
    assert_true(!sa->resident && sc->resident && sc->evictable);

    sa->pins = 1;
    expect_violation(m, "pinned or in use but evicted", __LINE__);
    sa->pins = 0;

    sc->evictable = 0;
    expect_violation(m, "is not in the eviction set but evictable", __LINE__);
    sc->evictable = 1;

    m->resident_bytes++;
    expect_violation(m, "counts:", __LINE__);
    m->resident_bytes--;

    sc->size += 4096; /* c's neighbour above starts where c ended */
    m->resident_bytes += 4096;
    m->evictable_bytes += 4096;
    expect_violation(m, "overlap", __LINE__);
    sc->size -= 4096;
    sd->size += 4096; /* d is the highest block */
    expect_violation(m, "sits in a heap block", __LINE__);
    sd->size -= 4096;
    m->resident_bytes -= 4096;
    m->evictable_bytes -= 4096;

    vram__round saved = m->round;
    assert_true(saved.valid);
    m->round.last.major = 5; /* as if a priority-5 handle had been evicted: c (2) was colder */
    expect_violation(m, "eviction order", __LINE__);
    m->round = saved;

    ss->shared_refs = 0;
    expect_violation(m, "shared handles but", __LINE__);
    ss->shared_refs = 1;

    EXPECT_MANAGER_CLEAN(m);
    uint64_t stray;
    assert_ok(vram_heap_alloc(vram_manager_heap(m), 256, 0, &stray));
    expect_violation(m, "has no handle", __LINE__);
    assert_ok(vram_heap_free(vram_manager_heap(m), stray));

    EXPECT_MANAGER_CLEAN(m);
    expect_status(vram_manager_check(NULL, NULL, 0), VRAM_EINVAL);
    expect_eq_u64(vram_manager_destroy(m, NULL), 6);
    return test_finish("manager_check");
}
