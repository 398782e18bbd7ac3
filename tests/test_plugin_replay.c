/* test_plugin_replay.c - plugins (examples/plugins/) beside the built-in
 * policies in replay: the TLSF wrapper places every block where the built-in
 * tlsf does, on the data traces and on traces/llama70b.trace (the samples
 * agree event by event, and so do heap maps mid-trace); first fit and
 * segregated fit replay every data trace with a check after every event; the
 * runs table holds "plugin:NAME" and the file with its CRC-32; each bug of the
 * broken example ends its run at the trace line where the shadow meets it. */
#include <stdio.h>
#include <string.h>

#include "plugin.h"
#include "test_db_lib.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"
#define EX VRAM_EXAMPLES_DIR "/"
#define TLSF_WRAP "plugin:" EX "libvram_tlsf_wrap.so"
#define BROKEN "plugin:" EX "libvram_broken.so"

static const char *const data_traces[] = {
    "small", "frag", "report_mix", "kv_shared", "belady", "bounds_peak", "tensor_cache",
    "pooled", "plugin_overlap", "plugin_misalign", "plugin_wrongfree",
};
#define NTRACES (sizeof data_traces / sizeof data_traces[0])

/* A heap map of the main lane at one event, through the inspect callback. */
typedef struct heap_map {
    vram_block_info b[1 << 16];
    size_t n;
    int overflow;
} heap_map;

static int map_block(const vram_block_info *b, void *ctx)
{
    heap_map *m = ctx;
    if (m->n == sizeof m->b / sizeof m->b[0]) {
        m->overflow = 1;
        return 1;
    }
    m->b[m->n++] = *b;
    return 0;
}

static void take_map(void *ctx, uint64_t event_index, vram_manager *const *lanes, int nlanes)
{
    (void)event_index;
    (void)nlanes;
    vram_heap_walk(vram_manager_heap(lanes[0]), map_block, ctx);
}

/* Runs trace through policy into db; the run id. */
static int64_t run(vdb *db, const char *trace, const char *policy, uint64_t sample_every,
                   uint64_t check_every, uint64_t inspect_at, heap_map *map,
                   vreplay_result *r)
{
    vreplay_options o = test_replay_opts(trace, policy, NULL, db, "test_plugin_replay");
    o.sample_every = sample_every;
    o.check_every = check_every;
    o.inspect = map ? take_map : NULL;
    o.inspect_ctx = map;
    o.inspect_at = inspect_at;
    if (map)
        memset(map, 0, sizeof *map);
    assert_ok(vreplay_run(&o, r));
    return r->run_id;
}

/* The wrapper and the built-in tlsf agree: summaries, every sample, and the
 * heap map in the middle of the trace. */
static void same_as_tlsf(sqlite3 *q, vdb *db, const char *trace, uint64_t sample_every)
{
    static heap_map a, b;
    static vreplay_result ra, rb;
    int64_t first = run(db, trace, "tlsf", sample_every, 0, 0, NULL, &ra);
    uint64_t mid = ra.events / 2 ? ra.events / 2 : 1;
    run(db, trace, "tlsf", sample_every, 0, mid, &a, &ra);
    int64_t wrapped = run(db, trace, TLSF_WRAP, sample_every, 0, mid, &b, &rb);
    if (ra.status != VREPLAY_RUN_OK || rb.status != VREPLAY_RUN_OK) {
        fprintf(stderr, "FAILED: %s: tlsf %s (%s), wrapper %s (%s)\n", trace,
                vreplay_status_name(ra.status), ra.message, vreplay_status_name(rb.status),
                rb.message);
        test_failures++;
        return;
    }
    expect_eq_u64(rb.events, ra.events);
    expect_eq_u64(rb.peak_footprint, ra.peak_footprint);
    expect_eq_u64(rb.peak_in_use, ra.peak_in_use);
    expect_eq_u64(rb.ooms, ra.ooms);
    expect_eq_u64(rb.ooms_despite_free, ra.ooms_despite_free);
    expect_eq_u64(rb.errors, ra.errors);
    expect_eq_u64(rb.evictions, ra.evictions);
    expect_eq_u64(rb.bytes_rematerialised, ra.bytes_rematerialised);
    expect_true(rb.worst_ext_frag == ra.worst_ext_frag);
    int64_t samples = test_q1(q, "SELECT count(*) FROM samples WHERE run_id=%lld", (long long)first);
    expect_true(samples > 0);
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM samples WHERE run_id=%lld", (long long)wrapped),
                  samples);
    int64_t differ = test_q1(
        q,
        "SELECT count(*) FROM samples a JOIN samples b USING (event_index) WHERE a.run_id=%lld"
        " AND b.run_id=%lld AND (a.footprint IS NOT b.footprint OR a.in_use IS NOT b.in_use OR"
        " a.requested IS NOT b.requested OR a.free_bytes IS NOT b.free_bytes OR"
        " a.largest_free IS NOT b.largest_free OR a.free_blocks IS NOT b.free_blocks OR"
        " a.evictions IS NOT b.evictions OR a.resident_handles IS NOT b.resident_handles)",
        (long long)first, (long long)wrapped);
    if (differ) {
        fprintf(stderr, "FAILED: %s: %lld samples differ between tlsf and the wrapper\n", trace,
                (long long)differ);
        test_failures++;
    }
    /* Equal heap maps (the wrapper's walk is the shadow's: used blocks exactly,
     * the gaps between them as single free blocks, which tlsf's are too). */
    expect_true(!a.overflow && !b.overflow);
    expect_eq_u64(b.n, a.n);
    for (size_t i = 0; i < a.n && i < b.n; i++)
        if (a.b[i].offset != b.b[i].offset || a.b[i].size != b.b[i].size ||
            a.b[i].used != b.b[i].used) {
            fprintf(stderr, "FAILED: %s: block %zu: tlsf [%llu, +%llu) %s, wrapper [%llu, +%llu) %s\n",
                    trace, i, (unsigned long long)a.b[i].offset, (unsigned long long)a.b[i].size,
                    a.b[i].used ? "used" : "free", (unsigned long long)b.b[i].offset,
                    (unsigned long long)b.b[i].size, b.b[i].used ? "used" : "free");
            test_failures++;
            break;
        }
    /* The runs table: the policy by its name, the file and its checksum. */
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE id=%lld AND policy='plugin:tlsf_wrap'"
                             " AND layout LIKE 'plugin tlsf_wrap, crc32 ________, %% bytes, ABI"
                             " version 1, %%: %s'",
                          (long long)wrapped, EX "libvram_tlsf_wrap.so"),
                  1);
}

