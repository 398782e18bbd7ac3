/* test_shared_edges.c - shared buffers at their edges: NULL arguments, the
 * reference count at 2^32 - 1, the last release of a buffer still acquired or
 * pinned, and deletions from the registry whose probe runs wrap around the end
 * of the table (backward-shift deletion must keep every other key findable). */
#include "test_manager_lib.h"

#include "vram/vram.h"

#include "../alloc/manager_internal.h"

#define MIB (UINT64_C(1) << 20)
#define SIZE UINT64_C(4096)

static vram_manager *make(void)
{
    vram_manager_config cfg = {0};
    cfg.device.capacity = 4 * MIB;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    return m;
}

static uint32_t refs_of(const vram_manager *m, vram_handle h)
{
    vram_handle_info info;
    if (vram_handle_get(m, h, &info))
        return UINT32_MAX;
    return info.shared_refs;
}

static void null_arguments(void)
{
    vram_manager *m = make();
    vram_handle h = {0};
    expect_status(vram_acquire_shared(NULL, "w", SIZE, 0, NULL, NULL, &h), VRAM_EINVAL);
    expect_status(vram_acquire_shared(m, "w", SIZE, 0, NULL, NULL, NULL), VRAM_EINVAL);
    expect_status(vram_acquire_shared(m, "w", 0, 0, NULL, NULL, &h), VRAM_EINVAL);
    expect_eq_u64(h.v, 0);
    expect_status(vram_release_shared(NULL, "w"), VRAM_EINVAL);
    expect_status(vram_release_shared(m, "w"), VRAM_ENOTFOUND); /* no registry yet */
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.shared_keys, 0);
    expect_eq_u64(st.handles, 0);
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* One more reference than 2^32 - 1 is VRAM_EOVERFLOW (the count is set near
 * the limit through the internal header) and changes nothing. */
static void refs_limit(void)
{
    vram_manager *m = make();
    vram_handle h, again = {0};
    assert_ok(vram_acquire_shared(m, "w", SIZE, 0, NULL, NULL, &h));
    vram__handle *s = &m->handles.slots[(uint32_t)h.v];
    s->shared_refs = UINT32_MAX;
    expect_status(vram_acquire_shared(m, "w", SIZE, 0, NULL, NULL, &again), VRAM_EOVERFLOW);
    expect_eq_u64(again.v, 0);
    expect_eq_u64(s->shared_refs, UINT32_MAX);
    s->shared_refs = 1;
    EXPECT_MANAGER_CLEAN(m);
    assert_ok(vram_release_shared(m, "w"));
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* The last reference of a buffer still acquired or pinned: VRAM_EBUSY, and
 * the key, the count and the buffer stay. */
static void last_release_busy(void)
{
    vram_manager *m = make();
    vram_handle h;
    assert_ok(vram_acquire_shared(m, "w", SIZE, 0, NULL, NULL, &h));
    assert_ok(vram_acquire(m, h, NULL));
    expect_status(vram_release_shared(m, "w"), VRAM_EBUSY);
    expect_eq_u64(refs_of(m, h), 1);
    assert_ok(vram_unacquire(m, h));
    assert_ok(vram_pin(m, h));
    expect_status(vram_release_shared(m, "w"), VRAM_EBUSY);
    expect_eq_u64(refs_of(m, h), 1);
    vram_manager_stats st;
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.shared_keys, 1);
    EXPECT_MANAGER_CLEAN(m);
    assert_ok(vram_unpin(m, h));
    assert_ok(vram_release_shared(m, "w"));
    expect_status(vram_handle_get(m, h, &(vram_handle_info){0}), VRAM_EDOUBLEFREE);
    vram_manager_stats_get(m, &st);
    expect_eq_u64(st.shared_keys, 0);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 0);
}

/* The registry's hash (FNV-1a); the tests below verify the slots it predicts. */
static uint32_t fnv1a(const char *key)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The n-th key ("key<N>") whose home slot in a 16-slot table is `home`. */
static void key_with_home(uint32_t home, int n, char out[16])
{
    for (unsigned i = 0;; i++) {
        snprintf(out, 16, "key%u", i);
        if ((fnv1a(out) & 15u) == home && n-- == 0)
            return;
    }
}

