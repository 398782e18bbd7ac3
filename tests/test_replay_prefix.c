/* test_replay_prefix.c - the replay's prefix cache (sim/replay/replay_prefix.c)
 * over hand-made traces with known answers:
 *   - tests/data/prefix_lru.trace: the classic page reference string
 *     7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1, one block per request, at 3
 *     blocks. LRU hits 8 (12 faults, the textbook figure); Belady's MIN, which
 *     may leave a key uncached, hits 12 (an exhaustive search over every
 *     choice, with and without caching the new key, finds no more); an
 *     unlimited cache hits 20 - 6 distinct = 14. The module's vllm, lru and
 *     priority policies are LRU here (chains of one block, all leaves), lfu
 *     may do better but never above Belady. With a host tier of 20 blocks
 *     every repeat hits on one tier or the other: 14.
 *   - tests/data/prefix_chain.trace: chained segments of two blocks; request
 *     1 misses its 3 blocks, request 2 shares its first segment (2 hits), 3
 *     repeats 1 (3 hits): 5 of 9.
 * Then every contradiction the replay refuses with the trace line, the runs
 * table's columns, and the committed Mooncake trace's hit ratio against its
 * references under every policy. Last, the generator's own cache against the
 * replay's: a trace generated with each policy, replayed with that policy at
 * the trace's capacity, gives the generator's hits, lookups and evictions
 * exactly (the replay takes a block where the trace's kv allocs say the
 * generator took one); for the committed trace, those its end comment gives.
 * And the pool layout serves all of that trace's KV, cached prefix blocks
 * included, from its block pool. */
#include <zlib.h>

#include "idmap.h"
#include "test_cli_lib.h"
#include "test_db_lib.h"
#include "test_mooncake.h"
#include "tracegen.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"
#define DB VRAM_BINARY_DIR "/test_replay_prefix.db"

/* A bestfit replay of `trace` with the prefix cache's policy, blocks and
 * host entries (0: the defaults), checked every `check_every` events (1: the
 * hand-made traces; a generated one's checks each walk the whole cache). */
static vreplay_result run_checked(const char *trace, const char *policy, uint64_t blocks, uint64_t host,
                                  vdb *db, uint64_t check_every)
{
    vreplay_options o = test_replay_opts(trace, "bestfit", NULL, db, "test_replay_prefix");
    o.sample_every = check_every == 1;
    o.check_every = check_every;
    o.prefix.policy = policy;
    o.prefix.blocks = blocks;
    o.prefix.host_blocks = host;
    vreplay_result r;
    expect_status(vreplay_run(&o, &r), VRAM_OK);
    if (r.status != VREPLAY_RUN_OK)
        fprintf(stderr, "%s (%s): %s\n", trace, policy, r.message);
    expect_true(r.status == VREPLAY_RUN_OK);
    return r;
}

static vreplay_result run(const char *trace, const char *policy, uint64_t blocks, uint64_t host, vdb *db)
{
    return run_checked(trace, policy, blocks, host, db, 1);
}

