/* test_manager_random.c - random operations over handles and shared keys
 * against a reference model (which handles exist, their sizes, pins, uses,
 * shared refcounts), on the host-backed sim so contents are verified at every
 * acquire; vram_manager_check every 256 operations. The seed is printed;
 * VRAM_TEST_SEED replays a run. */
#include "testlib.h"

#include "vram/vram.h"

#define MAXH 1024
#define NKEYS 24
#define CHECK_EVERY 256

typedef struct model_handle {
    vram_handle h;
    uint64_t size;
    uint32_t pins, uses;
    vram_backing backing;
    int live;
} model_handle;

typedef struct model_key {
    char name[16];
    uint64_t size;
    uint32_t refs;
    vram_handle h;
} model_key;

typedef struct model {
    model_handle hs[MAXH];
    model_key keys[NKEYS];
    vram_handle dead[64]; /* freed handles, to be refused */
    int ndead;
} model;

static model M;

static vram_status remat_fill(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    const model_handle *mh = ctx;
    return vram_device_fill(dev, addr, size, mh->h.v);
}

static vram_status key_loader(void *ctx, vram_device *dev, uint64_t addr, uint64_t size)
{
    const model_key *k = ctx;
    return vram_device_fill(dev, addr, size, 0x1000 + (uint64_t)(k - M.keys));
}

static void check_all(vram_manager *m, uint64_t seed, long op)
{
    char msg[256];
    vram_status st = vram_manager_check(m, msg, sizeof msg);
    if (st) {
        fprintf(stderr, "seed %" PRIu64 " op %ld: check: %s\n", seed, op, msg);
        exit(1);
    }
    uint64_t live = 0;
    for (int i = 0; i < MAXH; i++) {
        const model_handle *mh = &M.hs[i];
        if (!mh->live)
            continue;
        live++;
        vram_handle_info info;
        assert_ok(vram_handle_get(m, mh->h, &info));
        expect_eq_u64(info.size, mh->size);
        expect_eq_u64(info.pins, mh->pins);
        expect_eq_u64(info.uses, mh->uses);
        expect_true(info.shared_refs == 0);
        if (mh->pins || mh->uses || mh->backing == VRAM_BACKING_NONE)
            expect_true(info.resident);
    }
    uint64_t keys = 0;
    for (int k = 0; k < NKEYS; k++) {
        if (!M.keys[k].refs)
            continue;
        keys++;
        live++;
        vram_handle_info info;
        assert_ok(vram_handle_get(m, M.keys[k].h, &info));
        expect_eq_u64(info.shared_refs, M.keys[k].refs);
        expect_eq_u64(info.size, M.keys[k].size);
    }
    vram_manager_stats s;
    vram_manager_stats_get(m, &s);
    expect_eq_u64(s.handles, live);
    expect_eq_u64(s.shared_keys, keys);
    expect_true(s.resident_bytes <= s.heap.capacity);
    for (int d = 0; d < M.ndead; d++) {
        vram_handle_info info;
        vram_status g = vram_handle_get(m, M.dead[d], &info);
        expect_true(g == VRAM_ESTALE || g == VRAM_EDOUBLEFREE);
    }
    if (test_failures) {
        fprintf(stderr, "seed %" PRIu64 " op %ld: model mismatch\n", seed, op);
        exit(1);
    }
}

static void bury(vram_handle h)
{
    if (M.ndead < 64)
        M.dead[M.ndead++] = h;
    else
        M.dead[h.v % 64] = h;
}

