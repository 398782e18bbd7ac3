/* fuzz_replay.c - the replay's engine semantics (sim/replay/replay_need.c) over
 * generated version-2 traces: requests that begin and end, allocations and
 * shared keys owned by a request, by the engine or by nobody, pins, uses and
 * steps on a device small enough that placements fail, so that evictions,
 * forced preemptions, restores and OOMs all happen. The input bytes choose
 * the policy, the preemption mode, the capacity and the events; the events
 * are written as trace text (traces/FORMAT.md) and replayed with the
 * invariant checks (the manager's and the needed-memory ones) after every
 * event. A run must end ok, or failed with a "fuzz.trace:LINE: ..." trace
 * error (the generator writes a contradiction on purpose now and then), never
 * with a violated invariant or a library failure; restores never outnumber
 * preemptions and admissions; ASan and LeakSanitizer watch the rest.
 *
 * The prefix block stream rides along (traces/FORMAT.md, "Prefix cache";
 * sim/replay/replay_prefix.c): a trie of 2-block segments, lookups of running
 * requests with prompts that end in their node's segment, fills that grow,
 * a cache of 1 to 16 blocks under one of the four policies, sometimes a host
 * tier; its check runs after every event too, and its counters must agree
 * (hits within the blocks looked up, the references ordered). */
#include <stdio.h>
#include <string.h>

#include "fuzz_input.h"
#include "replay.h"
#include "vram/prefix_cache.h"

#define TARGET "fuzz_replay"
#define MAX_OPS 400
#define MAX_LIVE 64
#define REQS 6
#define KEYS 4
#define TEXT_MAX (64 * 1024)
#define NODES 32
#define SEG 32 /* prefix_segment_tokens: two blocks of 16 */

typedef struct gen {
    char text[TEXT_MAX];
    size_t len;
    uint64_t next_id;
    uint64_t live[MAX_LIVE];
    uint32_t pins[MAX_LIVE];
    int nlive;
    int running[REQS];
    int refs[KEYS][REQS + 2]; /* references held per NEED: requests, engine, "-" */
    int nodes, depth[NODES + 1]; /* pnodes so far, each one's depth (0: the root) */
    unsigned fill[REQS];         /* a running request's tokens since its lookup (0: none) */
} gen;

static void put(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g->text + g->len, TEXT_MAX - g->len, fmt, ap);
    va_end(ap);
    if (n > 0 && g->len + (size_t)n < TEXT_MAX)
        g->len += (size_t)n;
}

/* A NEED: a request 0..REQS-1, REQS = engine, REQS + 1 = "-". */
static void need_text(int need, char buf[16])
{
    if (need < REQS)
        snprintf(buf, 16, "%d", need);
    else
        snprintf(buf, 16, "%s", need == REQS ? "engine" : "-");
}

static const char *const kinds[] = {"kv", "kv", "weight", "adapter", "activation", "other"};
static const uint64_t key_size[KEYS] = {1 << 20, 1 << 20, 2 << 20, 3 << 19};