static void test_lru_string(void)
{
    static const char *const lru_like[] = {"vllm", "lru", "priority"};
    for (size_t i = 0; i < 3; i++) {
        vreplay_result r = run(DATA "prefix_lru.trace", lru_like[i], 0, 0, NULL);
        const vrprefix_result *p = &r.prefix;
        expect_true(p->on);
        expect_true(strcmp(p->policy, lru_like[i]) == 0);
        expect_eq_u64(p->blocks, 3); /* the trace's prefix_cache_blocks */
        expect_eq_u64(p->lookups, 20);
        expect_eq_u64(p->lookup_blocks, 20);
        expect_eq_u64(p->lookup_tokens, 20 * 17);
        expect_eq_u64(p->hit_blocks, 8);
        expect_eq_u64(p->host_hit_blocks, 0);
        expect_eq_u64(p->evictions, 12 - 3); /* every miss after the first three */
        expect_eq_u64(p->saved_tokens, 8 * 16);
        expect_true(p->hit_ratio == 8.0 / 20);
        expect_true(p->token_hit_ratio == 128.0 / 340);
        expect_eq_u64(p->lru_hits, 8);
        expect_eq_u64(p->belady_hits, 12);
        expect_eq_u64(p->unlimited_hits, 14);
        expect_eq_u64(p->alloc_failures, 0);
        /* 128 tokens at the default rate (the trace gives none) */
        expect_true(p->saved_ms > 128 / VREPLAY_PREFILL_DEFAULT * 1e3 - 1e-9 &&
                    p->saved_ms < 128 / VREPLAY_PREFILL_DEFAULT * 1e3 + 1e-9);
    }
    vreplay_result lfu = run(DATA "prefix_lru.trace", "lfu", 0, 0, NULL);
    expect_true(lfu.prefix.hit_blocks >= 8 && lfu.prefix.hit_blocks <= 12);
    /* a larger capacity: every repeat hits, the references agree */
    vreplay_result big = run(DATA "prefix_lru.trace", "vllm", 6, 0, NULL);
    expect_eq_u64(big.prefix.hit_blocks, 14);
    expect_eq_u64(big.prefix.lru_hits, 14);
    expect_eq_u64(big.prefix.belady_hits, 14);
    expect_eq_u64(big.prefix.evictions, 0);
    /* a host tier behind 3 blocks: the evicted blocks hit there */
    vreplay_result host = run(DATA "prefix_lru.trace", "vllm", 3, 20, NULL);
    expect_eq_u64(host.prefix.hit_blocks + host.prefix.host_hit_blocks, 14);
    expect_eq_u64(host.prefix.host_hit_blocks, 6);
    expect_true(host.prefix.saved_ms < 14 * 16 / VREPLAY_PREFILL_DEFAULT * 1e3);
}

static void test_chain(void)
{
    vreplay_result r = run(DATA "prefix_chain.trace", "lru", 0, 0, NULL);
    expect_eq_u64(r.prefix.lookups, 3);
    expect_eq_u64(r.prefix.lookup_blocks, 9);
    expect_eq_u64(r.prefix.hit_blocks, 5);
    expect_eq_u64(r.prefix.unlimited_hits, 5);
    /* one block: each request gets its first block only (no block for its
     * second: the first is held), so only node 1's first block is cached and
     * requests 2 and 3 hit it */
    vreplay_result one = run(DATA "prefix_chain.trace", "vllm", 1, 0, NULL);
    expect_eq_u64(one.prefix.hit_blocks, 2);
    expect_true(one.prefix.alloc_failures > 0);
}

/* A trace that must fail at a line with a message. */
static void expect_refused(const char *events, const char *want)
{
    char text[2048];
    snprintf(text, sizeof text,
             "vramtrace 2\nmodel m\nengine paged\ncapacity 1048576\nkv_block_tokens 16\n"
             "prefix_segment_tokens 32\nprefix_cache_blocks 8\npnode 1 0 5\npnode 2 1 6\n%s",
             events);
    vreplay_options o = test_replay_opts("t.trace", "bestfit", NULL, NULL, "refused");
    o.trace_data = text;
    o.trace_size = strlen(text);
    vreplay_result r;
    expect_status(vreplay_run(&o, &r), VRAM_OK);
    expect_true(r.status == VREPLAY_RUN_FAILED);
    if (strcmp(r.message, want) != 0) {
        fprintf(stderr, "got  '%s'\nwant '%s'\n", r.message, want);
        test_failures++;
    }
}

static void test_refusals(void)
{
    expect_refused("lookup 1 2 32 32\n",
                   "t.trace:10: lookup 1: PROMPT 32 does not end in node 2, whose segment holds "
                   "tokens 33 to 64 of a prompt");
    expect_refused("lookup 1 1 33 40\n",
                   "t.trace:10: lookup 1: PROMPT 33 does not end in node 1, whose segment holds "
                   "tokens 1 to 32 of a prompt");
    expect_refused("lookup 1 2 40 40\nlookup 1 2 40 40\n",
                   "t.trace:11: lookup of request 1, which holds its blocks since its lookup at "
                   "line 10 (no end since)");
    expect_refused("fill 3 16\n", "t.trace:10: fill of request 3 without a lookup (since its "
                                  "last end)");
    expect_refused("lookup 1 2 40 40\nfill 1 32\nfill 1 20\n",
                   "t.trace:12: fill 1 20 goes back (its last fill was 32 tokens)");
    expect_refused("begin 1\nlookup 1 2 40 40\nend 1\nfill 1 20\n",
                   "t.trace:13: fill of request 1 without a lookup (since its last end)");
}

