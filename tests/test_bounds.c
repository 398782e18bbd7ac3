/* test_bounds.c - peak live bytes and Belady on hand-made traces (hand-computed
 * figures are in the traces' comments), trace consistency errors, and Belady
 * against an exhaustive search of every eviction choice on small random traces.
 * Version 2 (needed memory, forced preemptions by the replay's rules): hand-made
 * traces for each rule, the new consistency errors, and random traces (a
 * version-1 trace and its version-2 twin with nothing needed give the same
 * figures; with room for the peak nothing is evicted, preempted or lost). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "nextuse.h"
#include "testlib.h"
#include "trace.h"

#define DATA VRAM_SOURCE_DIR "/tests/data/"

static void test_peak_live(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "bounds_peak.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.events, 10);
    expect_eq_u64(b.peak_live, 230);
    expect_eq_u64(b.peak_live_event, 8);
    expect_eq_u64(b.peak_live_line, 16);
    expect_eq_u64(b.peak_live_kv, 200);
    expect_eq_u64(b.peak_live_other, 130);
    expect_eq_u64(b.capacity, 4096);
    expect_true(b.belady_done);
    expect_true(!b.belady_exact); /* 50, 200 and the shared 100 differ */
    expect_eq_u64(b.belady_evictions, 0);
}

static void test_belady_exact(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "belady.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.peak_live, 4 * 65536);
    expect_eq_u64(b.peak_live_line, 14);
    expect_true(b.belady_done);
    expect_true(b.belady_exact);
    expect_eq_u64(b.evictable_size, 65536);
    expect_eq_u64(b.belady_evictions, 2);
    expect_eq_u64(b.belady_rematerialisations, 1);
    expect_eq_u64(b.belady_bytes_rematerialised, 65536);
    expect_eq_u64(b.belady_ooms, 0);

    /* A capacity override: room for all four, nothing to evict. */
    assert_ok(vbounds_compute(DATA "belady.trace", 4 * 65536, 1, &b, err, sizeof err));
    expect_eq_u64(b.capacity, 4 * 65536);
    expect_eq_u64(b.belady_evictions, 0);
    /* Without Belady: one pass, the peak only. */
    assert_ok(vbounds_compute(DATA "belady.trace", 0, 0, &b, err, sizeof err));
    expect_true(!b.belady_done);
    expect_eq_u64(b.peak_live, 4 * 65536);
}

static void test_no_evictable(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "frag.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.peak_live, 262144);
    expect_eq_u64(b.peak_live_kv, 0);
    expect_eq_u64(b.peak_live_other, 262144);
    expect_eq_u64(b.belady_evictions, 0);
    /* 5 would need 128 KiB with 128 KiB free: fits on the ideal device. */
    expect_eq_u64(b.belady_ooms, 0);
}

static void test_pooled_split(void)
{
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute(DATA "pooled.trace", 0, 1, &b, err, sizeof err));
    expect_eq_u64(b.peak_live_kv, 196608);
    expect_eq_u64(b.peak_live_other, 327680);
    expect_eq_u64(b.peak_live, 524288);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_true(f != NULL);
    fputs(text, f);
    assert_true(fclose(f) == 0);
}

#define HEADER "vramtrace 1\nmodel t\nengine contiguous\ncapacity 1000\n"

static void expect_error_in(const char *header, const char *name, const char *events,
                            const char *want)
{
    char text[1024];
    snprintf(text, sizeof text, "%s%s", header, events);
    write_file(name, text);
    vbounds b;
    char err[512];
    vram_status st = vbounds_compute(name, 0, 1, &b, err, sizeof err);
    expect_status(st, VRAM_EPARSE);
    if (!strstr(err, want)) {
        fprintf(stderr, "%s: error \"%s\" lacks \"%s\"\n", name, err, want);
        test_failures++;
    }
}

static void expect_error(const char *name, const char *events, const char *want)
{
    expect_error_in(HEADER, name, events, want);
}