/* The other examples replay every data trace with every check after every event. */
static void replays_clean(vdb *db, const char *policy)
{
    for (size_t i = 0; i < NTRACES; i++) {
        char trace[512];
        snprintf(trace, sizeof trace, DATA "%s.trace", data_traces[i]);
        vreplay_result r;
        run(db, trace, policy, 1, 1, 0, NULL, &r);
        if (r.status != VREPLAY_RUN_OK) {
            fprintf(stderr, "FAILED: %s on %s: %s\n", policy, trace, r.message);
            test_failures++;
        }
    }
}

/* A bug of the broken example ends its run at `line` with `text`, logged as
 * a violation event of that line. */
static void caught(sqlite3 *q, vdb *db, const char *bug, uint64_t check_every, uint64_t line,
                   const char *text)
{
    char trace[512], policy[512];
    snprintf(trace, sizeof trace, DATA "plugin_%s.trace", bug);
    snprintf(policy, sizeof policy, BROKEN ":%s", bug);
    vreplay_result r;
    int64_t id = run(db, trace, policy, 1, check_every, 0, NULL, &r);
    expect_true(r.status == VREPLAY_RUN_FAILED);
    char want[1024];
    snprintf(want, sizeof want, "%s:%llu: %s", trace, (unsigned long long)line, text);
    if (strcmp(r.message, want) != 0) {
        fprintf(stderr, "FAILED: %s\n  message: %s\n  wanted:  %s\n", bug, r.message, want);
        test_failures++;
    }
    expect_eq_u64(test_q1(q, "SELECT count(*) FROM runs WHERE id=%lld AND status='failed' AND"
                             " policy='plugin:%s'",
                          (long long)id, bug),
                  1);
    expect_eq_u64(test_q1(q, "SELECT line FROM events WHERE run_id=%lld AND kind='violation'",
                          (long long)id),
                  line);
}

int main(void)
{
    const char *path = "plugin_replay.db";
    test_remove_db(path);
    vdb *db;
    char err[512];
    assert_ok(vdb_open(path, &db, err, sizeof err));
    sqlite3 *q = test_open_db(path);

    for (size_t i = 0; i < NTRACES; i++) {
        char trace[512];
        snprintf(trace, sizeof trace, DATA "%s.trace", data_traces[i]);
        same_as_tlsf(q, db, trace, 1);
    }
    same_as_tlsf(q, db, VRAM_SOURCE_DIR "/traces/llama70b.trace", 1000);

    replays_clean(db, "plugin:" EX "libvram_firstfit.so");
#ifdef VRAM_HAVE_SEGFIT
    replays_clean(db, "plugin:" EX "libvram_segfit.so");
#endif

    caught(q, db, "overlap", 0, 15,
           "plugin:overlap broke the heap contract: alloc(768, align 256) answered offset 0:"
           " block [0, +768) overlaps live block [512, +256)");
    caught(q, db, "misalign", 0, 9,
           "plugin:misalign broke the heap contract: alloc(4096, align 4096) answered offset"
           " 256 (block_size 4096): not aligned to 4096");
    caught(q, db, "wrongfree", 0, 13,
           "plugin:wrongfree broke the heap contract: alloc(512, align 256) answered offset"
           " 256: block [256, +512) overlaps live block [256, +256)");
    /* With a check after every event, the plugin's walk gives it away at the free. */
    caught(q, db, "wrongfree", 1, 12,
           "invariant violated after this event: heap (plugin:wrongfree): walk: used block at 0"
           " is no live allocation");

    /* A plugin that does not load is no run: the loader's status and words. */
    vreplay_result r;
    vreplay_options o = test_replay_opts(DATA "small.trace", "plugin:" EX "no-such.so", NULL,
                                         db, NULL);
    expect_status(vreplay_run(&o, &r), VRAM_ENOTFOUND);
    expect_contains(r.message, EX "no-such.so: cannot open the plugin: No such file");
    expect_eq_u64(r.run_id, 0);

    sqlite3_close(q);
    assert_ok(vdb_close(db, err, sizeof err));
    test_remove_db(path);
    return test_finish("plugin_replay");
}