/* One random operation; every status is checked against the model. */
static void step(vram_manager *m, uint64_t *rng)
{
    vram_device *dev = vram_manager_device(m);
    int i = (int)(test_rand(rng) % MAXH);
    model_handle *mh = &M.hs[i];
    unsigned what = (unsigned)(test_rand(rng) % 100);
    if (!mh->live) {
        if (what < 60) {
            /* one draw per statement: the order of draws is fixed */
            uint64_t limit = test_rand(rng) % 8 ? 4096 : 32768;
            mh->size = 1 + test_rand(rng) % limit;
            mh->backing = (vram_backing)(test_rand(rng) % 8 < 4 ? VRAM_BACKING_HOST
                                         : test_rand(rng) % 2 ? VRAM_BACKING_CALLBACK
                                                             : VRAM_BACKING_NONE);
            vram_alloc_desc d = {.size = mh->size, .backing = mh->backing,
                                 .remat = remat_fill, .remat_ctx = mh};
            d.align = test_rand(rng) % 4 ? 0 : 4096;
            d.priority = (int)(test_rand(rng) % 4);
            d.kind = (vram_kind)(test_rand(rng) % VRAM_KIND_COUNT);
            vram_status st = vram_alloc(m, &d, &mh->h);
            assert_true(st == VRAM_OK || st == VRAM_ENOMEM);
            mh->live = st == VRAM_OK;
            mh->pins = mh->uses = 0;
        } else if (what < 80) {
            int k = (int)(test_rand(rng) % NKEYS);
            model_key *mk = &M.keys[k];
            uint64_t size = mk->refs && test_rand(rng) % 10 ? mk->size : 256 + 512 * (uint64_t)k;
            vram_handle h;
            vram_status st = vram_acquire_shared(m, mk->name, size, (int)(test_rand(rng) % 4),
                                                 key_loader, mk, &h);
            if (mk->refs && size != mk->size) {
                expect_status(st, VRAM_EMISMATCH);
            } else if (st == VRAM_OK) {
                expect_true(!mk->refs || h.v == mk->h.v);
                mk->h = h;
                mk->size = size;
                mk->refs++;
                uint64_t addr;
                assert_ok(vram_acquire(m, h, &addr));
                expect_status(vram_device_verify(dev, addr, size, 0x1000 + (uint64_t)k), VRAM_OK);
                assert_ok(vram_unacquire(m, h));
            } else {
                expect_status(st, VRAM_ENOMEM);
            }
        } else {
            int k = (int)(test_rand(rng) % NKEYS);
            model_key *mk = &M.keys[k];
            vram_status st = vram_release_shared(m, mk->name);
            expect_status(st, mk->refs ? VRAM_OK : VRAM_ENOTFOUND);
            if (mk->refs && --mk->refs == 0)
                bury(mk->h);
        }
        return;
    }
    vram_status st;
    if (what < 15) {
        st = vram_free(m, mh->h);
        expect_status(st, mh->pins || mh->uses ? VRAM_EBUSY : VRAM_OK);
        if (st == VRAM_OK) {
            mh->live = 0;
            bury(mh->h);
        }
    } else if (what < 40) {
        st = vram_touch(m, mh->h);
        assert_true(st == VRAM_OK || st == VRAM_ENOMEM);
    } else if (what < 55) {
        uint64_t addr = 0;
        st = vram_acquire(m, mh->h, &addr);
        assert_true(st == VRAM_OK || st == VRAM_ENOMEM);
        if (st == VRAM_OK) {
            mh->uses++;
            expect_status(vram_device_verify(dev, addr, mh->size, mh->h.v), VRAM_OK);
        }
    } else if (what < 75) {
        st = vram_unacquire(m, mh->h);
        expect_status(st, mh->uses ? VRAM_OK : VRAM_EINVAL);
        if (mh->uses)
            mh->uses--;
    } else if (what < 80) {
        st = vram_pin(m, mh->h);
        assert_true(st == VRAM_OK || st == VRAM_ENOMEM);
        mh->pins += st == VRAM_OK;
    } else if (what < 95) {
        st = vram_unpin(m, mh->h);
        expect_status(st, mh->pins ? VRAM_OK : VRAM_EINVAL);
        if (mh->pins)
            mh->pins--;
    } else if (M.ndead) {
        vram_handle dead = M.dead[test_rand(rng) % (uint64_t)M.ndead];
        st = vram_touch(m, dead);
        expect_true(st == VRAM_ESTALE || st == VRAM_EDOUBLEFREE);
    }
}

/* Frees everything the model holds; the manager must end empty. */
static void drain(vram_manager *m)
{
    for (int i = 0; i < MAXH; i++) {
        model_handle *mh = &M.hs[i];
        if (!mh->live)
            continue;
        while (mh->uses--)
            assert_ok(vram_unacquire(m, mh->h));
        while (mh->pins--)
            assert_ok(vram_unpin(m, mh->h));
        assert_ok(vram_free(m, mh->h));
        mh->live = 0;
    }
    for (int k = 0; k < NKEYS; k++)
        while (M.keys[k].refs) {
            assert_ok(vram_release_shared(m, M.keys[k].name));
            M.keys[k].refs--;
        }
}

static void run(const char *heap, const char *policy, uint64_t capacity, long ops, uint64_t seed)
{
    memset(&M, 0, sizeof M);
    for (int k = 0; k < NKEYS; k++)
        snprintf(M.keys[k].name, sizeof M.keys[k].name, "w%d", k);
    vram_manager_config cfg = {0};
    cfg.device.capacity = 2 * capacity;
    cfg.device.host_backing = 1;
    cfg.heap.capacity = capacity;
    cfg.heap_policy = heap;
    cfg.evict_policy = policy;
    cfg.evict = 1;
    vram_manager *m;
    assert_ok(vram_manager_create(&cfg, &m));
    uint64_t rng = seed;
    for (long op = 1; op <= ops; op++) {
        step(m, &rng);
        if (op % CHECK_EVERY == 0)
            check_all(m, seed, op);
    }
    vram_manager_stats s;
    vram_manager_stats_get(m, &s);
    printf("  %s/%s: %ld ops, %" PRIu64 " evictions, %" PRIu64 " re-materialisations, %" PRIu64
           " failed allocs (%" PRIu64 " despite free bytes)\n",
           heap, policy, ops, s.evictions, s.rematerialisations, s.failed_allocs,
           s.failed_despite_free);
    expect_true(s.evictions > 0 && s.rematerialisations > 0);
    drain(m);
    check_all(m, seed, ops);
    expect_eq_u64(vram_manager_destroy(m, stderr), 0);
}

int main(void)
{
    uint64_t seed = 0x5eed5eed;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("manager_random: seed %" PRIu64 " (VRAM_TEST_SEED=%" PRIu64 " replays it)\n", seed, seed);
    const uint64_t mib = UINT64_C(1) << 20;
    run("bestfit", "prio-lru", mib, 200000, seed);
    run("bestfit", "lru", mib, 50000, seed + 1);
    run("bestfit", "cost", mib, 50000, seed + 2);
    run("tlsf", "prio-lru", mib, 50000, seed + 3);
    run("buddy", "prio-lru", mib, 50000, seed + 4);
    run("caching", "prio-lru", 4 * mib, 50000, seed + 5); /* 2 MiB segments */
    return test_finish("manager_random");
}