static void test_consistency_errors(void)
{
    expect_error("bounds_twice.trace", "alloc 1 10 0 kv 1\nalloc 1 10 0 kv 1\n",
                 "bounds_twice.trace:6: alloc of id 1, which is already live");
    expect_error("bounds_nofree.trace", "alloc 1 10 0 kv 1\nfree 2\n",
                 "bounds_nofree.trace:6: free of id 2, which is not live");
    expect_error("bounds_nouse.trace", "use 7\n", "bounds_nouse.trace:5: use of id 7");
    expect_error("bounds_norel.trace", "acquire k 10 1\nrelease k\nrelease k\n",
                 "bounds_norel.trace:7: release of key \"k\", which is not held");
    expect_error("bounds_size.trace", "acquire k 10 1\nacquire k 11 1\n",
                 "bounds_size.trace:6: acquire of key \"k\" with size 11, held with size 10");
    /* The reader's own errors come through with file:line. */
    expect_error("bounds_syntax.trace", "alloc 1 10 0 kv 1\nfree x\n", "bounds_syntax.trace:6:");

    vbounds b;
    char err[512];
    expect_true(vbounds_compute("no/such/file.trace", 0, 1, &b, err, sizeof err) != VRAM_OK);
    expect_true(strstr(err, "no/such/file.trace") != NULL);
}

static void test_belady_ooms(void)
{
    /* Non-evictable bytes beyond the capacity: OOM on the ideal device too;
     * the failed id's use is skipped. */
    write_file("bounds_oom.trace", HEADER "alloc 1 600 0 activation 1\nalloc 2 600 0 activation 1\n"
                                          "alloc 3 300 0 kv 1\nalloc 4 300 0 kv 1\nuse 3\nfree 1\n"
                                          "free 2\nfree 3\nfree 4\n");
    vbounds b;
    char err[512];
    assert_ok(vbounds_compute("bounds_oom.trace", 0, 1, &b, err, sizeof err));
    /* 1 fits (600); 2 does not (OOM); 3 fits (900); 4 evicts 3, the only
     * evictable item, and fits; use 3 re-materialises it, evicting 4. */
    expect_eq_u64(b.belady_ooms, 1);
    expect_eq_u64(b.belady_evictions, 2);
    expect_eq_u64(b.belady_rematerialisations, 1);
    expect_eq_u64(b.peak_live, 1800);
}

/* ---- version 2: needed memory and forced preemptions ---- */

typedef struct belady_want {
    uint64_t evictions, preemptions, preempted_bytes, remats, remat_bytes, ooms;
} belady_want;

static void expect_belady(const char *name, const vbounds *b, belady_want w)
{
    if (!b->belady_done || b->belady_evictions != w.evictions ||
        b->belady_preemptions != w.preemptions || b->belady_preempted_bytes != w.preempted_bytes ||
        b->belady_rematerialisations != w.remats || b->belady_bytes_rematerialised != w.remat_bytes ||
        b->belady_ooms != w.ooms) {
        fprintf(stderr,
                "%s: Belady done %d: %llu evictions, %llu preemptions (%llu bytes), %llu "
                "re-materialisations (%llu bytes), %llu OOMs; wanted %llu, %llu (%llu), %llu (%llu), "
                "%llu\n",
                name, b->belady_done, (unsigned long long)b->belady_evictions,
                (unsigned long long)b->belady_preemptions,
                (unsigned long long)b->belady_preempted_bytes,
                (unsigned long long)b->belady_rematerialisations,
                (unsigned long long)b->belady_bytes_rematerialised,
                (unsigned long long)b->belady_ooms, (unsigned long long)w.evictions,
                (unsigned long long)w.preemptions, (unsigned long long)w.preempted_bytes,
                (unsigned long long)w.remats, (unsigned long long)w.remat_bytes,
                (unsigned long long)w.ooms);
        test_failures++;
    }
}

