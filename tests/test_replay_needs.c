/* test_replay_needs.c - version-2 traces (traces/FORMAT.md, "Needed memory"):
 * memory a step needs is never evicted for free; a placement that only such
 * memory could make room for preempts the newest running request (vLLM's
 * rule), counted with its cost; an idle adapter is evicted instead when there
 * is one; what nothing can make room for is an OOM. Each hand-made trace runs
 * with the invariant checks after every event. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "replay.h"
#include "testlib.h"

#define MIB 1048576.0

/* A header for a device of `mib` MiB with 1 MiB KV blocks of 16 tokens
 * (65,536 bytes a token) and a prefill rate of 1,000 tokens/s. */
static void header(char *buf, size_t len, unsigned mib)
{
    snprintf(buf, len,
             "vramtrace 2\nmodel test\nengine paged\ncapacity %u\nkv_block_bytes 1048576\n"
             "kv_token_bytes 65536\nprefill_tokens_per_s 1000\n",
             mib << 20);
}

static vreplay_status run(const char *name, const char *events, unsigned mib, const char *policy,
                          int swap, vreplay_result *r)
{
    static char text[8192];
    header(text, sizeof text, mib);
    strncat(text, events, sizeof text - strlen(text) - 1);
    vreplay_options o = {.trace_path = name, .trace_data = text, .trace_size = strlen(text),
                         .policy = policy, .check_every = 1, .preempt_swap = swap};
    vram_status st = vreplay_run(&o, r);
    if (st || r->status != VREPLAY_RUN_OK)
        fprintf(stderr, "%s (%s): %s %s\n", name, policy, vram_strerror(st), r->message);
    return st ? VREPLAY_RUN_FAILED : r->status;
}

#define PREEMPT_TRACE VRAM_SOURCE_DIR "/tests/data/needs_preempt.trace"

/* The trace file at `path` (its own header). */
static vreplay_status run_file(const char *path, const char *policy, int swap, vreplay_result *r)
{
    vreplay_options o = {.trace_path = path, .policy = policy, .check_every = 1,
                         .preempt_swap = swap};
    vram_status st = vreplay_run(&o, r);
    if (st || r->status != VREPLAY_RUN_OK)
        fprintf(stderr, "%s (%s): %s %s\n", path, policy, vram_strerror(st), r->message);
    return st ? VREPLAY_RUN_FAILED : r->status;
}

/* tests/data/needs_preempt.trace: one forced preemption, a wait, a restore
 * and 32 ms of recompute (the file says how). */
static void test_only_a_preemption_places_it(void)
{
    /* (not caching: PyTorch's rules put a 4 MiB block in a 20 MiB segment) */
    const char *policies[] = {"bestfit", "tlsf", "buddy"};
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        vreplay_result r;
        fprintf(stderr, "preemption: %s\n", policies[i]);
        expect_true(run_file(PREEMPT_TRACE, policies[i], 0, &r) == VREPLAY_RUN_OK);
        expect_eq_u64(r.needs, 1);
        expect_eq_u64(r.ooms, 0);
        expect_eq_u64(r.preemptions, 1);
        expect_eq_u64(r.preempted_bytes, 2u << 20);
        expect_eq_u64(r.restore_waits, 1);
        expect_eq_u64(r.restores, 1);
        expect_eq_u64(r.evictions, 0); /* the drop is a preemption, not an eviction */
        expect_eq_u64(r.evictions_by_kind[VRAM_KIND_WEIGHT], 0);
        expect_eq_u64(r.rematerialisations, 2);
        expect_eq_u64(r.bytes_rematerialised, 2u << 20);
        expect_eq_u64(r.recompute_tokens, 32);
        expect_true(fabs(r.preempt_ns - 32e6) < 1.0);
    }
}

/* The same with --preempt swap: no recompute; two 1 MiB copies to the host
 * and two back, each 10,000 ns + 1,048,576 B / 25 GB/s (the default model). */
static void test_swap_costs_copies(void)
{
    vreplay_result r;
    expect_true(run_file(PREEMPT_TRACE, "bestfit", 1, &r) == VREPLAY_RUN_OK);
    expect_eq_u64(r.preemptions, 1);
    expect_eq_u64(r.recompute_tokens, 0);
    double copy = 10000.0 + MIB / 25.0;
    expect_true(fabs(r.preempt_ns - 4 * copy) < 1e-3);
}

