/* test_tracegen.c - the generator: determinism (same seed, same bytes; another
 * seed, other bytes), and that every trace it writes is balanced and within
 * the device: each alloc freed exactly once after it, each use of a live id,
 * each acquire released, one size per key, begin/end paired, and the live bytes
 * never above utilisation x capacity. Also version 2's NEED and pins
 * (traces/FORMAT.md, "Generated traces"): weights and the base embeddings
 * NEED engine, KV blocks and buffers NEED the request id (of a running
 * request; all freed before its end, except with a prefix cache, whose full
 * blocks stay cached after it), everything else NEED '-'; each release names
 * a NEED that holds the key; pin/unpin balanced per id (never below zero,
 * zero at its free and at the end: adapters, and cached KV blocks a request
 * hit). */
#include <stdio.h>
#include <zlib.h>

#include "testlib.h"
#include "trace.h"
#include "tracegen.h"

#define CONV VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_conv.csv"
#define CODE VRAM_RECORDINGS_DIR "/AzureLLMInferenceTrace_code.csv"
#define MOONCAKE VRAM_RECORDINGS_DIR "/mooncake_fast25_conversation_trace.jsonl"

typedef struct keyslot {
    char key[VTRACE_KEY_MAX + 24]; /* a key, or "KEY NEED" */
    uint64_t size, refs;
} keyslot;

typedef struct summary {
    uint64_t events, allocs, acquires, steps, begins, peak_live, uses;
    uint64_t pins, unpins, need_engine, need_request; /* version 2 */
    uint64_t peak_running;                            /* the generator's count */
    uint64_t pnodes, lookups, fills;                  /* the prefix block stream */
    uint64_t kinds[VRAM_KIND_COUNT];
    int ok;
} summary;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%" PRIu64 ": ", path, ev.line);                            \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            s.ok = 0;                                                                      \
            goto out;                                                                      \
        }                                                                                  \
    } while (0)

/* The slot of `key` in an open-addressing table of nkeys (a power of two). */
static keyslot *key_slot(keyslot *keys, size_t nkeys, const char *key)
{
    size_t i = hash_str(key) & (nkeys - 1);
    while (keys[i].key[0] && strcmp(keys[i].key, key) != 0)
        i = (i + 1) & (nkeys - 1);
    return &keys[i];
}

#define MAX_REQ (1 << 20) /* request ids (line numbers) the checker handles */

/* Replays the trace's bookkeeping (not an allocator): ids are dense (1, 2, ...)
 * in generated traces, so live sizes, pins and owners sit in arrays indexed by id. */