static void expect_file(const char *path, belady_want w)
{
    vbounds b;
    char err[512];
    vram_status st = vbounds_compute(path, 0, 1, &b, err, sizeof err);
    if (st != VRAM_OK) {
        fprintf(stderr, "%s: %s\n", path, err);
        test_failures++;
        return;
    }
    expect_belady(path, &b, w);
    expect_true(!b.belady_exact || b.belady_preemptions == 0);
}

#define HEADER2(cap) "vramtrace 2\nmodel t\nengine paged\ncapacity " #cap "\n"

static void expect_text(const char *name, const char *text, belady_want w)
{
    write_file(name, text);
    expect_file(name, w);
}

static void test_v2_hand(void)
{
    /* (a) Placing a block takes a preemption; the request comes back at a
     * later step (bounds_preempt.trace). */
    expect_file(DATA "bounds_preempt.trace", (belady_want){0, 1, 300, 3, 300, 0});
    /* (b) An idle adapter goes instead of a request. */
    expect_file(DATA "bounds_idle_adapter.trace", (belady_want){1, 0, 0, 1, 100, 0});
    /* (d) Weights with NEED engine stay, though never used again; (e) the same
     * trace in version 1 gives the figures of Belady before version 2. */
    expect_file(DATA "bounds_engine_weights.trace", (belady_want){2, 0, 0, 1, 300, 0});
    expect_file(DATA "bounds_engine_weights_v1.trace", (belady_want){1, 0, 0, 0, 0, 0});
    /* A request's begin is a next use of what it owns. */
    expect_file(DATA "bounds_readmit.trace", (belady_want){1, 0, 0, 1, 200, 0});
    /* Restores: the most recently preempted first, up to the first that does not fit. */
    expect_file(DATA "bounds_restore_order.trace", (belady_want){0, 2, 500, 2, 500, 0});
    /* A shared key is needed while any holder runs. */
    expect_file(DATA "bounds_shared.trace", (belady_want){0, 2, 700, 3, 700, 0});

    /* (c) Engine-needed weights alone exceed the capacity: the running
     * request is preempted first (vLLM's rule knows nothing better), then it
     * is an OOM; 3 is never placed (its use is skipped).
     *   600; block 2 -> 700; weights 3 (500): 1200 > 1000, no candidate:
     *   request 1 preempted (100 dropped) -> 600 + 500 > 1000, no one left:
     *   OOM; step 1: request 1 back, 2 re-materialised -> 700. */
    expect_text("bounds_v2_oom.trace",
                HEADER2(1000) "alloc 1 600 0 weight 100 engine\nbegin 1\nalloc 2 100 0 kv 10 1\n"
                              "alloc 3 500 0 weight 100 engine\nuse 3\nstep 1\nfree 2\nend 1\n"
                              "free 3\nfree 1\n",
                (belady_want){0, 1, 100, 1, 100, 1});
    expect_text("bounds_v2_oom2.trace",
                HEADER2(1000) "alloc 1 600 0 weight 100 engine\nalloc 2 600 0 weight 100 engine\n",
                (belady_want){0, 0, 0, 0, 0, 1});

    /* The asking request is a victim too when it is the newest (vLLM's rule);
     * one that waits never preempts another, and waits while it does not fit.
     *   400; request 1 takes 2 (100), 3 (200) -> 700, full; 4 (100): no
     *   candidate, the newest is 1 itself: preempted (300 dropped) -> 400 + 100
     *   = 500, 4 placed but not needed (1 waits); request 2 takes 5 -> 600;
     *   6 (300) for waiting request 1: 4 evicted -> 500, then 800 > 700 and
     *   no preemption for a request that waits: OOM (request 2 untouched);
     *   step 1: 1 would need 2, 3, 4 (400) with 200 free: it waits;
     *   request 2 finishes, 2 is freed -> 400; step 2: 3 and 4 come back
     *   (300) -> 700. */
    expect_text("bounds_v2_self.trace",
                HEADER2(700) "alloc 1 400 0 weight 100 engine\nbegin 1\nalloc 2 100 0 kv 10 1\n"
                             "alloc 3 200 0 kv 10 1\nalloc 4 100 0 kv 10 1\nbegin 2\n"
                             "alloc 5 100 0 kv 10 2\nalloc 6 300 0 kv 10 1\nstep 1\nfree 5\n"
                             "end 2\nfree 2\nstep 2\nfree 3\nfree 4\nfree 6\nend 1\nfree 1\n",
                (belady_want){1, 1, 300, 2, 300, 1});

    /* A NEED REQ before REQ begins: the block is a candidate until then, and
     * its owner's begin brings it back.
     *   weights 500; 2 (300, request 9, not begun: a candidate) -> 800;
     *   3 (300, NEED -) evicts 2, the only candidate -> 800; begin 9 brings 2
     *   back by evicting 3 (a candidate; a begin never preempts) -> 800;
     *   use 3: nothing left to evict, so 9, the newest running request, is
     *   preempted (300) and 3 comes back -> 800. */
    expect_text("bounds_v2_early.trace",
                HEADER2(1000) "alloc 1 500 0 weight 100 engine\nalloc 2 300 0 kv 10 9\n"
                              "alloc 3 300 0 kv 10 -\nbegin 9\nuse 3\nfree 2\nend 9\nfree 3\n"
                              "free 1\n",
                (belady_want){2, 1, 300, 2, 600, 0});

    /* One evictable size: exact while no request is preempted or waits.
     *   Request 1's blocks 1, 2 and request 2's block 3 fill 300; block 4
     *   (request 2, the newest) preempts its own request (3 dropped: 100) and
     *   is placed but not needed; at step 1 request 2 would need 3 with
     *   nothing free or evictable (4 is its own): it waits. */
    vbounds b;
    char err[512];
    write_file("bounds_v2_exact.trace",
               HEADER2(300) "begin 1\nalloc 1 100 0 kv 10 1\nalloc 2 100 0 kv 10 1\nbegin 2\n"
                            "alloc 3 100 0 kv 10 2\nstep 1\nfree 1\nfree 2\nend 1\nfree 3\n"
                            "end 2\n");
    assert_ok(vbounds_compute("bounds_v2_exact.trace", 0, 1, &b, err, sizeof err));
    expect_belady("bounds_v2_exact.trace", &b, (belady_want){0, 0, 0, 0, 0, 0});
    expect_true(b.belady_exact);
    expect_eq_u64(b.evictable_size, 100);
    write_file("bounds_v2_inexact.trace",
               HEADER2(300) "begin 1\nalloc 1 100 0 kv 10 1\nalloc 2 100 0 kv 10 1\nbegin 2\n"
                            "alloc 3 100 0 kv 10 2\nalloc 4 100 0 kv 10 2\nstep 1\nfree 1\n"
                            "free 2\nend 1\nfree 3\nfree 4\nend 2\n");
    assert_ok(vbounds_compute("bounds_v2_inexact.trace", 0, 1, &b, err, sizeof err));
    expect_belady("bounds_v2_inexact.trace", &b, (belady_want){0, 1, 100, 0, 0, 0});
    expect_true(!b.belady_exact);
}