static void acquire(vram_manager *m, const char *key, vram_handle *h)
{
    assert_ok(vram_acquire_shared(m, key, SIZE, 0, NULL, NULL, h));
}

static void expect_slot(const vram_manager *m, uint32_t k, const char *key, int line)
{
    assert_true(m->shared.cap == 16);
    if (strcmp(m->shared.slots[k].key, key) != 0) {
        fprintf(stderr, "line %d: slot %u holds \"%s\", wanted \"%s\"\n", line, k,
                m->shared.slots[k].key, key);
        test_failures++;
    }
}

/* A second acquire of a key finds its buffer (the count goes to 2). */
static void expect_found(vram_manager *m, const char *key, vram_handle h)
{
    vram_handle again;
    acquire(m, key, &again);
    expect_eq_u64(again.v, h.v);
    expect_eq_u64(refs_of(m, h), 2);
}

/* Three keys of home 15 sit at slots 15, 0, 1. Deleting slot 0's key moves
 * slot 1's back into the hole: its home (15) precedes the hole cyclically;
 * then deleting slot 15's key moves that one on to slot 15. */
static void delete_wrapped_run(void)
{
    vram_manager *m = make();
    char x[16], y[16], z[16];
    key_with_home(15, 0, x);
    key_with_home(15, 1, y);
    key_with_home(15, 2, z);
    vram_handle hx, hy, hz;
    acquire(m, x, &hx);
    acquire(m, y, &hy);
    acquire(m, z, &hz);
    expect_slot(m, 15, x, __LINE__);
    expect_slot(m, 0, y, __LINE__);
    expect_slot(m, 1, z, __LINE__);
    assert_ok(vram_release_shared(m, y));
    expect_slot(m, 0, z, __LINE__);
    expect_slot(m, 1, "", __LINE__);
    expect_found(m, x, hx);
    expect_found(m, z, hz);
    expect_status(vram_release_shared(m, y), VRAM_ENOTFOUND);
    EXPECT_MANAGER_CLEAN(m);
    /* Deleting slot 15's key moves slot 0's (home 15) back to its home. */
    assert_ok(vram_release_shared(m, x));
    assert_ok(vram_release_shared(m, x));
    expect_slot(m, 15, z, __LINE__);
    expect_slot(m, 0, "", __LINE__);
    assert_ok(vram_release_shared(m, z));
    expect_eq_u64(refs_of(m, hz), 1);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 1);
}

/* Keys of homes 13, 14, 14, 14 sit at slots 13, 14, 15, 0. Deleting slot 13's
 * key moves nothing: each later key's home lies after the hole, also the one
 * that wrapped to slot 0. */
static void delete_before_wrapped_run(void)
{
    vram_manager *m = make();
    char p[16], q[16], r[16], s[16];
    key_with_home(13, 0, p);
    key_with_home(14, 0, q);
    key_with_home(14, 1, r);
    key_with_home(14, 2, s);
    vram_handle hp, hq, hr, hs;
    acquire(m, p, &hp);
    acquire(m, q, &hq);
    acquire(m, r, &hr);
    acquire(m, s, &hs);
    expect_slot(m, 13, p, __LINE__);
    expect_slot(m, 14, q, __LINE__);
    expect_slot(m, 15, r, __LINE__);
    expect_slot(m, 0, s, __LINE__);
    assert_ok(vram_release_shared(m, p));
    expect_slot(m, 13, "", __LINE__);
    expect_slot(m, 14, q, __LINE__);
    expect_slot(m, 15, r, __LINE__);
    expect_slot(m, 0, s, __LINE__);
    expect_found(m, q, hq);
    expect_found(m, r, hr);
    expect_found(m, s, hs);
    EXPECT_MANAGER_CLEAN(m);
    expect_eq_u64(vram_manager_destroy(m, NULL), 3);
}

int main(void)
{
    null_arguments();
    refs_limit();
    last_release_busy();
    delete_wrapped_run();
    delete_before_wrapped_run();
    return test_finish("shared_edges");
}