/* An adapter pinned while request 1 runs, idle after: when request 2 needs
 * room, the idle adapter goes (an eviction), no request is preempted. */
static const char adapter_trace[] =
    "alloc 1 4194304 0 weight 100 engine\n"
    "alloc 2 2097152 0 adapter 50 -\n"
    "begin 1\n"
    "pin 2\n"
    "alloc 3 1048576 0 kv 10 1\n"
    "step 1\n"
    "free 3\n"
    "unpin 2\n"
    "end 1\n"
    "begin 2\n"
    "alloc 4 1048576 0 kv 10 2\n"
    "alloc 5 1048576 0 kv 10 2\n"
    "alloc 6 1048576 0 kv 10 2\n"
    "step 2\n"
    "free 4\nfree 5\nfree 6\nend 2\n"
    "free 2\nfree 1\n";

static void test_idle_adapter_is_evicted(void)
{
    vreplay_result r;
    expect_true(run("adapter.trace", adapter_trace, 8, "bestfit", 0, &r) == VREPLAY_RUN_OK);
    expect_eq_u64(r.preemptions, 0);
    expect_eq_u64(r.ooms, 0);
    expect_eq_u64(r.evictions, 1);
    expect_eq_u64(r.evictions_by_kind[VRAM_KIND_ADAPTER], 1);
    expect_eq_u64(r.bytes_evicted_by_kind[VRAM_KIND_ADAPTER], 2u << 20);
    /* Pinned, the same adapter cannot go: request 1 still runs, so request 2,
     * the newest, preempts itself (vLLM's rule) and its third block takes the
     * room its two others left; at step 1 it does not fit back and waits. */
    static const char pinned[] =
        "alloc 1 4194304 0 weight 100 engine\n"
        "alloc 2 2097152 0 adapter 50 -\n"
        "begin 1\npin 2\n"
        "begin 2\n"
        "alloc 4 1048576 0 kv 10 2\n"
        "alloc 5 1048576 0 kv 10 2\n"
        "alloc 6 1048576 0 kv 10 2\n"
        "step 1\n"
        "free 4\nfree 5\nfree 6\nend 2\n"
        "unpin 2\nend 1\nfree 2\nfree 1\n";
    expect_true(run("pinned.trace", pinned, 8, "bestfit", 0, &r) == VREPLAY_RUN_OK);
    expect_eq_u64(r.evictions, 0);
    expect_eq_u64(r.preemptions, 1);
    expect_eq_u64(r.preempted_bytes, 2u << 20);
    expect_eq_u64(r.restore_waits, 1);
    expect_eq_u64(r.restores, 0);
    expect_eq_u64(r.ooms, 0);
}

/* Weights alone beyond the device: nothing to evict or preempt, an OOM (not
 * despite free bytes); weights are never evicted to make room for more. */
static void test_must_oom(void)
{
    static const char events[] =
        "alloc 1 6291456 0 weight 100 engine\n"
        "alloc 2 3145728 0 weight 100 engine\n"
        "free 2\nfree 1\n";
    vreplay_result r;
    expect_true(run("oom.trace", events, 8, "bestfit", 0, &r) == VREPLAY_RUN_OK);
    expect_eq_u64(r.ooms, 1);
    expect_eq_u64(r.ooms_despite_free, 0);
    expect_eq_u64(r.preemptions, 0);
    expect_eq_u64(r.evictions, 0);
    expect_eq_u64(r.skipped, 1);
}

/* Activations of a step (NEED -, never evicted) that only running KV could
 * make room for preempt the newest request. */
static void test_engine_memory_preempts(void)
{
    static const char events[] =
        "alloc 1 4194304 0 weight 100 engine\n"
        "begin 1\nalloc 2 2097152 0 kv 10 1\n"
        "begin 2\nalloc 3 2097152 0 kv 10 2\n"
        "step 1\nalloc 4 1048576 0 activation 90 -\nfree 4\n"
        "free 3\nend 2\nfree 2\nend 1\nfree 1\n";
    vreplay_result r;
    expect_true(run("act.trace", events, 8, "bestfit", 0, &r) == VREPLAY_RUN_OK);
    expect_eq_u64(r.preemptions, 1);
    expect_eq_u64(r.preempted_bytes, 2u << 20);
    expect_eq_u64(r.ooms, 0);
}

