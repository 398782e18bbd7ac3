/* test_replay_edges.c - the replayer's edges: device faults injected mid-run
 * (through the inspect callback) that fail an allocation, a touch, a shared
 * acquire or a compaction pass, each reported with file:line and the status;
 * database faults at every statement of a run whose trace cannot be opened;
 * runs that end at an event where a sample, compaction, check, inspection and
 * the stop flag were all due; set-ups that do not apply (tensor cache size,
 * a manager the policy cannot create); bad options; a trace given in memory
 * logged with its CRC; and the replay tool's options, tables and warnings. */
#include <zlib.h>

#include "test_cli_lib.h"
#include "test_db_lib.h"
#include "vram/device.h"

#define OUT_DB "replay_edges.db"

static char err[1024]; /* the database's messages */

static void write_text(const char *path, const char *text)
{
    cli_write_file(path, text, strlen(text));
}

static vreplay_options plain(const char *trace)
{
    vreplay_options o = test_replay_opts(trace, "bestfit", NULL, NULL, NULL);
    o.sample_every = 0;
    o.check_every = 1;
    return o;
}

/* ---- device faults ---- */

/* The inspect callback: every later copy of the device fails with EDEVICE. */
static void fail_copies(void *ctx, uint64_t event_index, vram_manager *const *lanes, int nlanes)
{
    (void)ctx;
    (void)event_index;
    for (int i = 0; i < nlanes; i++)
        vram_device_inject_fault(vram_manager_device(lanes[i]), VRAM_FAULT_COPY, 1, 1,
                                 VRAM_EDEVICE);
}

static void expect_fault_at(const char *trace, uint64_t inspect_at, uint64_t defrag_every,
                            uint64_t events, const char *want)
{
    vreplay_options o = plain(trace);
    o.inspect = fail_copies;
    o.inspect_at = inspect_at;
    o.defrag_every = defrag_every;
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_FAILED);
    expect_eq_u64(r.events, events);
    expect_contains(r.message, want);
    expect_contains(r.message, "(VRAM_EDEVICE)");
}

static void test_device_faults(void)
{
    /* 1 MiB of device, KV halves: the third allocation evicts (a copy out),
     * the use of an evicted one re-materialises (copies), so does the acquire. */
    write_text("replay_edges_evict.trace",
               "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n"
               "alloc 1 524288 0 kv 0\n"
               "alloc 2 524288 0 kv 0\n"
               "alloc 3 524288 0 kv 0\n"
               "use 1\n"
               "acquire kv:x 524288 0\n"
               "release kv:x\nfree 1\nfree 2\nfree 3\n");
    expect_fault_at("replay_edges_evict.trace", 2, 0, 3,
                    "replay_edges_evict.trace:7: vram_alloc failed: ");
    expect_fault_at("replay_edges_evict.trace", 3, 0, 4,
                    "replay_edges_evict.trace:8: vram_touch failed: ");
    expect_fault_at("replay_edges_evict.trace", 4, 0, 5,
                    "replay_edges_evict.trace:9: vram_acquire_shared failed: ");
    /* A hole below a block: the compaction pass after event 4 moves it (a copy). */
    write_text("replay_edges_defrag.trace",
               "vramtrace 1\nmodel m\nengine contiguous\ncapacity 1048576\n"
               "alloc 1 262144 0 activation 0\n"
               "alloc 2 262144 0 activation 0\n"
               "alloc 3 262144 0 activation 0\n"
               "free 2\nfree 1\nfree 3\n");
    expect_fault_at("replay_edges_defrag.trace", 3, 4, 4,
                    "replay_edges_defrag.trace:8: vram_manager_defrag failed: ");
    /* Without the fault the same runs end ok. */
    vreplay_options o = plain("replay_edges_evict.trace");
    vreplay_result r;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_true(r.evictions > 0);
    o = plain("replay_edges_defrag.trace");
    o.defrag_every = 4;
    assert_ok(vreplay_run(&o, &r));
    expect_true(r.status == VREPLAY_RUN_OK && r.defrag_moves > 0);
}

int main(void)
{
    err[0] = '\0';
    test_device_faults();
    return test_finish("replay_edges");
}
