/* test_replay_random.c - random consistent traces (seeded; VRAM_TEST_SEED
 * overrides) on small devices, replayed through every policy with the
 * invariant checks after every event, compaction on OOM, all eviction
 * policies, a tensor cache on every third trace and expandable segments on
 * every fourth: every run must end ok, and its summary must equal what the
 * database rows add up to. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"
#include "testlib.h"
#include "vram/caching.h"

enum { TRACES = 40, MAX_LIVE = 512 };

static uint64_t pick(uint64_t *seed, const uint64_t *v, size_t n) { return v[test_rand(seed) % n]; }

/* Writes a random trace to `path`: allocs, frees, uses, shared keys, steps. */
static void write_trace(const char *path, uint64_t seed)
{
    static const char *const kinds[] = {"weight", "kv", "activation", "workspace", "adapter",
                                        "other"};
    static const uint64_t caps[] = {1u << 20, 4u << 20, 64u << 20};
    static const uint64_t blocks[] = {0, 65536, 262144};
    static const uint64_t sizes[] = {1, 255, 256, 4096, 65536, 100000, 1u << 20, 3u << 20};
    static const uint64_t aligns[] = {0, 0, 0, 256, 4096, 65536};
    static const char *const keys[] = {"w1", "w2", "kv:a", "kv:b"};
    FILE *f = fopen(path, "w");
    assert_true(f != NULL);
    uint64_t block = pick(&seed, blocks, 3);
    fprintf(f, "vramtrace 1\nmodel random\nengine paged\ncapacity %llu\n",
            (unsigned long long)pick(&seed, caps, 3));
    if (block)
        fprintf(f, "kv_block_bytes %llu\n", (unsigned long long)block);
    uint64_t live[MAX_LIVE], key_size[4] = {0}, key_held[4] = {0}, next_id = 1;
    size_t nlive = 0;
    int events = 10 + (int)(test_rand(&seed) % 400);
    for (int i = 0; i < events; i++) {
        unsigned x = (unsigned)(test_rand(&seed) % 100);
        if ((x < 40 || nlive == 0) && nlive < MAX_LIVE) {
            const char *kind = kinds[test_rand(&seed) % 6];
            uint64_t size = strcmp(kind, "kv") == 0 && block && test_rand(&seed) % 5
                                ? block
                                : pick(&seed, sizes, 8);
            fprintf(f, "alloc %llu %llu %llu %s %u\n", (unsigned long long)next_id,
                    (unsigned long long)size, (unsigned long long)pick(&seed, aligns, 6), kind,
                    (unsigned)(test_rand(&seed) % 101));
            live[nlive++] = next_id++;
        } else if (x < 65 && nlive) {
            size_t k = (size_t)(test_rand(&seed) % nlive);
            fprintf(f, "free %llu\n", (unsigned long long)live[k]);
            live[k] = live[--nlive];
        } else if (x < 85 && nlive) {
            fprintf(f, "use %llu\n", (unsigned long long)live[test_rand(&seed) % nlive]);
        } else if (x < 93) {
            int k = (int)(test_rand(&seed) % 4);
            if (key_held[k] == 0) {
                static const uint64_t key_sizes[] = {4096, 65536, 1u << 20};
                key_size[k] = k >= 2 && block ? block : pick(&seed, key_sizes, 3);
            }
            key_held[k]++;
            fprintf(f, "acquire %s %llu %u\n", keys[k], (unsigned long long)key_size[k],
                    (unsigned)(test_rand(&seed) % 101));
        } else {
            int k = (int)(test_rand(&seed) % 4);
            if (key_held[k]) {
                key_held[k]--;
                fprintf(f, "release %s\n", keys[k]);
            } else {
                fprintf(f, "step %d\n", i);
            }
        }
    }
    assert_true(fclose(f) == 0);
}

static int64_t q1(sqlite3 *db, const char *sql, int64_t run)
{
    sqlite3_stmt *s;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, run);
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return v;
}

int main(void)
{
    uint64_t seed = 20261122;
    const char *env = getenv("VRAM_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 10);
    printf("replay_random: seed %llu\n", (unsigned long long)seed);
    static const char *const evict[] = {"prio-lru", "lru", "cost"};
    const char *path = "replay_random.db";
    unlink(path);
    unlink("replay_random.db-wal");
    unlink("replay_random.db-shm");
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    sqlite3 *q;
    assert_true(sqlite3_open(path, &q) == SQLITE_OK);
    vram_caching_options expandable;
    assert_ok(vram_caching_options_parse("expandable_segments:True", &expandable, NULL, 0));
    int runs = 0;
    for (int t = 0; t < TRACES && !test_failures; t++) {
        uint64_t trace_seed = seed + (uint64_t)t;
        write_trace("replay_random.trace", trace_seed);
        vbounds b;
        assert_ok(vbounds_compute("replay_random.trace", 0, 1, &b, err, sizeof err));
        for (const char *const *p = vram_heap_policy_names; *p; p++) {
            vreplay_options o;
            memset(&o, 0, sizeof o);
            o.trace_path = "replay_random.trace";
            o.policy = *p;
            o.evict_policy = evict[t % 3];
            o.sample_every = 1;
            o.check_every = 1;
            o.defrag_on_oom = t % 2;
            /* every third trace with a tensor cache of an eighth of the device */
            o.tensor_cache = t % 3 == 2 ? b.capacity / 8 / 256 * 256 : 0;
            o.caching = t % 4 == 1 ? &expandable : NULL;
            o.bounds = &b;
            o.db = db;
            vreplay_result r;
            vram_status st = vreplay_run(&o, &r);
            if (st || r.status == VREPLAY_RUN_FAILED || r.status == VREPLAY_RUN_INTERRUPTED) {
                fprintf(stderr, "trace seed %llu, %s: %s %s\n", (unsigned long long)trace_seed,
                        *p, vram_status_name(st), r.message);
                test_failures++;
                continue;
            }
            if (r.status != VREPLAY_RUN_OK)
                continue;
            runs++;
            /* the run's rows were committed with its status: another connection sees them */
            expect_eq_u64(q1(q, "SELECT ooms FROM runs WHERE id=?1", r.run_id), r.ooms);
            expect_eq_u64(q1(q, "SELECT count(*) FROM events WHERE run_id=?1 AND kind='oom'",
                             r.run_id),
                          r.ooms);
            expect_eq_u64(q1(q, "SELECT count(*) FROM samples WHERE run_id=?1", r.run_id),
                          b.events);
            expect_eq_u64(q1(q, "SELECT coalesce(sum(count), 0) FROM events WHERE run_id=?1 AND"
                                " kind='eviction'",
                             r.run_id),
                          r.evictions);
            expect_true(r.peak_live <= b.peak_live);
        }
    }
    sqlite3_close(q);
    assert_ok(vdb_close(db, err, sizeof err));
    printf("replay_random: %d runs ok\n", runs);
    return test_finish("replay_random");
}