static void test_db_columns(void)
{
    test_remove_db(DB);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(DB, &db, err, sizeof err));
    run(DATA "prefix_lru.trace", "lru", 0, 0, db);
    vreplay_options o = test_replay_opts(DATA "needs_preempt.trace", "bestfit", NULL, db, "none");
    vreplay_result r;
    expect_status(vreplay_run(&o, &r), VRAM_OK);
    expect_true(!r.prefix.on);
    assert_ok(vdb_close(db, err, sizeof err));
    sqlite3 *q = test_open_db(DB);
    expect_eq_u64(test_q1(q, "SELECT prefix_hit_blocks FROM runs WHERE id = 1"), 8);
    expect_eq_u64(test_q1(q, "SELECT prefix_blocks FROM runs WHERE id = 1"), 3);
    expect_eq_u64(test_q1(q, "SELECT prefix_belady_hits FROM runs WHERE id = 1"), 12);
    expect_eq_u64(test_q1(q, "SELECT prefix_policy = 'lru' FROM runs WHERE id = 1"), 1);
    expect_true(test_qd(q, "SELECT prefix_hit_ratio FROM runs WHERE id = 1") == 0.4);
    expect_true(test_q1(q, "SELECT prefix_hit_blocks FROM runs WHERE id = 2") == -1); /* NULL */
    sqlite3_close(q);
    test_remove_db(DB);
}

/* The committed Mooncake trace (traces/README.md): one lookup per admission,
 * re-admissions after a preemption included; LRU not above Belady, Belady not
 * above an unlimited cache. (A policy may pass Belady in principle: a fill
 * caches blocks no lookup asked for, docs/PREFIX_CACHE.md; on this trace none
 * does.) */
static void test_mooncake(void)
{
    vreplay_options o = test_replay_opts(VRAM_SOURCE_DIR "/traces/llama70b-mooncake.trace", "bestfit",
                                         NULL, NULL, "mooncake");
    o.sample_every = 0;
    o.check_every = 100000;
    static const char *const policies[] = {"vllm", "lru", "lfu", "priority"};
    for (size_t i = 0; i < 4; i++) {
        o.prefix.policy = policies[i];
        vreplay_result r;
        expect_status(vreplay_run(&o, &r), VRAM_OK);
        expect_true(r.status == VREPLAY_RUN_OK);
        const vrprefix_result *p = &r.prefix;
        expect_true(p->on);
        expect_eq_u64(p->blocks, 29856); /* the trace's prefix_cache_blocks: its KV pool */
        expect_eq_u64(p->lookups, r.requests);
        expect_true(p->lookup_blocks > 100000);
        expect_true(p->hit_blocks > 0 && p->hit_blocks <= p->belady_hits);
        expect_true(p->belady_hits <= p->unlimited_hits && p->lru_hits <= p->belady_hits);
        expect_true(p->hit_ratio > 0 && p->hit_ratio < 1 && p->token_hit_ratio > 0);
        expect_true(p->evictions > 0 && p->saved_ms > 0);
        fprintf(stderr, "llama70b-mooncake, %s: hit ratio %.4f (LRU %.4f, Belady %.4f, unlimited %.4f)\n",
                policies[i], p->hit_ratio, (double)p->lru_hits / (double)p->lookup_blocks,
                (double)p->belady_hits / (double)p->lookup_blocks,
                (double)p->unlimited_hits / (double)p->lookup_blocks);
    }
}