#define HEADER_V2 "vramtrace 2\nmodel t\nengine contiguous\ncapacity 1000\n"

/* (f) What version 2 adds to a trace's consistency, each with its file:line. */
static void test_v2_errors(void)
{
    expect_error_in(HEADER_V2, "bounds_pin.trace", "pin 7\n",
                    "bounds_pin.trace:5: pin of id 7, which is not live");
    expect_error_in(HEADER_V2, "bounds_unpin_dead.trace",
                    "alloc 1 10 0 adapter 1 -\npin 1\nunpin 1\nfree 1\nunpin 1\n",
                    "bounds_unpin_dead.trace:9: unpin of id 1, which is not live");
    expect_error_in(HEADER_V2, "bounds_unpin.trace", "alloc 1 10 0 adapter 1 -\nunpin 1\n",
                    "bounds_unpin.trace:6: unpin of id 1, which is not pinned");
    /* Pins nest: one unpin of two leaves it pinned. */
    expect_error_in(HEADER_V2, "bounds_pinfree.trace",
                    "alloc 1 10 0 adapter 1 -\npin 1\npin 1\nunpin 1\nfree 1\n",
                    "bounds_pinfree.trace:9: free of id 1, which is pinned");
    expect_error_in(HEADER_V2, "bounds_relneed.trace", "acquire k 10 1 5\nrelease k engine\n",
                    "bounds_relneed.trace:6: release of key \"k\" by NEED engine, which holds no "
                    "reference");
    expect_error_in(HEADER_V2, "bounds_relneed2.trace",
                    "acquire k 10 1 -\nacquire k 10 1 5\nrelease k 5\nrelease k 5\n",
                    "bounds_relneed2.trace:8: release of key \"k\" by NEED 5, which holds no "
                    "reference");
    expect_error_in(HEADER_V2, "bounds_relneed3.trace", "acquire k 10 1 engine\nrelease k -\n",
                    "bounds_relneed3.trace:6: release of key \"k\" by NEED -, which holds no "
                    "reference");
    expect_error_in(HEADER_V2, "bounds_begin2.trace", "begin 3\nbegin 3\n",
                    "bounds_begin2.trace:6: begin of request 3, which is running");
    expect_error_in(HEADER_V2, "bounds_end.trace", "begin 3\nend 3\nend 3\n",
                    "bounds_end.trace:7: end of request 3, which is not running");
    /* The reader's version-2 errors come through too. */
    expect_error_in(HEADER_V2, "bounds_noneed.trace", "alloc 1 10 0 kv 1\n",
                    "bounds_noneed.trace:5:");

    /* Fine: a NEED REQ before REQ begins (and after it ends), a release by
     * each NEED that holds a reference, pins that nest; and in version 1,
     * begins and ends that do not pair (requests own nothing there). */
    vbounds b;
    char err[512];
    write_file("bounds_v2_ok.trace",
               HEADER_V2 "alloc 1 10 0 kv 1 4\nacquire k 10 1 4\nacquire k 10 1 engine\n"
                         "acquire k 10 1 -\nbegin 4\nend 4\nalloc 2 10 0 kv 1 4\nrelease k 4\n"
                         "release k -\nrelease k engine\nalloc 3 10 0 adapter 1 -\npin 3\npin 3\n"
                         "unpin 3\nunpin 3\nfree 3\nfree 2\nfree 1\n");
    vram_status st = vbounds_compute("bounds_v2_ok.trace", 0, 1, &b, err, sizeof err);
    if (st)
        fprintf(stderr, "%s\n", err);
    expect_status(st, VRAM_OK);
    expect_eq_u64(b.peak_live, 30); /* 1, k and 2 */
    write_file("bounds_v1_requests.trace", HEADER "begin 1\nbegin 1\nend 9\nstep 1\n");
    assert_ok(vbounds_compute("bounds_v1_requests.trace", 0, 1, &b, err, sizeof err));
}

