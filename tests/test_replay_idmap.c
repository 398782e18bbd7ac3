/* test_replay_idmap.c - the replayer's id and key maps against a reference
 * array over a random sequence of puts and removes (seed printed). */
#include <stdio.h>
#include <string.h>

#include "idmap.h"
#include "testlib.h"

enum { KEYS = 4096, OPS = 400000 };

static void test_idmap(uint64_t seed)
{
    static uint64_t ref[KEYS];
    static int present[KEYS];
    vsim_idmap *m;
    assert_ok(vsim_idmap_create(sizeof(uint64_t), &m));
    size_t count = 0;
    for (int i = 0; i < OPS; i++) {
        uint64_t r = test_rand(&seed);
        size_t k = (size_t)(r % KEYS);
        /* keys spread over the whole 64-bit space, 0 included */
        uint64_t key = k * 0x9e3779b97f4a7c15ull;
        if ((r >> 32) % 3) {
            int created;
            uint64_t *v = vsim_idmap_put(m, key, &created);
            assert_true(v != NULL);
            expect_eq_u64(created, !present[k]);
            if (created)
                expect_eq_u64(*v, 0);
            *v = r;
            ref[k] = r;
            count += !present[k];
            present[k] = 1;
        } else {
            expect_eq_u64(vsim_idmap_remove(m, key), present[k]);
            count -= present[k];
            present[k] = 0;
        }
        if (i % 1000 == 0) {
            for (size_t j = 0; j < KEYS; j++) {
                uint64_t *v = vsim_idmap_get(m, j * 0x9e3779b97f4a7c15ull);
                expect_true((v != NULL) == present[j]);
                if (v && *v != ref[j]) {
                    test_failures++;
                    fprintf(stderr, "key %zu: wrong value\n", j);
                }
            }
            expect_eq_u64(vsim_idmap_count(m), count);
        }
    }
    vsim_idmap_destroy(m);
}

static void test_keymap(uint64_t seed)
{
    static int ref[KEYS];
    vsim_keymap *m;
    assert_ok(vsim_keymap_create(sizeof(int), &m));
    for (int i = 0; i < OPS / 4; i++) {
        uint64_t r = test_rand(&seed);
        int k = (int)(r % KEYS);
        char key[32];
        snprintf(key, sizeof key, "kv:%d", k);
        if ((r >> 32) % 3) {
            int created;
            int *v = vsim_keymap_put(m, key, &created);
            assert_true(v != NULL);
            expect_eq_u64(created, ref[k] == 0);
            *v = k + 1;
            ref[k] = k + 1;
        } else {
            expect_eq_u64(vsim_keymap_remove(m, key), ref[k] != 0);
            ref[k] = 0;
        }
    }
    size_t count = 0;
    for (int k = 0; k < KEYS; k++) {
        char key[32];
        snprintf(key, sizeof key, "kv:%d", k);
        int *v = vsim_keymap_get(m, key);
        expect_true((v != NULL) == (ref[k] != 0));
        if (v)
            expect_eq_u64(*v, ref[k]);
        count += ref[k] != 0;
    }
    expect_eq_u64(vsim_keymap_count(m), count);
    vsim_keymap_destroy(m);
}

int main(void)
{
    uint64_t seed = 42;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 10);
    printf("idmap: seed %llu\n", (unsigned long long)seed);
    test_idmap(seed);
    test_keymap(seed);
    vsim_idmap *m;
    expect_status(vsim_idmap_create(0, &m), VRAM_EINVAL);
    return test_finish("replay_idmap");
}