/* The committed trace's end comment: the generator's prefix cache counts. */
static int engine_counts(const char *path, uint64_t *hits, uint64_t *lookups, uint64_t *evicted)
{
    gzFile f = gzopen(path, "rb");
    char line[1024];
    int found = 0;
    while (f && gzgets(f, line, sizeof line)) {
        const char *at = strncmp(line, "# end:", 6) ? NULL : strstr(line, "prefix cache: ");
        unsigned long long h, l, ev;
        if (at && sscanf(at, "prefix cache: %llu of %llu blocks looked up were cached, %llu evicted", &h,
                         &l, &ev) == 3) {
            *hits = h, *lookups = l, *evicted = ev;
            found = 1;
        }
    }
    if (f)
        gzclose(f);
    return found;
}

static void expect_same_as_engine(const vrprefix_result *p, uint64_t hits, uint64_t lookups, uint64_t evicted,
                                  const char *what)
{
    if (p->hit_blocks != hits || p->lookup_blocks != lookups || p->evictions != evicted) {
        fprintf(stderr, "%s: replay %llu of %llu hit, %llu evicted; generator %llu of %llu, %llu\n", what,
                (unsigned long long)p->hit_blocks, (unsigned long long)p->lookup_blocks,
                (unsigned long long)p->evictions, (unsigned long long)hits, (unsigned long long)lookups,
                (unsigned long long)evicted);
        test_failures++;
    }
}

static void test_engine_equivalence(void)
{
    uint64_t hits = 0, lookups = 0, evicted = 0;
    const char *committed = VRAM_SOURCE_DIR "/traces/llama70b-mooncake.trace";
    expect_true(engine_counts(committed, &hits, &lookups, &evicted));
    vrprefix_result p = run_checked(committed, "vllm", 0, 0, NULL, 10000).prefix;
    expect_same_as_engine(&p, hits, lookups, evicted, "llama70b-mooncake");

    /* each policy, on a small device so that the cache evicts and requests are preempted */
    const char *out = VRAM_BINARY_DIR "/test_replay_prefix_gen.trace";
    static const char *const policies[] = {"vllm", "lru", "lfu", "priority"};
    for (size_t i = 0; i < 4; i++) {
        vtracegen_config c;
        vtracegen_defaults(&c);
        test_mooncake_small(&c.e);
        c.e.prefix_policy = policies[i];
        vengine_stats st;
        char err[512];
        assert_ok(vtracegen_run(&c, out, &st, err, sizeof err));
        expect_true(st.prefix_evictions > 0 && st.preemptions > 0 && st.prefix_hit_blocks > 0);
        p = run_checked(out, policies[i], 0, 0, NULL, 10000).prefix;
        expect_same_as_engine(&p, st.prefix_hit_blocks, st.prefix_lookup_blocks, st.prefix_evictions,
                              policies[i]);
    }
    remove(out);
}

/* The pool layout on the committed Mooncake trace: every kv allocation, the
 * cached prefix blocks included, is one block the pool lane serves (there is
 * no other kind of KV), so at the trace's peak of live KV the pool lane holds
 * exactly those bytes and the bestfit lane none of them. */
typedef struct lanes_seen {
    int nlanes;
    uint64_t pool_requested, main_requested;
} lanes_seen;

static void see_lanes(void *ctx, uint64_t index, vram_manager *const *lanes, int nlanes)
{
    (void)index;
    lanes_seen *l = ctx;
    vram_manager_stats st;
    l->nlanes = nlanes;
    vram_manager_stats_get(lanes[0], &st);
    l->main_requested = st.heap.requested;
    if (nlanes == 2) {
        vram_manager_stats_get(lanes[1], &st);
        l->pool_requested = st.heap.requested;
    }
}