/* ---- random version-2 traces ---- */

enum { R_IDS = 12, R_KEYS = 3, R_REQS = 4, R_HOLDERS = 16 };

typedef struct rand_trace {
    char text[16384];
    size_t used;
    int v2, needs; /* needs 0: every NEED "-" and no pins (a version-1 trace's twin) */
} rand_trace;

static void emit(rand_trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(rand_trace *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t->used += (size_t)vsnprintf(t->text + t->used, sizeof t->text - t->used, fmt, ap);
    va_end(ap);
    assert_true(t->used < sizeof t->text);
}

/* A random NEED: "-", "engine" or a request 1..R_REQS (as text, into buf). */
static const char *rand_need(uint64_t *seed, int needs, char buf[8])
{
    if (!needs)
        return "-";
    int r = (int)(test_rand(seed) % (R_REQS + 2));
    if (r == 0)
        return "-";
    if (r == 1)
        return "engine";
    snprintf(buf, 8, "%d", r - 1);
    return buf;
}

/* A consistent trace of `n` events (pass 1 accepts it) written to `path`,
 * version 2 or 1 (then needs must be 0); the same seed gives the same events. */
static void rand_trace_write(const char *path, uint64_t seed, int n, int v2, int needs,
                             uint64_t capacity)
{
    static const char *const kinds[] = {"kv", "kv", "adapter", "weight", "activation", "workspace"};
    static const uint64_t sizes[] = {64, 100, 128, 256, 300};
    static const uint64_t key_sizes[R_KEYS] = {100, 200, 50};
    static rand_trace t;
    int live[R_IDS] = {0}, pins[R_IDS] = {0}, running[R_REQS + 1] = {0};
    char holder[R_HOLDERS][8]; /* NEED text of each key reference */
    int holder_key[R_HOLDERS], nholders = 0;
    uint64_t next_id[R_IDS];
    for (int i = 0; i < R_IDS; i++)
        next_id[i] = (uint64_t)i + 1;
    t.used = 0;
    emit(&t, "vramtrace %d\nmodel t\nengine paged\ncapacity %llu\n", v2 ? 2 : 1,
         (unsigned long long)capacity);
    char buf[8];
    for (int k = 0, step = 0; k < n; k++) {
        int slot = (int)(test_rand(&seed) % R_IDS);
        uint64_t id = next_id[slot];
        const char *tail = v2 ? " " : "";
        switch (test_rand(&seed) % 10) {
        case 0:
        case 1:
            if (live[slot]) {
                if (pins[slot])
                    break;
                emit(&t, "free %llu\n", (unsigned long long)id);
                live[slot] = 0;
                next_id[slot] += R_IDS;
            } else {
                emit(&t, "alloc %llu %llu 0 %s 1%s%s\n", (unsigned long long)id,
                     (unsigned long long)sizes[test_rand(&seed) % 5],
                     kinds[test_rand(&seed) % 6], tail,
                     v2 ? rand_need(&seed, needs, buf) : "");
                live[slot] = 1;
            }
            break;
        case 2:
        case 3:
            if (live[slot])
                emit(&t, "use %llu\n", (unsigned long long)id);
            break;
        case 4:
            if (live[slot] && needs && (pins[slot] == 0 || test_rand(&seed) % 2)) {
                emit(&t, "pin %llu\n", (unsigned long long)id);
                pins[slot]++;
            } else if (live[slot] && pins[slot]) {
                emit(&t, "unpin %llu\n", (unsigned long long)id);
                pins[slot]--;
            }
            break;
        case 5:
            if (nholders < R_HOLDERS) {
                int key = (int)(test_rand(&seed) % R_KEYS);
                const char *need = v2 ? rand_need(&seed, needs, buf) : "";
                emit(&t, "acquire k%d %llu 1%s%s\n", key, (unsigned long long)key_sizes[key],
                     tail, need);
                snprintf(holder[nholders], 8, "%s", need);
                holder_key[nholders++] = key;
            }
            break;
        case 6:
            if (nholders) {
                int h = (int)(test_rand(&seed) % (uint64_t)nholders);
                emit(&t, "release k%d%s%s\n", holder_key[h], tail, holder[h]);
                nholders--;
                holder_key[h] = holder_key[nholders];
                memcpy(holder[h], holder[nholders], 8);
            }
            break;
        case 7:
        case 8: {
            int r = 1 + (int)(test_rand(&seed) % R_REQS);
            emit(&t, "%s %d\n", running[r] ? "end" : "begin", r);
            running[r] = !running[r];
            break;
        }
        default:
            emit(&t, "step %d\n", ++step);
            break;
        }
    }
    write_file(path, t.text);
}

#define SAME(f) expect_eq_u64(a.f, b.f)

static void test_v2_random(void)
{
    uint64_t seed = 20261207;
    printf("bounds version 2 random: seed %llu\n", (unsigned long long)seed);
    char err[512];
    uint64_t preempted = 0, remats = 0;
    for (int round = 0; round < 300; round++) {
        uint64_t s = test_rand(&seed), cap = 200 + test_rand(&seed) % 1200;
        /* (e) a version-1 trace and its version-2 twin with nothing needed. */
        vbounds a, b;
        rand_trace_write("bounds_rand_v1.trace", s, 120, 0, 0, cap);
        rand_trace_write("bounds_rand_v2.trace", s, 120, 1, 0, cap);
        assert_ok(vbounds_compute("bounds_rand_v1.trace", 0, 1, &a, err, sizeof err));
        vram_status st = vbounds_compute("bounds_rand_v2.trace", 0, 1, &b, err, sizeof err);
        if (st)
            fprintf(stderr, "%s\n", err);
        assert_ok(st);
        SAME(peak_live);
        SAME(belady_evictions);
        SAME(belady_rematerialisations);
        SAME(belady_bytes_rematerialised);
        SAME(belady_ooms);
        SAME(belady_exact);
        expect_eq_u64(b.belady_preemptions, 0);

        /* With needs: room for the peak loses nothing; less room runs clean
         * (the asan preset checks the memory) and the same way twice. */
        rand_trace_write("bounds_rand_needs.trace", s, 160, 1, 1, cap);
        st = vbounds_compute("bounds_rand_needs.trace", 0, 0, &a, err, sizeof err);
        if (st)
            fprintf(stderr, "round %d: %s\n", round, err);
        assert_ok(st);
        assert_ok(vbounds_compute("bounds_rand_needs.trace", a.peak_live, 1, &b, err, sizeof err));
        expect_belady("room for the peak", &b, (belady_want){0, 0, 0, 0, 0, 0});
        assert_ok(vbounds_compute("bounds_rand_needs.trace", 0, 1, &a, err, sizeof err));
        assert_ok(vbounds_compute("bounds_rand_needs.trace", 0, 1, &b, err, sizeof err));
        SAME(belady_evictions);
        SAME(belady_preemptions);
        SAME(belady_preempted_bytes);
        SAME(belady_rematerialisations);
        SAME(belady_ooms);
        expect_true(!a.belady_exact || a.belady_preemptions == 0);
        preempted += a.belady_preemptions;
        remats += a.belady_rematerialisations;
    }
    /* The traces do exercise preemptions and restores. */
    expect_true(preempted > 100 && remats > 100);
    printf("bounds version 2 random: %llu preemptions, %llu re-materialisations over 300 traces\n",
           (unsigned long long)preempted, (unsigned long long)remats);
}

/* ---- Belady against every eviction choice, on small uniform traces. ---- */

enum { ITEMS = 5, SLOTS = 2, EVENTS = 14 };

typedef struct op {
    int kind; /* 0 alloc, 1 use, 2 free */
    int item;
} op;

/* The fewest re-materialisations of any eviction choice from state `resident`
 * (bit mask of items) at event i. Exhaustive. */
static int best_remats(const op *ops, int n, int i, unsigned resident)
{
    if (i == n)
        return 0;
    const op *o = &ops[i];
    unsigned bit = 1u << o->item;
    if (o->kind == 2)
        return best_remats(ops, n, i + 1, resident & ~bit);
    int cost = 0;
    if (o->kind == 1 && (resident & bit))
        return best_remats(ops, n, i + 1, resident);
    if (o->kind == 1)
        cost = 1;
    if (__builtin_popcount(resident) < SLOTS)
        return cost + best_remats(ops, n, i + 1, resident | bit);
    int best = 1 << 20;
    for (int v = 0; v < ITEMS; v++) {
        if (!(resident & (1u << v)))
            continue;
        int r = best_remats(ops, n, i + 1, (resident & ~(1u << v)) | bit);
        if (r < best)
            best = r;
    }
    return cost + best;
}

static void test_belady_optimal(void)
{
    uint64_t seed = 20261122;
    printf("belady exhaustive: seed %llu\n", (unsigned long long)seed);
    int total = 0;
    for (int round = 0; round < 200; round++) {
        op ops[EVENTS + ITEMS];
        int n = 0, state[ITEMS] = {0}; /* 0 never, 1 live, 2 freed */
        while (n < EVENTS) {
            int it = (int)(test_rand(&seed) % ITEMS);
            if (state[it] == 0) {
                ops[n++] = (op){0, it};
                state[it] = 1;
            } else if (state[it] == 1) {
                ops[n++] = (op){test_rand(&seed) % 5 ? 1 : 2, it};
                if (ops[n - 1].kind == 2)
                    state[it] = 2;
            }
            int all_freed = 1;
            for (int k = 0; k < ITEMS; k++)
                all_freed &= state[k] == 2;
            if (all_freed)
                break;
        }
        char text[2048];
        size_t used = (size_t)snprintf(text, sizeof text,
                                       "vramtrace 1\nmodel t\nengine paged\ncapacity %d\n",
                                       SLOTS * 256);
        for (int i = 0; i < n; i++) {
            const char *fmt = ops[i].kind == 0   ? "alloc %d 256 0 kv 1\n"
                              : ops[i].kind == 1 ? "use %d\n"
                                                 : "free %d\n";
            used += (size_t)snprintf(text + used, sizeof text - used, fmt, ops[i].item);
        }
        write_file("bounds_random.trace", text);
        vbounds b;
        char err[512];
        assert_ok(vbounds_compute("bounds_random.trace", 0, 1, &b, err, sizeof err));
        int want = best_remats(ops, n, 0, 0);
        total += want;
        if ((int)b.belady_rematerialisations != want) {
            fprintf(stderr, "round %d: Belady %llu re-materialisations, optimum %d\n", round,
                    (unsigned long long)b.belady_rematerialisations, want);
            test_failures++;
            break;
        }
    }
    expect_true(total > 50); /* the traces do make evictions matter */
    printf("belady exhaustive: %d re-materialisations over 200 traces, all optimal\n", total);
}

/* The next-use log against a direct computation, over several read chunks:
 * items are created, referenced at random while live, and retired. */
static void test_nextuse_log(void)
{
    enum { REFS = 50000, LIVE = 64 };
    static uint64_t item_of[REFS], index_of[REFS], want[REFS];
    uint64_t seed = 99, live[LIVE], next_item = 1;
    printf("nextuse: seed 99\n");
    vnextuse *n;
    assert_ok(vnextuse_create(&n));
    for (int i = 0; i < LIVE; i++)
        live[i] = 0;
    for (int k = 0; k < REFS; k++) {
        int slot = (int)(test_rand(&seed) % LIVE);
        int first = live[slot] == 0 || test_rand(&seed) % 8 == 0; /* retire and replace */
        if (first)
            live[slot] = next_item++;
        item_of[k] = live[slot];
        index_of[k] = (uint64_t)k * 3 + 1;
        assert_ok(vnextuse_log(n, item_of[k], index_of[k], first));
    }
    /* Direct: walk backwards remembering each item's latest reference. */
    static uint64_t later[REFS + LIVE + 1];
    for (uint64_t i = 0; i < next_item; i++)
        later[i] = VNEXTUSE_NEVER;
    for (int k = REFS - 1; k >= 0; k--) {
        want[k] = later[item_of[k]];
        later[item_of[k]] = index_of[k];
    }
    assert_ok(vnextuse_finish(n));
    int bad = 0;
    for (int k = 0; k < REFS; k++) {
        uint64_t got;
        assert_ok(vnextuse_next(n, &got));
        bad += got != want[k];
    }
    uint64_t after;
    assert_ok(vnextuse_next(n, &after));
    expect_eq_u64(after, VNEXTUSE_NEVER);
    expect_eq_u64(bad, 0);
    vnextuse_destroy(n);
}

int main(void)
{
    test_peak_live();
    test_nextuse_log();
    test_belady_exact();
    test_no_evictable();
    test_pooled_split();
    test_consistency_errors();
    test_belady_ooms();
    test_belady_optimal();
    test_v2_hand();
    test_v2_errors();
    test_v2_random();
    return test_finish("bounds");
}