static void op(gen *g, fz_in *in)
{
    unsigned o = fz_u8(in) % 17;
    int i = g->nlive ? (int)(fz_u8(in) % (unsigned)g->nlive) : -1;
    int r = fz_u8(in) % REQS, k = fz_u8(in) % KEYS, need = fz_u8(in) % (REQS + 2);
    char nt[16];
    need_text(need, nt);
    switch (o) {
    case 0: case 1: case 2:
        if (g->nlive < MAX_LIVE) {
            g->live[g->nlive] = ++g->next_id;
            g->pins[g->nlive++] = 0;
            put(g, "alloc %llu %llu 0 %s %u %s\n", (unsigned long long)g->next_id,
                (unsigned long long)fz_size(in, 22), kinds[fz_u8(in) % 6], fz_u8(in) % 101, nt);
        }
        break;
    case 3: case 4:
        if (i >= 0) {
            for (; g->pins[i]; g->pins[i]--)
                put(g, "unpin %llu\n", (unsigned long long)g->live[i]);
            put(g, "free %llu\n", (unsigned long long)g->live[i]);
            g->live[i] = g->live[--g->nlive];
            g->pins[i] = g->pins[g->nlive];
        }
        break;
    case 5:
        if (i >= 0)
            put(g, "use %llu\n", (unsigned long long)g->live[i]);
        break;
    case 6:
        if (i >= 0) {
            g->pins[i]++;
            put(g, "pin %llu\n", (unsigned long long)g->live[i]);
        }
        break;
    case 7:
        if (i >= 0 && g->pins[i]) {
            g->pins[i]--;
            put(g, "unpin %llu\n", (unsigned long long)g->live[i]);
        }
        break;
    case 8:
        put(g, "%s %d\n", g->running[r] ? "end" : "begin", r);
        g->running[r] = !g->running[r];
        g->fill[r] = 0;
        break;
    case 14:
        if (g->nodes < NODES) {
            int parent = (int)(fz_u8(in) % (unsigned)(g->nodes + 1));
            g->nodes++;
            g->depth[g->nodes] = g->depth[parent] + 1;
            put(g, "pnode %d %d %u\n", g->nodes, parent, fz_u8(in) % 8);
        }
        break;
    case 15:
        if (g->nodes && g->running[r] && !g->fill[r]) {
            int n = 1 + (int)(fz_u8(in) % (unsigned)g->nodes);
            unsigned prompt = (unsigned)(g->depth[n] - 1) * SEG + 1 + fz_u8(in) % SEG;
            g->fill[r] = prompt + fz_u8(in) % 40;
            put(g, "lookup %d %d %u %u\n", r, n, prompt, g->fill[r]);
        }
        break;
    case 16:
        if (g->fill[r]) {
            g->fill[r] += fz_u8(in) % 24;
            put(g, "fill %d %u\n", r, g->fill[r]);
        }
        break;
    case 9: case 10:
        put(g, "step %u\n", fz_u8(in));
        break;
    case 11:
        g->refs[k][need]++;
        put(g, "acquire kv:%d %llu 10 %s\n", k, (unsigned long long)key_size[k], nt);
        break;
    case 12:
        if (g->refs[k][need]) {
            g->refs[k][need]--;
            put(g, "release kv:%d %s\n", k, nt);
        }
        break;
    default: /* a contradiction: the run must fail with its line */
        if (fz_u8(in) < 16)
            put(g, "%s\n", (const char *[]){"free 999999", "unpin 999999", "end 77",
                                           "release kv:9 -", "fill 5 1"}[fz_u8(in) % 5]);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gen g;
    fz_in in = {data, size};
    memset(&g, 0, sizeof g);
    static const char *const policies[] = {"bestfit", "tlsf", "buddy", "caching"};
    uint8_t mode = fz_u8(&in);
    unsigned mib = 4u << (fz_u8(&in) % 4); /* 4 to 32 MiB */
    uint8_t pc = fz_u8(&in);
    put(&g, "vramtrace 2\nmodel fuzz\nengine paged\ncapacity %u\nkv_block_bytes 1048576\n"
            "kv_token_bytes 65536\nprefill_tokens_per_s 1000\nkv_block_tokens 16\n"
            "prefix_segment_tokens %d\nprefix_cache_blocks %u\n", mib << 20, SEG, 1 + pc % 16);
    for (int n = 0; n < MAX_OPS && in.n; n++)
        op(&g, &in);
    vreplay_options o = {.trace_path = "fuzz.trace", .trace_data = g.text, .trace_size = g.len,
                         .policy = policies[mode % 4], .preempt_swap = (mode >> 2) & 1,
                         .check_every = 1, .evict_policy = (mode & 8) ? "lru" : NULL,
                         .prefix = {.policy = vram_prefix_policy_names[(pc >> 4) % 4],
                                    .host_blocks = (pc & 0x40) ? pc % 8 : 0}};
    static vreplay_result r;
    vram_status st = vreplay_run(&o, &r);
    if (st != VRAM_OK)
        fz_fail(TARGET, "run", 0, "vreplay_run: %s: %s", vram_strerror(st), r.message);
    if (r.status == VREPLAY_RUN_FAILED &&
        (strncmp(r.message, "fuzz.trace:", 11) != 0 || strstr(r.message, "violated") ||
         strstr(r.message, " failed: ")))
        fz_fail(TARGET, policies[mode % 4], r.events, "%s", r.message);
    if (r.status != VREPLAY_RUN_OK && r.status != VREPLAY_RUN_FAILED)
        fz_fail(TARGET, "status", r.events, "%s: %s", vreplay_status_name(r.status), r.message);
    if (!r.needs)
        fz_fail(TARGET, "counts", r.events, "a version-2 trace replayed without its needs");
    const vrprefix_result *p = &r.prefix;
    if (!p->on || p->hit_blocks + p->host_hit_blocks > p->lookup_blocks ||
        p->lru_hits > p->unlimited_hits || p->belady_hits > p->unlimited_hits ||
        p->lru_hits > p->belady_hits || p->saved_tokens != (p->hit_blocks + p->host_hit_blocks) * 16)
        fz_fail(TARGET, "prefix", r.events, "%llu lookups of %llu blocks: %llu + %llu hits, LRU %llu,"
                " Belady %llu, unlimited %llu", (unsigned long long)p->lookups,
                (unsigned long long)p->lookup_blocks, (unsigned long long)p->hit_blocks,
                (unsigned long long)p->host_hit_blocks, (unsigned long long)p->lru_hits,
                (unsigned long long)p->belady_hits, (unsigned long long)p->unlimited_hits);
    if (r.restores > r.preemptions + r.requests)
        fz_fail(TARGET, "counts", r.events, "%llu restores after %llu preemptions",
                (unsigned long long)r.restores, (unsigned long long)r.preemptions);
    return 0;
}
