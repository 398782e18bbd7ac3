/* prefix_hit_ratio - the prefix cache's hit ratio against its capacity
 * (issue 12): a trace's prefix block stream (traces/FORMAT.md, "Prefix
 * cache") through libvram's prefix cache under each eviction policy at each
 * capacity, beside textbook LRU, Belady (the optimum) and an unlimited cache
 * over the same lookups. The same code as `replay` (sim/replay/replay_prefix.c),
 * without the allocators: only the prefix events (and the kv allocs that take
 * blocks) act.
 *
 *   prefix_hit_ratio [--blocks N,N,...] [--policies P,P,...] TRACE
 *
 * Prints a markdown table, one row per capacity: each policy's block hit
 * ratio, then the references', the blocks looked up and the blocks the first
 * policy could not give a request (every block held by running requests: the
 * capacity counts their KV too, as vLLM's pool does). Progress on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay.h"
#include "replay_prefix.h"
#include "trace.h"
#include "vram/prefix_cache.h"

#define MAX_LIST 16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: prefix_hit_ratio [--blocks N,N,...] [--policies P,P,...] TRACE\n"
            "  the block hit ratio of the prefix cache over TRACE's prefix events, per policy\n"
            "  and capacity, beside LRU, Belady and an unlimited cache at that capacity\n"
            "  --blocks LIST    capacities in 16-token blocks (default 1000,4000,16000,64000)\n"
            "  --policies LIST  vllm, lru, lfu, priority (default all four)\n"
            "  --help           this text\n");
}

/* Splits a comma list in place; the number of items, or -1 past MAX_LIST. */
static int split(char *s, char **items)
{
    int n = 0;
    for (char *t = strtok(s, ","); t; t = strtok(NULL, ","))
        if (n == MAX_LIST)
            return -1;
        else
            items[n++] = t;
    return n;
}

/* One pass over the trace's prefix events; 0, or 1 with the error printed. */
static int run(const char *path, const char *policy, uint64_t blocks, int refs, vrprefix_result *out)
{
    char err[1024];
    vtrace_reader *r;
    if (vtrace_open(path, &r, err, sizeof err)) {
        fprintf(stderr, "prefix_hit_ratio: %s\n", err);
        return 1;
    }
    const vtrace_header *h = vtrace_header_of(r);
    double rate = h->prefill_tokens_per_s ? (double)h->prefill_tokens_per_s : VREPLAY_PREFILL_DEFAULT;
    vrprefix_options o = {.blocks = blocks, .policy = policy};
    vrprefix *p = NULL;
    vram_status st = vrprefix_create(h, &o, rate, &p, err, sizeof err);
    if (!st && !p) {
        snprintf(err, sizeof err, "%s: no prefix events (no kv_block_tokens and "
                                  "prefix_segment_tokens in its header)", path);
        st = VRAM_EINVAL;
    }
    vtrace_event ev;
    int rc = 0;
    while (!st && (rc = vtrace_next(r, &ev)) == 1)
        st = vrprefix_event(p, &ev, path, err, sizeof err);
    if (!st && rc < 0) {
        snprintf(err, sizeof err, "%s", vtrace_error(r));
        st = VRAM_EPARSE;
    }
    if (!st && (st = vrprefix_check(p, err, sizeof err)) == VRAM_OK)
        st = vrprefix_result_get(p, refs, out);
    if (st)
        fprintf(stderr, "prefix_hit_ratio: %s\n", err[0] ? err : vram_strerror(st));
    vrprefix_destroy(p);
    vtrace_close(r);
    return st != VRAM_OK;
}

static double ratio(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0;
}

int main(int argc, char **argv)
{
    char blocks_arg[256] = "1000,4000,16000,64000", policies_arg[256] = "vllm,lru,lfu,priority";
    const char *trace = NULL;
    for (int i = 1; i < argc; i++) {
        char *dst = !strcmp(argv[i], "--blocks") ? blocks_arg : !strcmp(argv[i], "--policies") ? policies_arg : NULL;
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (dst && i + 1 < argc) {
            snprintf(dst, 256, "%s", argv[++i]);
        } else if (argv[i][0] != '-' && !trace) {
            trace = argv[i];
        } else {
            fprintf(stderr, "prefix_hit_ratio: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char *bl[MAX_LIST], *pl[MAX_LIST];
    int nb = split(blocks_arg, bl), np = split(policies_arg, pl);
    if (!trace || nb <= 0 || np <= 0) {
        usage(stderr);
        return 2;
    }
    uint64_t blocks[MAX_LIST];
    for (int b = 0; b < nb; b++) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(bl[b], &end, 10);
        if (errno || *end || !v || v > VRAM_PREFIX_MAX_BLOCKS || bl[b][0] == '-') {
            fprintf(stderr, "prefix_hit_ratio: --blocks: '%s' is not 1 to %u\n", bl[b],
                    (unsigned)VRAM_PREFIX_MAX_BLOCKS);
            return 2;
        }
        blocks[b] = v;
    }
    for (int k = 0; k < np; k++)
        if (!vram_prefix_policy(pl[k])) {
            fprintf(stderr, "prefix_hit_ratio: --policies: '%s' is not vllm, lru, lfu or priority\n",
                    pl[k]);
            return 2;
        }
    printf("| blocks |");
    for (int k = 0; k < np; k++)
        printf(" %s |", pl[k]);
    printf(" LRU (reference) | Belady | unlimited | blocks looked up | no block (%s) |\n|---:|", pl[0]);
    for (int k = 0; k < np + 5; k++)
        printf("---:|");
    printf("\n");
    for (int b = 0; b < nb; b++) {
        vrprefix_result ref = {0};
        printf("| %llu |", (unsigned long long)blocks[b]);
        for (int k = 0; k < np; k++) {
            vrprefix_result res;
            time_t t0 = time(NULL);
            fprintf(stderr, "%s at %llu blocks...", pl[k], (unsigned long long)blocks[b]);
            if (run(trace, pl[k], blocks[b], k == 0, &res))
                return 1;
            fprintf(stderr, " %.4f (%lld s)\n", res.hit_ratio, (long long)(time(NULL) - t0));
            if (k == 0)
                ref = res;
            printf(" %.4f |", res.hit_ratio);
            fflush(stdout);
        }
        printf(" %.4f | %.4f | %.4f | %llu | %llu |\n", ratio(ref.lru_hits, ref.lookup_blocks),
               ratio(ref.belady_hits, ref.lookup_blocks), ratio(ref.unlimited_hits, ref.lookup_blocks),
               (unsigned long long)ref.lookup_blocks, (unsigned long long)ref.alloc_failures);
    }
    return 0;
}