/* A shared prefix block held by two requests stays while one of them runs;
 * released by each NEED that acquired it. */
static void test_shared_block_needs(void)
{
    static const char events[] =
        "alloc 1 4194304 0 weight 100 engine\n"
        "begin 1\nacquire kv:7 2097152 10 1\n"
        "begin 2\nacquire kv:7 2097152 10 2\nalloc 2 1048576 0 kv 10 2\n"
        "step 1\n"
        "alloc 3 1048576 0 kv 10 1\n" /* full: request 2 (newest) is preempted */
        "step 2\n"
        "free 2\nrelease kv:7 2\nend 2\n"
        "free 3\nrelease kv:7 1\nend 1\nfree 1\n";
    vreplay_result r;
    expect_true(run("shared.trace", events, 7, "bestfit", 0, &r) == VREPLAY_RUN_OK);
    expect_eq_u64(r.preemptions, 1);
    /* request 2's block went; the shared block stayed for request 1 */
    expect_eq_u64(r.preempted_bytes, 1u << 20);
    expect_eq_u64(r.ooms, 0);
}

static void expect_trace_error(const char *events, const char *want)
{
    vreplay_result r;
    static char text[4096];
    header(text, sizeof text, 8);
    strncat(text, events, sizeof text - strlen(text) - 1);
    vreplay_options o = {.trace_path = "bad.trace", .trace_data = text,
                         .trace_size = strlen(text), .policy = "bestfit"};
    expect_true(vreplay_run(&o, &r) == VRAM_OK);
    expect_true(r.status == VREPLAY_RUN_FAILED);
    if (!strstr(r.message, want)) {
        fprintf(stderr, "FAILED: message \"%s\" lacks \"%s\"\n", r.message, want);
        test_failures++;
    }
}

/* The header takes 7 lines: the first event is line 8. */
static void test_contradictions_name_the_line(void)
{
    expect_trace_error("begin 1\nbegin 1\n", "bad.trace:9: begin of request 1, which is running");
    expect_trace_error("begin 1\nend 2\n", "bad.trace:9: end of request 2, which is not running");
    expect_trace_error("alloc 2 64 0 adapter 5 -\nunpin 2\n",
                       "bad.trace:9: unpin of id 2, which is not pinned");
    expect_trace_error("alloc 2 64 0 adapter 5 -\npin 2\nfree 2\n",
                       "bad.trace:10: free of id 2, which is pinned");
    expect_trace_error("pin 9\n", "bad.trace:8: pin of id 9, which is not live");
    expect_trace_error("begin 3\nacquire k 64 5 3\nrelease k 4\n",
                       "bad.trace:10: release of key \"k\" by NEED 4, which holds no reference");
    expect_trace_error("acquire k 64 5 engine\nrelease k -\n",
                       "bad.trace:9: release of key \"k\" by NEED -, which holds no reference");
}

/* A version-1 trace replays as before: no needs, nothing pinned. */
static void test_version1_still_replays(void)
{
    static const char text[] =
        "vramtrace 1\nmodel m\nengine paged\ncapacity 8388608\n"
        "alloc 1 4194304 0 weight 100\nbegin 1\nalloc 2 4194304 0 kv 10\n"
        "alloc 3 1048576 0 kv 10\nstep 1\nuse 2\nfree 3\nfree 2\nend 1\nfree 1\n";
    vreplay_options o = {.trace_path = "v1.trace", .trace_data = text,
                         .trace_size = strlen(text), .policy = "bestfit", .check_every = 1};
    vreplay_result r;
    expect_true(vreplay_run(&o, &r) == VRAM_OK);
    expect_true(r.status == VREPLAY_RUN_OK);
    expect_eq_u64(r.needs, 0);
    expect_eq_u64(r.preemptions, 0);
    /* version 1: the running request's KV (and then a weight) is evicted for
     * free, as before */
    expect_true(r.evictions >= 1);
    expect_eq_u64(r.evictions_by_kind[VRAM_KIND_KV] >= 1, 1);
    expect_eq_u64(r.ooms, 0);
}

int main(void)
{
    test_only_a_preemption_places_it();
    test_swap_costs_copies();
    test_idle_adapter_is_evicted();
    test_must_oom();
    test_engine_memory_preempts();
    test_shared_block_needs();
    test_contradictions_name_the_line();
    test_version1_still_replays();
    return test_finish("test_replay_needs");
}