static summary check_trace(const char *path, double utilisation)
{
    summary s = {.ok = 1};
    vtrace_reader *r;
    char err[512];
    vram_status st = vtrace_open(path, &r, err, sizeof err);
    if (st) {
        fprintf(stderr, "%s\n", err);
        s.ok = 0;
        return s;
    }
    uint64_t cap_ids = 1 << 16, *size = calloc(cap_ids, sizeof *size);
    uint64_t *pins = calloc(cap_ids, sizeof *pins);
    uint64_t *owner = calloc(cap_ids, sizeof *owner); /* request id + 1 of a KV alloc, else 0 */
    size_t nkeys = 1 << 16;
    keyslot *keys = calloc(nkeys, sizeof *keys);
    keyslot *refs = calloc(nkeys, sizeof *refs); /* "KEY NEED": the references per NEED */
    uint64_t *req_open = calloc(MAX_REQ, sizeof *req_open); /* by request id (a line number) */
    uint64_t *req_holds = calloc(MAX_REQ, sizeof *req_holds); /* its live KV allocs and references */
    uint64_t *req_fill = calloc(MAX_REQ, sizeof *req_fill); /* 1 + its last fill's tokens since its lookup */
    assert_true(size && pins && owner && keys && refs && req_open && req_holds && req_fill);
    expect_true(vtrace_header_of(r)->version == 2);
    expect_true(vtrace_header_of(r)->kv_token_bytes > 0);
    expect_eq_u64(vtrace_header_of(r)->prefill_tokens_per_s, 16667); /* 1e9 / 60000 ns, rounded */
    uint64_t live = 0, limit = (uint64_t)(utilisation * (double)vtrace_header_of(r)->capacity);
    const int prefix = vtrace_header_of(r)->prefix_cache_blocks != 0;
    uint64_t next_id = 1;
    vtrace_event ev = {0};
    int rc;
    while ((rc = vtrace_next(r, &ev)) == 1) {
        s.events++;
        switch (ev.type) {
        case VTRACE_ALLOC:
            CHECK(ev.id == next_id, "alloc id %" PRIu64 ", expected %" PRIu64, ev.id, next_id);
            next_id++;
            if (ev.id >= cap_ids) {
                size = realloc(size, 2 * cap_ids * sizeof *size);
                pins = realloc(pins, 2 * cap_ids * sizeof *pins);
                owner = realloc(owner, 2 * cap_ids * sizeof *owner);
                assert_true(size && pins && owner);
                memset(size + cap_ids, 0, cap_ids * sizeof *size);
                memset(pins + cap_ids, 0, cap_ids * sizeof *pins);
                memset(owner + cap_ids, 0, cap_ids * sizeof *owner);
                cap_ids *= 2;
            }
            size[ev.id] = ev.size;
            live += ev.size;
            s.allocs++;
            s.kinds[ev.kind]++;
            if (ev.kind == VRAM_KIND_WEIGHT) {
                CHECK(ev.need == VTRACE_NEED_ENGINE, "weight %" PRIu64 " without NEED engine", ev.id);
                s.need_engine++;
            } else if (ev.kind == VRAM_KIND_KV) {
                CHECK(ev.need == VTRACE_NEED_REQUEST && ev.owner < MAX_REQ && req_open[ev.owner],
                      "KV %" PRIu64 " without the NEED of a running request", ev.id);
                owner[ev.id] = ev.owner + 1;
                req_holds[ev.owner]++;
                s.need_request++;
            } else {
                CHECK(ev.need == VTRACE_NEED_NONE, "%s %" PRIu64 " with a NEED other than '-'",
                      vtrace_kind_name(ev.kind), ev.id);
            }
            break;
        case VTRACE_FREE:
        case VTRACE_USE:
        case VTRACE_PIN:
        case VTRACE_UNPIN:
            CHECK(ev.id < cap_ids && size[ev.id], "%s of id %" PRIu64 " that is not live",
                  vtrace_type_name(ev.type), ev.id);
            if (ev.type == VTRACE_FREE) {
                CHECK(pins[ev.id] == 0, "free of id %" PRIu64 " still pinned %" PRIu64 " times", ev.id,
                      pins[ev.id]);
                live -= size[ev.id];
                size[ev.id] = 0;
                if (owner[ev.id])
                    req_holds[owner[ev.id] - 1]--;
            } else if (ev.type == VTRACE_PIN) {
                pins[ev.id]++;
                s.pins++;
            } else if (ev.type == VTRACE_UNPIN) {
                CHECK(pins[ev.id] > 0, "unpin of id %" PRIu64 " that is not pinned", ev.id);
                pins[ev.id]--;
                s.unpins++;
            } else {
                s.uses++;
            }
            break;
        case VTRACE_SHARED_ACQUIRE:
        case VTRACE_SHARED_RELEASE: {
            keyslot *k = key_slot(keys, nkeys, ev.key);
            char nbuf[21], rkey[VTRACE_KEY_MAX + 24];
            const char *need = vtrace_need_text(ev.need, ev.owner, nbuf);
            snprintf(rkey, sizeof rkey, "%s %s", ev.key, need);
            keyslot *kr = key_slot(refs, nkeys, rkey);
            if (strncmp(ev.key, "base:", 5) == 0)
                CHECK(ev.need == VTRACE_NEED_ENGINE, "%s of %s without NEED engine", vtrace_type_name(ev.type),
                      ev.key);
            else
                CHECK(ev.need == VTRACE_NEED_NONE ||
                          (ev.need == VTRACE_NEED_REQUEST && ev.owner < MAX_REQ && req_open[ev.owner]),
                      "%s of %s with a NEED other than '-' or a running request", vtrace_type_name(ev.type),
                      ev.key);
            s.need_engine += ev.need == VTRACE_NEED_ENGINE;
            s.need_request += ev.need == VTRACE_NEED_REQUEST;
            if (ev.type == VTRACE_SHARED_ACQUIRE) {
                if (!kr->key[0])
                    snprintf(kr->key, sizeof kr->key, "%s", rkey);
                kr->refs++;
                if (ev.need == VTRACE_NEED_REQUEST)
                    req_holds[ev.owner]++;
            } else {
                CHECK(kr->key[0] && kr->refs > 0, "release of key %s with NEED %s that holds no reference",
                      ev.key, need);
                kr->refs--;
                if (ev.need == VTRACE_NEED_REQUEST)
                    req_holds[ev.owner]--;
            }
            if (ev.type == VTRACE_SHARED_ACQUIRE) {
                if (!k->key[0])
                    snprintf(k->key, sizeof k->key, "%s", ev.key);
                CHECK(k->refs == 0 || k->size == ev.size, "key %s acquired with another size", ev.key);
                if (k->refs++ == 0) {
                    k->size = ev.size;
                    live += ev.size;
                }
                s.acquires++;
            } else {
                CHECK(k->key[0] && k->refs > 0, "release of key %s that is not held", ev.key);
                if (--k->refs == 0)
                    live -= k->size;
            }
            break;
        }
        case VTRACE_STEP:
            CHECK(ev.id == s.steps + 1, "step %" PRIu64 " out of order", ev.id);
            s.steps++;
            break;
        case VTRACE_REQUEST_BEGIN:
        case VTRACE_REQUEST_END:
            CHECK(ev.id < MAX_REQ, "request id %" PRIu64 " too large for the checker", ev.id);
            CHECK(req_open[ev.id] == (ev.type == VTRACE_REQUEST_END),
                  "%s of request %" PRIu64 " out of pairing", vtrace_type_name(ev.type), ev.id);
            /* finished or preempted: its KV is freed before its end (a prefix
             * cache keeps the full blocks cached) */
            CHECK(ev.type == VTRACE_REQUEST_BEGIN || req_holds[ev.id] == 0 || prefix,
                  "request %" PRIu64 " ends with %" PRIu64 " KV allocations or references", ev.id,
                  req_holds[ev.id]);
            req_open[ev.id] = ev.type == VTRACE_REQUEST_BEGIN;
            req_fill[ev.id] = 0;
            s.begins += ev.type == VTRACE_REQUEST_BEGIN;
            break;
        case VTRACE_PNODE:
            s.pnodes++;
            break;
        case VTRACE_LOOKUP:
        case VTRACE_FILL:
            /* a lookup right after its begin; fills between it and the end, never going back */
            CHECK(ev.id < MAX_REQ && req_open[ev.id] && (ev.type == VTRACE_LOOKUP) == !req_fill[ev.id] &&
                      ev.tokens + 1 > req_fill[ev.id],
                  "%s of request %" PRIu64 " out of order", vtrace_type_name(ev.type), ev.id);
            req_fill[ev.id] = ev.type == VTRACE_FILL ? ev.tokens + 1 : 1;
            s.lookups += ev.type == VTRACE_LOOKUP;
            s.fills += ev.type == VTRACE_FILL;
            break;
        default:
            CHECK(0, "unexpected event type %d", (int)ev.type);
        }
        if (live > s.peak_live)
            s.peak_live = live;
        CHECK(live <= limit, "live bytes %" PRIu64 " above %" PRIu64, live, limit);
    }
    CHECK(rc == 0, "%s", vtrace_error(r));
    CHECK(live == 0, "%" PRIu64 " bytes still live at the end", live);
    for (size_t i = 0; i < nkeys; i++)
        CHECK(keys[i].refs == 0, "key %s still held at the end", keys[i].key);
    for (size_t i = 0; i < MAX_REQ; i++)
        CHECK(!req_open[i], "request %zu never ended", i);
    for (size_t i = 0; i < cap_ids; i++)
        CHECK(!pins[i], "id %zu still pinned at the end", i);
    CHECK(s.pins == s.unpins, "%" PRIu64 " pins, %" PRIu64 " unpins", s.pins, s.unpins);
out:
    free(size);
    free(pins);
    free(owner);
    free(keys);
    free(refs);
    free(req_open);
    free(req_holds);
    free(req_fill);
    vtrace_close(r);
    return s;
}

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static vengine_stats run(const vtracegen_config *c, const char *out)
{
    vengine_stats st;
    char err[1024];
    vram_status rc = vtracegen_run(c, out, &st, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s: %s\n", out, err);
    assert_ok(rc);
    return st;
}

static void test_determinism(void)
{
    vtracegen_config c;
    vtracegen_defaults(&c);
    c.e.workload = CONV;
    c.e.start_s = 1380;
    c.e.duration_s = 30;
    const char *a = VRAM_BINARY_DIR "/test_tracegen_a.trace", *b = VRAM_BINARY_DIR "/test_tracegen_b.trace";
    run(&c, a);
    run(&c, b);
    expect_true(same_file(a, b));
    c.e.seed = 2;
    run(&c, b);
    expect_true(!same_file(a, b));
    remove(a);
    remove(b);
}

static summary test_balanced(const char *name, const vtracegen_config *c, int want_preemptions)
{
    char path[512];
    snprintf(path, sizeof path, "%s/test_tracegen_%s.trace", VRAM_BINARY_DIR, name);
    vengine_stats st = run(c, path);
    summary s = check_trace(path, c->e.utilisation);
    if (!s.ok)
        fprintf(stderr, "%s: trace not balanced\n", name);
    expect_true(s.ok);
    expect_eq_u64(s.events, st.events);
    expect_eq_u64(s.steps, st.steps);
    expect_true(st.requests > 0 && st.finished + st.rejected == st.requests);
    expect_eq_u64(s.begins, st.finished + st.preemptions);
    expect_true(s.kinds[VRAM_KIND_WEIGHT] > 0 && s.kinds[VRAM_KIND_KV] > 0 &&
                s.kinds[VRAM_KIND_ACTIVATION] == st.steps && s.kinds[VRAM_KIND_WORKSPACE] == st.steps);
    expect_true(c->e.adapters == 0 || (s.kinds[VRAM_KIND_ADAPTER] > 0 && s.uses > 0 && s.pins > 0));
    expect_true(s.need_engine >= s.kinds[VRAM_KIND_WEIGHT] + 2 && s.need_request >= s.kinds[VRAM_KIND_KV]);
    expect_true(s.acquires >= 2); /* the shared embeddings, by the chat and the embedding model */
    expect_true(st.peak_kv_bytes <= st.kv_pool_bytes);
    if (want_preemptions)
        expect_true(st.preemptions > 0);
    printf("%s: %" PRIu64 " events, %" PRIu64 " requests, %" PRIu64 " preemptions, %" PRIu64
           " prefix block hits, %" PRIu64 " pins, peak live %.1f GiB\n",
           name, st.events, st.requests, st.preemptions, st.prefix_hit_blocks, s.pins, (double)s.peak_live / (1 << 30));
    remove(path);
    s.peak_running = st.peak_running;
    return s;
}

static void test_traces(void)
{
    vtracegen_config c;
    vtracegen_defaults(&c);
    c.e.workload = CONV;
    c.e.start_s = 1380;
    c.e.duration_s = 40;
    test_balanced("conv", &c, 0);

    c.e.workload = CODE;
    c.e.start_s = 600;
    test_balanced("code", &c, 0);

    c.e.workload = CONV;
    c.e.start_s = 1380;
    c.e.kv = VENGINE_KV_CONTIGUOUS;
    test_balanced("contig", &c, 0);

    /* a small device: preemption under memory pressure, paged and contiguous */
    c.e.model = "llama-3-8b";
    c.e.tp = 1;
    c.e.capacity = UINT64_C(20) << 30;
    c.e.speedup = 4;
    c.e.kv = VENGINE_KV_PAGED;
    test_balanced("small-paged", &c, 1);
    c.e.kv = VENGINE_KV_CONTIGUOUS;
    test_balanced("small-contig", &c, 1);

    /* the reservation styles under load (Llama-3-70B, 8192-token context): one
     * buffer per admission, never grown; reserving the whole context admits
     * fewer requests at once than reserving exactly */
    vtracegen_defaults(&c);
    c.e.workload = CONV;
    c.e.start_s = 1380;
    c.e.duration_s = 40;
    c.e.speedup = 4;
    static const vengine_kv_style styles[] = {VENGINE_KV_MAX, VENGINE_KV_POW2, VENGINE_KV_ORACLE};
    uint64_t peak[3];
    for (size_t i = 0; i < 3; i++) {
        c.e.kv = styles[i];
        char name[32];
        snprintf(name, sizeof name, "conv-%s", vengine_kv_name(styles[i]));
        summary r = test_balanced(name, &c, 0);
        expect_eq_u64(r.kinds[VRAM_KIND_KV], r.begins);
        peak[i] = r.peak_running;
        printf("%s: peak %" PRIu64 " running\n", name, peak[i]);
    }
    expect_true(peak[0] < peak[1] && peak[1] <= peak[2]);

    vtracegen_defaults(&c);
    c.e.workload = MOONCAKE;
    c.e.format = VWORKLOAD_MOONCAKE;
    c.e.model = "llama-3.1-70b";
    c.e.start_s = 600;
    c.e.duration_s = 20;
    summary m = test_balanced("mooncake", &c, 0);
    /* the prefix block stream: a lookup at every admission, its trie, fills */
    expect_true(m.lookups == m.begins && m.pnodes > 0 && m.fills > m.lookups);
    c.e.capacity = UINT64_C(50) << 30; /* cached blocks evicted, requests preempted */
    m = test_balanced("mooncake-small", &c, 1);
    expect_true(m.lookups == m.begins);
}

static void test_errors(void)
{
    vtracegen_config c;
    vtracegen_defaults(&c);
    char err[1024];
    const char *out = VRAM_BINARY_DIR "/test_tracegen_err.trace";
    expect_status(vtracegen_run(&c, out, NULL, err, sizeof err), VRAM_EINVAL);
    expect_true(strcmp(err, "no workload file given") == 0);
    c.e.workload = CONV;
    c.e.model = "gpt-5";
    expect_status(vtracegen_run(&c, out, NULL, err, sizeof err), VRAM_EINVAL);
    expect_true(strstr(err, "unknown model 'gpt-5'") != NULL);
    c.e.model = "llama-3-70b";
    c.e.tp = 3;
    expect_status(vtracegen_run(&c, out, NULL, err, sizeof err), VRAM_EINVAL);
    c.e.tp = 1; /* 141 GB of weights on an 80 GiB device */
    expect_status(vtracegen_run(&c, out, NULL, err, sizeof err), VRAM_EINVAL);
    expect_true(strstr(err, "no room for the KV cache") != NULL);
    c.e.tp = 4;
    c.e.utilisation = 1.5;
    expect_status(vtracegen_run(&c, out, NULL, err, sizeof err), VRAM_EINVAL);
    c.e.utilisation = 0.9;
    c.e.workload = "/nonexistent.csv";
    expect_status(vtracegen_run(&c, out, NULL, err, sizeof err), VRAM_EIO);
    expect_true(strstr(err, "/nonexistent.csv: cannot open") != NULL);
    /* a malformed workload: the file:line error, and no trace left behind */
    const char *bad = VRAM_BINARY_DIR "/test_tracegen_bad.csv";
    FILE *f = fopen(bad, "w");
    assert_true(f != NULL);
    fputs("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:47,x,1\n", f);
    fclose(f);
    c.e.workload = bad;
    expect_status(vtracegen_run(&c, out, NULL, err, sizeof err), VRAM_EPARSE);
    expect_true(strstr(err, "test_tracegen_bad.csv:3: ContextTokens: expected a non-negative integer") != NULL);
    FILE *gone = fopen(out, "r");
    expect_true(gone == NULL);
    if (gone)
        fclose(gone);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    gone = fopen(tmp, "r");
    expect_true(gone == NULL);
    if (gone)
        fclose(gone);
    remove(bad);
}

/* Same lines, comments aside (they name the command and its paths); either may be gzip. */
static int same_events(const char *a, const char *b)
{
    gzFile fa = gzopen(a, "rb"), fb = gzopen(b, "rb");
    int same = fa && fb;
    char la[4200], lb[4200];
    while (same) {
        char *ra, *rb;
        do
            ra = gzgets(fa, la, sizeof la);
        while (ra && la[0] == '#');
        do
            rb = gzgets(fb, lb, sizeof lb);
        while (rb && lb[0] == '#');
        same = (!ra && !rb) || (ra && rb && strcmp(la, lb) == 0);
        if (!same)
            fprintf(stderr, "%s and %s differ:\n  %s  %s", a, b, ra ? la : "(end)\n", rb ? lb : "(end)\n");
        if (!ra || !rb)
            break;
    }
    if (fa)
        gzclose(fa);
    if (fb)
        gzclose(fb);
    return same;
}

/* The committed traces come out of the generator as traces/README.md says. */
static void test_committed(void)
{
    vtracegen_config c;
    vtracegen_defaults(&c);
    c.e.workload = MOONCAKE;
    c.e.format = VWORKLOAD_MOONCAKE;
    c.e.model = "llama-3.1-70b";
    c.e.start_s = 600;
    c.e.duration_s = 300;
    const char *out = VRAM_BINARY_DIR "/test_tracegen_committed.trace";
    run(&c, out);
    expect_true(same_events(out, VRAM_SOURCE_DIR "/traces/llama70b-mooncake.trace"));

    vtracegen_defaults(&c);
    c.e.workload = CONV;
    c.e.kv = VENGINE_KV_CONTIGUOUS;
    c.e.start_s = 1380;
    c.e.duration_s = 660;
    c.e.speedup = 1.5;
    c.e.max_batch_seqs = 512;
    run(&c, out);
    expect_true(same_events(out, VRAM_SOURCE_DIR "/traces/llama70b-contig.trace"));
    remove(out);
}

/* The checker itself: a hand-made version-2 trace passes, and each broken
 * NEED, pin or release in it is caught. */
static void test_checker(void)
{
    static const char head[] =
        "vramtrace 2\nmodel m\nengine paged\ncapacity 1000000\nkv_token_bytes 81920\n"
        "prefill_tokens_per_s 16667\n"
        "acquire base:m:embed 100 100 engine\n"
        "alloc 1 100 0 weight 100 engine\n"
        "alloc 2 100 0 adapter 50 -\n"
        "begin 7\n"
        "pin 2\n";
    static const char tail[] =
        "end 7\n"
        "free 2\n"
        "free 1\n"
        "release base:m:embed engine\n";
    static const struct {
        const char *middle; /* between head and tail */
        int ok;
    } cases[] = {
        {"alloc 3 10 0 kv 10 7\nacquire kv:5 10 10 7\nacquire kv:5 10 10 -\nstep 1\n"
         "alloc 4 10 0 activation 90 -\nuse 2\nfree 4\nfree 3\nrelease kv:5 7\nunpin 2\nrelease kv:5 -\n", 1},
        {"alloc 3 10 0 kv 10 8\nfree 3\nunpin 2\n", 0},          /* KV of a request not running */
        {"alloc 3 10 0 kv 10 -\nfree 3\nunpin 2\n", 0},          /* KV without its request */
        {"alloc 3 10 0 weight 100 -\nfree 3\nunpin 2\n", 0},     /* a weight without NEED engine */
        {"alloc 3 10 0 activation 90 7\nfree 3\nunpin 2\n", 0},  /* an activation with a NEED */
        {"alloc 3 10 0 kv 10 7\nunpin 2\nend 7\nbegin 7\nfree 3\npin 2\nunpin 2\n", 0}, /* KV past its end */
        {"acquire kv:5 10 10 7\nrelease kv:5 -\nunpin 2\n", 0}, /* a release by a NEED without a reference */
        {"acquire kv:5 10 10 7\nunpin 2\nend 7\nbegin 7\nrelease kv:5 7\nunpin 2\n", 0}, /* prefix past its end */
        {"unpin 2\nunpin 2\n", 0},                             /* unpinned below zero */
        {"pin 2\nunpin 2\n", 0},                                /* still pinned at its free */
    };
    const char *path = VRAM_BINARY_DIR "/test_tracegen_checker.trace";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        assert_true(f != NULL);
        fprintf(f, "%s%s%s", head, cases[i].middle, tail);
        fclose(f);
        summary s = check_trace(path, 1.0);
        if (s.ok != cases[i].ok) {
            fprintf(stderr, "checker case %zu: ok %d, wanted %d\n", i, s.ok, cases[i].ok);
            test_failures++;
        }
    }
    remove(path);
}

int main(void)
{
    test_checker();
    test_errors();
    test_determinism();
    test_traces();
    test_committed();
    return test_finish("tracegen");
}