static void test_pool_layout(void)
{
    const char *path = VRAM_SOURCE_DIR "/traces/llama70b-mooncake.trace";
    vtrace_reader *rd;
    char err[512];
    assert_ok(vtrace_open(path, &rd, err, sizeof err));
    const uint64_t block = vtrace_header_of(rd)->kv_block_bytes;
    vsim_idmap *kv;
    assert_ok(vsim_idmap_create(sizeof(uint64_t), &kv));
    uint64_t index = 0, live = 0, other = 0, peak = 0, peak_at = 0, peak_other = 0, not_pooled = 0;
    vtrace_event ev;
    while (vtrace_next(rd, &ev) == 1) {
        index++;
        if (ev.type == VTRACE_ALLOC && ev.kind == VRAM_KIND_KV) {
            not_pooled += !vreplay_pooled(block, ev.kind, NULL, ev.size) || ev.size != block;
            int created;
            *(uint64_t *)vsim_idmap_put(kv, ev.id, &created) = ev.size;
            live += ev.size;
        } else if (ev.type == VTRACE_ALLOC) {
            other += ev.size;
        } else if (ev.type == VTRACE_FREE) {
            uint64_t *size = vsim_idmap_get(kv, ev.id);
            if (size) {
                live -= *size;
                vsim_idmap_remove(kv, ev.id);
            }
        } else if (ev.type == VTRACE_SHARED_ACQUIRE) {
            not_pooled += strncmp(ev.key, "kv:", 3) == 0;
        }
        if (live > peak)
            peak = live, peak_at = index, peak_other = other;
    }
    vtrace_close(rd);
    vsim_idmap_destroy(kv);
    expect_eq_u64(not_pooled, 0);
    expect_true(peak > UINT64_C(30) << 30 && peak_other > 0); /* 36 GiB of KV at its peak */

    vbounds b;
    assert_ok(vbounds_compute(path, 0, 0, &b, err, sizeof err));
    vreplay_options o = test_replay_opts(path, "pool", &b, NULL, "test_replay_prefix");
    o.sample_every = 0;
    o.check_every = 0;
    lanes_seen seen = {0};
    o.inspect = see_lanes;
    o.inspect_ctx = &seen;
    o.inspect_at = peak_at;
    vreplay_result r;
    expect_status(vreplay_run(&o, &r), VRAM_OK);
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(seen.nlanes, 2);
    expect_eq_u64(seen.pool_requested, peak);
    expect_true(seen.main_requested > 0 && seen.main_requested + peak <= b.peak_live);
}

/* The options: bad values refused (exit 2), the table and the JSON fields. */
static void test_cli(void)
{
    const char *t = DATA "prefix_lru.trace";
    CLI_EXPECT(2, TEXTS("replay: --prefix-policy: \"fifo\" is not vllm, lru, lfu or priority"),
               "replay", "--no-db", "--prefix-policy", "fifo", t);
    CLI_EXPECT(2, TEXTS("replay: --prefix-cache-blocks: 0 is not 1 to 1073741824 blocks"), "replay",
               "--no-db", "--prefix-cache-blocks", "0", t);
    CLI_EXPECT(2, TEXTS("replay: --prefix-host-blocks: \"-1\" is not a non-negative decimal number"),
               "replay", "--no-db", "--prefix-host-blocks", "-1", t);
    CLI_EXPECT(0, TEXTS(""), "replay", "--no-db", "--quiet", "--policy", "bestfit", "--prefix-policy",
               "lru", t);
    expect_true(strstr(cli_last.out, "| bestfit | lru, 3 blocks | 20 | 0.4000 (0.3765) | 8 (0) | 9 | 0 |"
                                     " 128 |") != NULL);
    CLI_EXPECT(0, TEXTS(""), "replay", "--no-db", "--quiet", "--json", "--policy", "bestfit",
               "--prefix-cache-blocks", "6", t);
    expect_true(strstr(cli_last.out, "\"prefix_policy\": \"vllm\", \"prefix_blocks\": 6,") != NULL);
    expect_true(strstr(cli_last.out, "\"prefix_hit_blocks\": 14,") != NULL);
    CLI_EXPECT(0, TEXTS(""), "replay", "--help");
    expect_true(strstr(cli_last.out, "--prefix-cache-blocks N") && strstr(cli_last.out, "--prefix-policy NAME") &&
                strstr(cli_last.out, "--prefix-host-blocks N"));
}

int main(void)
{
    test_engine_equivalence();
    test_pool_layout();
    test_cli();
    test_mooncake();
    test_lru_string();
    test_chain();
    test_refusals();
    test_db_columns();
    return test_finish("replay_prefix");
}
