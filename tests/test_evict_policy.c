/* test_evict_policy.c - every eviction policy against a reference: random
 * insert/remove/touch/pop/unpop, each pop checked to be the smallest key
 * by a linear scan of the reference (the policy itself never scans). */
#include "testlib.h"

#include "vram/evict.h"

#define N 512

typedef struct ref {
    int in[N];
    vram_evict_item item[N];
} ref;

/* The smallest key among inserted indices, by scanning. */
static int ref_min(const vram_evict_ops *ops, void *impl, const ref *r, vram_evict_key *best)
{
    int found = 0;
    for (int i = 0; i < N; i++) {
        if (!r->in[i])
            continue;
        vram_evict_key k = ops->key(impl, (uint32_t)i);
        if (!found || vram_evict_key_cmp(&k, best) < 0)
            *best = k;
        found = 1;
    }
    return found;
}

static void run_policy(const char *name, uint64_t seed)
{
    const vram_evict_ops *ops = vram_evict_policy(name);
    assert_true(ops != NULL);
    void *impl;
    assert_ok(ops->create(&impl));
    assert_ok(ops->reserve(impl, N / 2));
    assert_ok(ops->reserve(impl, N));
    static ref r;
    memset(&r, 0, sizeof r);
    uint64_t clock = 0, rng = seed, count = 0;
    uint32_t popped[8];
    int npopped = 0;
    for (int op = 0; op < 100000; op++) {
        uint32_t i = (uint32_t)(test_rand(&rng) % N);
        int what = (int)(test_rand(&rng) % 10);
        if (npopped && what >= 8) { /* undo the pops of an unfinished round */
            while (npopped) {
                uint32_t v = popped[--npopped];
                ops->unpop(impl, v);
                r.in[v] = 1;
                count++;
            }
            continue;
        }
        if (npopped && what < 7) { /* confirm them */
            npopped = 0;
            continue;
        }
        if (what < 4 && !r.in[i]) {
            r.item[i] = (vram_evict_item){.last_use = ++clock, .reload_ns = 10000.0};
            r.item[i].priority = (int)(test_rand(&rng) % 5); /* one draw per statement */
            r.item[i].size = 256 + test_rand(&rng) % 100000;
            r.item[i].reload_ns += (double)r.item[i].size / 25.0;
            ops->insert(impl, i, &r.item[i]);
            r.in[i] = 1;
            count++;
        } else if (what < 6 && r.in[i]) {
            r.item[i].last_use = ++clock;
            ops->touch(impl, i, &r.item[i]);
        } else if (what < 7 && r.in[i]) {
            ops->remove(impl, i);
            r.in[i] = 0;
            count--;
        } else if (npopped < 8) {
            vram_evict_key want, got;
            int any = ref_min(ops, impl, &r, &want);
            uint32_t v;
            int ok = ops->pop(impl, &v, &got);
            expect_true(ok == any);
            if (!ok)
                continue;
            expect_true(r.in[v]);
            expect_true(vram_evict_key_cmp(&got, &want) == 0);
            r.in[v] = 0;
            count--;
            popped[npopped++] = v;
            ops->evicted(impl, &got);
        }
        expect_eq_u64(ops->count(impl), count);
        if (test_failures) {
            fprintf(stderr, "policy %s seed %" PRIu64 " op %d\n", name, seed, op);
            exit(1);
        }
    }
    ops->destroy(impl);
}

int main(void)
{
    uint64_t seed = 0x5eed0001;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("evict_policy: seed %" PRIu64 "\n", seed);
    for (const char *const *p = vram_evict_policy_names; *p; p++)
        run_policy(*p, seed);
    expect_true(vram_evict_policy("mru") == NULL && vram_evict_policy(NULL) == NULL);
    vram_evict_key a = {1, 5}, b = {1, 6}, c = {2, 0};
    expect_true(vram_evict_key_cmp(&a, &b) < 0 && vram_evict_key_cmp(&c, &b) > 0 &&
                vram_evict_key_cmp(&a, &a) == 0);
    return test_finish("evict_policy");
}
