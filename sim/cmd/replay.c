/* replay - replays a trace through every heap policy (or one) and compares them.
 *
 * Exit status: 0 every run ended ok (policies that do not apply to the trace
 * are shown n/a, as long as one policy ran); 1 a run failed (trace error,
 * invariant violation, library or database failure, no CUDA driver) or no
 * policy could run at all; 2 bad usage; 128 + N when signal N (SIGHUP 129,
 * SIGINT 130, SIGTERM 143) stopped it, in any phase (docs/RELIABILITY.md). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bounds.h"
#include "db.h"
#include "emit.h"
#include "evstream.h"
#include "isolate.h"
#include "plugin.h"
#include "replay.h"
#include "replay_jobs.h"
#include "signals.h"
#include "trace.h"
#include "units.h"
#include "verdict.h"
#include "vram/caching.h"
#include "vram/evict.h"
#include "vram/prefix_cache.h"
#include "vramlab_version.h"

/* The number of the first SIGINT, SIGTERM or SIGHUP, 0 before any
 * (sim/base/signals.h): the engine polls it after every event, the bounds pass and
 * the database's wait at open end on it. */
static volatile sig_atomic_t interrupted;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: replay [options] TRACE\n"
            "Replays TRACE (traces/FORMAT.md) through the manager with each heap policy and\n"
            "prints a comparison; every run is logged to a SQLite database (sim/results/schema.sql).\n"
            "TRACE is read and parsed once, then every policy replays it from memory (a trace\n"
            "past --stream-memory is parsed again by each): a regular file, not a pipe.\n"
            "A request larger than the device is warned about (file:line) and counted as\n"
            "refused; the replay goes on.\n"
            "\n"
            "  --policy LIST|all     heap policies, comma-separated (bestfit, buddy, tlsf, pool,\n"
            "                        caching) or plugins, plugin:PATH[:NAME] (a shared library\n"
            "                        built against vram/plugin.h: README, \"Test your allocator\"),\n"
            "                        e.g. tlsf,plugin:./libmine.so; all = every built-in policy;\n"
            "                        default all\n"
            "                        (pool runs the vLLM layout: KV from a block pool of the trace's\n"
            "                        kv_block_bytes, everything else from bestfit)\n"
            "  --backend sim|cuda    device backend (default sim)\n"
            "  --capacity BYTES      device bytes (default: the trace header's capacity)\n"
            "  --evict-policy NAME   prio-lru (default), lru or cost\n"
            "  --sample-every N      a heap sample every N events (0 = none; default: the\n"
            "                        trace's events / 1000, at least 1, so every run has about\n"
            "                        1000 samples; 1000 when the bounds pass failed)\n"
            "  --check-every N       run the invariant checks every N events and after the last\n"
            "                        one (default 250000: about 3%% of the replay time on\n"
            "                        traces/llama70b.trace; 0 = never)\n"
            "  --time-every N        time one call in N (default 1: every call; a larger N\n"
            "                        spares the clock's cost on the others)\n"
            "  --defrag MODE         off (default); on-oom: compact when an allocation fails\n"
            "                        despite enough free bytes; every=N: a pass every N events\n"
            "  --caching-conf TEXT   the caching policy's settings in PYTORCH_CUDA_ALLOC_CONF\n"
            "                        syntax, e.g. \"max_split_size_mb:128,expandable_segments:True,\n"
            "                        garbage_collection_threshold:0.8\" (default: the trace's\n"
            "                        allocator_settings if it records them, else PyTorch's)\n"
            "  --tensor-cache BYTES  serve activations and workspaces from a tensor cache of BYTES\n"
            "                        (a multiple of 256) taken off the device, keyed by size\n"
            "                        (default 0 = none)\n"
            "  --preempt MODE        version-2 traces: how a forced preemption drops a running\n"
            "                        request's KV: recompute (default, vLLM's: its tokens are\n"
            "                        charged at the prefill rate when it runs again) or swap\n"
            "                        (copied to the host and back over the modelled PCIe link)\n"
            "  --prefill-rate N      prefill tokens per second for recompute (default: the trace\n"
            "                        header's prefill_tokens_per_s, else 16667)\n"
            "  --prefix-cache-blocks N  traces with prefix events (traces/FORMAT.md): the prefix\n"
            "                        cache's KV blocks, running requests' and cached (default:\n"
            "                        the trace's prefix_cache_blocks, what the generator's pool\n"
            "                        held); beside its hit ratio, LRU, Belady and an unlimited\n"
            "                        cache over the same block stream at N\n"
            "  --prefix-policy NAME  the prefix cache's eviction policy: vllm (default), lru,\n"
            "                        lfu or priority (docs/PREFIX_CACHE.md)\n"
            "  --prefix-host-blocks N  a host tier of N blocks behind it (default 0: none);\n"
            "                        a hit there costs a PCIe copy instead of the prefill\n"
            "  --isolate             run each plugin in a child process: a crash or a hang in the\n"
            "                        plugin fails its run (with the trace line), the others go on\n"
            "  --isolate-timeout S   with --isolate: a plugin that replays no event for S seconds\n"
            "                        is killed (default 60; 0 = never)\n"
            "  --no-belady           skip Belady's reference (one pass over the trace fewer)\n"
            "  --jobs N              replay up to N policies at once, on N threads (default: the\n"
            "                        number of online cores); the output is the same for any N\n"
            "                        (timings aside); a list with a plugin runs one at a time\n"
            "  --stream-memory BYTES the most memory the parsed trace may take (default\n"
            "                        268435456, about 30 M events); a longer trace is parsed\n"
            "                        as it is replayed, once per policy (0: always)\n"
            "  --db PATH             results database (default results.db)\n"
            "  --no-db               log nothing\n"
            "  --batch N             rows kept in memory before they are written to the\n"
            "                        database in one short transaction (default 4096; also\n"
            "                        written 100 ms after the oldest, and at each run's end);\n"
            "                        many replays may write into one database at once\n"
            "  --quiet               no progress display (shown only when stderr is a terminal)\n"
            "  --json                print the summary as JSON instead of the tables: an array\n"
            "                        with one object per policy run, keyed by the database's\n"
            "                        runs columns (run_id, policy, status, detail, capacity,\n"
            "                        peak_footprint, ... events_per_s; sim/results/schema.sql), null\n"
            "                        where the database has NULL (e.g. the preemption fields of\n"
            "                        a version-1 trace, or run_id with --no-db); the other\n"
            "                        lines go to stderr\n"
            "  --csv                 the same as CSV: a header line, one row per policy run,\n"
            "                        RFC 4180 (quoted where needed, CRLF line ends), NULL empty\n"
            "  --wide                every column of the comparison and the tables of forced\n"
            "                        preemptions and of the options' effects (default: a summary\n"
            "                        that fits 100 columns, then the verdict)\n"
            "  --help                this text\n"
            "  --version             the version and git commit\n"
            "\n"
            "Exit status: 0 all runs ok (a policy that does not apply is shown n/a), 1 a run\n"
            "failed or no policy could run, 2 bad usage, 128+N stopped by signal N (SIGINT 130,\n"
            "SIGTERM 143, SIGHUP 129): the run under way is marked \"interrupted\".\n");
}

typedef struct cli {
    const char *trace, *policy, *backend, *evict_policy, *db_path;
    uint64_t capacity, sample_every, check_every, time_every, batch;
    int no_db, belady, quiet, defrag_on_oom;
    uint64_t defrag_every;
    const char *caching_conf;  /* as given, or NULL */
    vram_caching_options caching;
    uint64_t tensor_cache;
    int preempt_swap;
    uint64_t prefill_rate;
    vrprefix_options prefix;
    int isolate;
    uint64_t isolate_timeout;
    int json, csv; /* the summary as JSON or CSV on stdout instead of the tables */
    uint64_t jobs;          /* policies replayed at once */
    uint64_t stream_memory; /* the parsed trace's bound (evstream.h) */
    int wide;      /* every column and the detail tables, not the 100-column summary */
    int sample_auto; /* no --sample-every: SAMPLES_PER_RUN per run */
} cli;

/* Samples per run when --sample-every is not given (the report's figures). */
#define SAMPLES_PER_RUN 1000

/* A decimal number for option `name`; 0 and a message when it is not one. */
static int parse_u64(const char *name, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-') {
        fprintf(stderr, "replay: %s: \"%s\" is not a non-negative decimal number\n", name, text);
        return 0;
    }
    *out = v;
    return 1;
}

/* Whether `name` (of length n) appears in the comma-separated `list`. */
static int listed(const char *list, const char *name, size_t n)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* Every item of the comma-separated list is a policy, "all" or a plugin
 * spec (checked when it is loaded); the first that is not (or an empty one)
 * goes to *bad. */
static int known_policies(const char *list, const char **bad, size_t *bad_len)
{
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        int ok = len > 0;
        int special = (len == 3 && strncmp(p, "all", 3) == 0) ||
                      strncmp(p, VPLUGIN_PREFIX, sizeof VPLUGIN_PREFIX - 1) == 0;
        for (const char *const *q = vram_heap_policy_names; ok && !special && *q; q++)
            if (strlen(*q) == len && strncmp(*q, p, len) == 0)
                break;
            else if (!q[1])
                ok = 0;
        if (!ok) {
            *bad = p;
            *bad_len = len;
            return 0;
        }
        if (!p[len])
            return 1;
        p += len + 1;
    }
}

/* 0 ok, 2 usage error (message printed), -1 --help printed. */
static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_POLICY = 256, O_BACKEND, O_CAPACITY, O_EVICT, O_SAMPLE, O_CHECK, O_TIME, O_DEFRAG,
           O_NO_BELADY, O_DB, O_NO_DB, O_BATCH, O_QUIET, O_HELP, O_CACHING_CONF, O_TENSOR_CACHE,
           O_PREEMPT, O_PREFILL_RATE, O_VERSION, O_ISOLATE, O_ISOLATE_TIMEOUT, O_JSON, O_CSV,
           O_PREFIX_BLOCKS, O_PREFIX_POLICY, O_PREFIX_HOST,
           O_WIDE, O_JOBS, O_STREAM_MEMORY };
    static const struct option opts[] = {
        {"policy", required_argument, 0, O_POLICY},
        {"backend", required_argument, 0, O_BACKEND},
        {"capacity", required_argument, 0, O_CAPACITY},
        {"evict-policy", required_argument, 0, O_EVICT},
        {"sample-every", required_argument, 0, O_SAMPLE},
        {"check-every", required_argument, 0, O_CHECK},
        {"time-every", required_argument, 0, O_TIME},
        {"defrag", required_argument, 0, O_DEFRAG},
        {"caching-conf", required_argument, 0, O_CACHING_CONF},
        {"tensor-cache", required_argument, 0, O_TENSOR_CACHE},
        {"preempt", required_argument, 0, O_PREEMPT},
        {"prefill-rate", required_argument, 0, O_PREFILL_RATE},
        {"prefix-cache-blocks", required_argument, 0, O_PREFIX_BLOCKS},
        {"prefix-policy", required_argument, 0, O_PREFIX_POLICY},
        {"prefix-host-blocks", required_argument, 0, O_PREFIX_HOST},
        {"no-belady", no_argument, 0, O_NO_BELADY},
        {"isolate", no_argument, 0, O_ISOLATE},
        {"isolate-timeout", required_argument, 0, O_ISOLATE_TIMEOUT},
        {"db", required_argument, 0, O_DB},
        {"no-db", no_argument, 0, O_NO_DB},
        {"batch", required_argument, 0, O_BATCH},
        {"quiet", no_argument, 0, O_QUIET},
        {"json", no_argument, 0, O_JSON},
        {"csv", no_argument, 0, O_CSV},
        {"jobs", required_argument, 0, O_JOBS},
        {"stream-memory", required_argument, 0, O_STREAM_MEMORY},
        {"wide", no_argument, 0, O_WIDE},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    c->policy = "all";
    c->backend = "sim";
    c->db_path = "results.db";
    c->sample_every = SAMPLES_PER_RUN;
    c->sample_auto = 1;
    c->check_every = 250000;
    c->time_every = 1;
    c->batch = 4096;
    c->belady = 1;
    c->isolate_timeout = 60;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->jobs = cores > 0 ? (uint64_t)cores : 1;
    c->stream_memory = VEVS_LIMIT_DEFAULT;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int ok = 1;
        switch (o) {
        case O_POLICY: c->policy = optarg; break;
        case O_BACKEND: c->backend = optarg; break;
        case O_CAPACITY: ok = parse_u64("--capacity", optarg, &c->capacity); break;
        case O_EVICT: c->evict_policy = optarg; break;
        case O_SAMPLE:
            ok = parse_u64("--sample-every", optarg, &c->sample_every);
            c->sample_auto = 0;
            break;
        case O_CHECK: ok = parse_u64("--check-every", optarg, &c->check_every); break;
        case O_TIME: ok = parse_u64("--time-every", optarg, &c->time_every); break;
        case O_DEFRAG:
            if (strcmp(optarg, "on-oom") == 0)
                c->defrag_on_oom = 1;
            else if (strncmp(optarg, "every=", 6) == 0)
                ok = parse_u64("--defrag every=", optarg + 6, &c->defrag_every) &&
                     c->defrag_every > 0;
            else if (strcmp(optarg, "off") != 0)
                ok = 0;
            if (!ok)
                fprintf(stderr, "replay: --defrag: \"%s\" is not off, on-oom or every=N (N > 0)\n",
                        optarg);
            break;
        case O_CACHING_CONF: {
            char why[256] = "";
            c->caching_conf = optarg;
            if (vram_caching_options_parse(optarg, &c->caching, why, sizeof why)) {
                fprintf(stderr, "replay: --caching-conf: %s\n", why[0] ? why : optarg);
                ok = 0;
            }
            break;
        }
        case O_TENSOR_CACHE:
            ok = parse_u64("--tensor-cache", optarg, &c->tensor_cache);
            if (ok && c->tensor_cache % VRAM_DEFAULT_ALIGN) {
                fprintf(stderr, "replay: --tensor-cache: %s is not a multiple of %u bytes\n",
                        optarg, VRAM_DEFAULT_ALIGN);
                ok = 0;
            }
            break;
        case O_PREEMPT:
            if (strcmp(optarg, "swap") == 0)
                c->preempt_swap = 1;
            else if (strcmp(optarg, "recompute") != 0) {
                fprintf(stderr, "replay: --preempt: \"%s\" is not recompute or swap\n", optarg);
                ok = 0;
            }
            break;
        case O_PREFILL_RATE:
            ok = parse_u64("--prefill-rate", optarg, &c->prefill_rate);
            if (ok && (c->prefill_rate == 0 || c->prefill_rate > UINT64_C(1000000000))) {
                fprintf(stderr, "replay: --prefill-rate: %s is not 1 to 1000000000 tokens/s\n",
                        optarg);
                ok = 0;
            }
            break;
        case O_NO_BELADY: c->belady = 0; break;
        case O_ISOLATE: c->isolate = 1; break;
        case O_ISOLATE_TIMEOUT:
            ok = parse_u64("--isolate-timeout", optarg, &c->isolate_timeout);
            if (ok && c->isolate_timeout > 86400) {
                fprintf(stderr, "replay: --isolate-timeout: %s is more than a day\n", optarg);
                ok = 0;
            }
            break;
        case O_DB: c->db_path = optarg; break;
        case O_NO_DB: c->no_db = 1; break;
        case O_BATCH: ok = parse_u64("--batch", optarg, &c->batch); break;
        case O_QUIET: c->quiet = 1; break;
        case O_JOBS:
            ok = parse_u64("--jobs", optarg, &c->jobs);
            if (ok && (c->jobs == 0 || c->jobs > 64)) {
                fprintf(stderr, "replay: --jobs: %s is not 1 to 64\n", optarg);
                ok = 0;
            }
            break;
        case O_STREAM_MEMORY: ok = parse_u64("--stream-memory", optarg, &c->stream_memory); break;
        case O_JSON: c->json = 1; break;
        case O_CSV: c->csv = 1; break;
        case O_PREFIX_BLOCKS:
        case O_PREFIX_HOST: {
            const char *name = o == O_PREFIX_BLOCKS ? "--prefix-cache-blocks" : "--prefix-host-blocks";
            uint64_t *v = o == O_PREFIX_BLOCKS ? &c->prefix.blocks : &c->prefix.host_blocks;
            ok = parse_u64(name, optarg, v);
            if (ok && (*v > VRAM_PREFIX_MAX_BLOCKS || (o == O_PREFIX_BLOCKS && *v == 0))) {
                fprintf(stderr, "replay: %s: %s is not %d to %u blocks\n", name, optarg,
                        o == O_PREFIX_BLOCKS, (unsigned)VRAM_PREFIX_MAX_BLOCKS);
                ok = 0;
            }
            break;
        }
        case O_PREFIX_POLICY:
            c->prefix.policy = optarg;
            if (!vram_prefix_policy(optarg)) {
                fprintf(stderr, "replay: --prefix-policy: \"%s\" is not vllm, lru, lfu or priority\n",
                        optarg);
                ok = 0;
            }
            break;
        case O_WIDE: c->wide = 1; break;
        case 'h':
        case O_HELP: usage(stdout); return -1;
        case O_VERSION: vramlab_print_version(argv[0]); return -1;
        default:
            fprintf(stderr, "replay: unknown option or missing value: %s\n", argv[optind - 1]);
            ok = 0;
        }
        if (!ok)
            return 2;
    }
    if (c->json && c->csv) {
        fprintf(stderr, "replay: --json and --csv: choose one\n");
        return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "replay: %s\n", optind == argc ? "no TRACE given" : "more than one TRACE");
        return 2;
    }
    c->trace = argv[optind];
    const char *bad;
    size_t bad_len;
    if (!known_policies(c->policy, &bad, &bad_len)) {
        fprintf(stderr, "replay: --policy: unknown policy \"%.*s\" (one of:", (int)bad_len, bad);
        for (const char *const *p = vram_heap_policy_names; *p; p++)
            fprintf(stderr, " %s", *p);
        fprintf(stderr, ", all, plugin:PATH[:NAME])\n");
        return 2;
    }
    if (c->evict_policy && !vram_evict_policy(c->evict_policy)) {
        fprintf(stderr, "replay: --evict-policy: unknown policy \"%s\" (one of:", c->evict_policy);
        for (const char *const *p = vram_evict_policy_names; *p; p++)
            fprintf(stderr, " %s", *p);
        fprintf(stderr, ")\n");
        return 2;
    }
    if (strcmp(c->backend, "sim") != 0 && strcmp(c->backend, "cuda") != 0) {
        fprintf(stderr, "replay: --backend: \"%s\" is not sim or cuda\n", c->backend);
        return 2;
    }
    return 0;
}

typedef struct progress {
    const char *policy;
    uint64_t total; /* events in the trace, 0 if unknown */
    uint64_t t0;
} progress;

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void show_progress(void *ctx, uint64_t events)
{
    progress *p = ctx;
    double s = (double)(mono_ns() - p->t0) / 1e9;
    double rate = s > 0 ? (double)events / s : 0;
    if (p->total)
        fprintf(stderr, "\r%-8s %5.1f%%  %" PRIu64 " events  %.2f M events/s   ", p->policy,
                100.0 * (double)events / (double)p->total, events, rate / 1e6);
    else
        fprintf(stderr, "\r%-8s %" PRIu64 " events  %.2f M events/s   ", p->policy, events,
                rate / 1e6);
}

/* Bytes for people (sim/base/units.h). */
static const char *human(uint64_t b, char *buf, size_t len)
{
    return vsim_bytes((double)b, buf, len);
}

#define COLUMNS 100 /* the terminal width the default output keeps to */
#define MAX_RUNS 32

/* `text` on `out` in lines of at most COLUMNS characters (broken at blanks),
 * every line after the first indented by `indent` blanks. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
    int col = 0, fresh = 1; /* fresh: nothing on this line yet but the indent */
    for (text += strspn(text, " "); *text; text += strspn(text, " ")) {
        int word = (int)strcspn(text, " ");
        if (!fresh && col + 1 + word > COLUMNS) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            fresh = 1;
        }
        col += fprintf(out, "%s%.*s", fresh ? "" : " ", word, text);
        fresh = 0;
        text += word;
    }
    fputc('\n', out);
}

static void print_bounds(FILE *out, const vbounds *b, double seconds)
{
    char a[32], k[32], o[32], line[512];
    fprintf(out, "bounds computed from the trace in %.2f s (%s)\n", seconds,
            b->belady_done ? "two passes" : "one pass");
    snprintf(line, sizeof line, "trace: %" PRIu64 " events; peak live bytes (lower bound on"
             " footprint) %s at line %" PRIu64 " (kv alone peaks at %s, other at %s)",
             b->events, human(b->peak_live, a, sizeof a), b->peak_live_line,
             human(b->peak_live_kv, k, sizeof k), human(b->peak_live_other, o, sizeof o));
    print_wrapped(out, line, 2);
    if (!b->belady_done)
        return;
    snprintf(line, sizeof line, "Belady on an ideal %s device (%s): %" PRIu64 " evictions, %"
             PRIu64 " re-materialisations (%s), %" PRIu64 " OOMs", human(b->capacity, a, sizeof a),
             b->belady_exact ? "exact: evictable items share one size"
                             : "a reference, not a bound: evictable sizes differ",
             b->belady_evictions, b->belady_rematerialisations,
             human(b->belady_bytes_rematerialised, k, sizeof k), b->belady_ooms);
    print_wrapped(out, line, 2);
}

/* The summary that fits COLUMNS columns, a Markdown table (--wide prints
 * every column). Not-applicable runs say why below it. */
static void print_summary(const char *const *names, const vreplay_result *res, size_t n,
                          const vbounds *b, const cli *c)
{
    printf("\n| policy | footprint | / peak live | OOMs | preemptions | evictions | modelled ms |"
           " alloc p99 |\n|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const vreplay_result *r = &res[i];
        if (r->status == VREPLAY_RUN_NOT_APPLICABLE) {
            printf("| %s | n/a | n/a | n/a | n/a | n/a | n/a | n/a |\n", names[i]);
            continue;
        }
        char fp[32], ratio[32] = "-", pre[32] = "-";
        if (b && b->peak_live)
            snprintf(ratio, sizeof ratio, "%.3f%s", (double)r->peak_footprint / (double)b->peak_live,
                     r->errors || r->ooms ? " *" : "");
        if (r->needs)
            snprintf(pre, sizeof pre, "%" PRIu64, r->preemptions);
        printf("| %s%s%s%s | %s | %s | %" PRIu64 " | %s | %" PRIu64 " | %.1f | %" PRIu64 " ns |\n",
               names[i], r->status == VREPLAY_RUN_OK ? "" : " (",
               r->status == VREPLAY_RUN_OK ? "" : vreplay_status_name(r->status),
               r->status == VREPLAY_RUN_OK ? "" : ")", human(r->peak_footprint, fp, sizeof fp),
               ratio, r->ooms, pre, r->evictions, r->modelled_ns / 1e6,
               vhist_quantile(&r->lat[VREPLAY_OP_ALLOC], 0.99));
    }
    for (size_t i = 0; i < n; i++) {
        char line[1024];
        if (res[i].status == VREPLAY_RUN_NOT_APPLICABLE)
            snprintf(line, sizeof line, "%s: n/a: %s", names[i], res[i].message);
        else if (res[i].layout[0])
            snprintf(line, sizeof line, "%s: %s", names[i], res[i].layout);
        else
            continue;
        print_wrapped(stdout, line, 2);
    }
    if (c->caching_conf) /* given, or the trace's recorded ones: the setting under test */
        printf("Caching settings: \"%s\".\n", c->caching_conf);
    print_wrapped(stdout,
                  "footprint: the peak footprint; / peak live: over the trace's peak live bytes"
                  " (* requests refused or OOM); alloc p99: measured on this machine. replay"
                  " --wide: every column and the detail tables; each term: docs/METRICS.md.", 0);
}

/* The verdict (sim/replay/verdict.h) over the runs that ran, on `out`. */
static void print_verdict(FILE *out, const char *const *names, const vreplay_result *res,
                          size_t n, const vbounds *b)
{
    vverdict_run v[MAX_RUNS];
    size_t order[MAX_RUNS], m = 0;
    for (size_t i = 0; i < n; i++) {
        const vreplay_result *r = &res[i];
        if (r->status == VREPLAY_RUN_NOT_APPLICABLE || (r->status != VREPLAY_RUN_OK && !r->events))
            continue; /* nothing replayed: nothing to rank */
        const vhist *alloc = &r->lat[VREPLAY_OP_ALLOC];
        v[m++] = (vverdict_run){
            .label = names[i], .policy = names[i], .status = vreplay_status_name(r->status),
            .ratio = b && b->peak_live ? (double)r->peak_footprint / (double)b->peak_live : NAN,
            .ooms = (double)r->ooms, .preemptions = r->needs ? (double)r->preemptions : NAN,
            .modelled_ms = r->modelled_ns / 1e6, .preempt_ms = r->preempt_ns / 1e6,
            .alloc_p99_ns = alloc->count ? (double)vhist_quantile(alloc, 0.99) : NAN,
            .waste_at_peak = r->samples ? (double)r->waste_at_peak : NAN,
            .free_at_peak = r->samples ? (double)r->free_at_peak : NAN};
    }
    if (!m)
        return;
    vverdict_rank(v, m, order);
    fprintf(out, "\nVerdict (terms: docs/METRICS.md)\n");
    for (size_t k = 0; k < m; k++) {
        char line[1536];
        int w = snprintf(line, sizeof line, "%zu. ", k + 1);
        vverdict_entry(v, order, m, k, line + w, sizeof line - (size_t)w);
        print_wrapped(out, line, 3);
    }
    print_wrapped(out, vverdict_rule, 0);
}

static void print_table(const char *const *names, const vreplay_result *res, size_t n,
                        const vbounds *b, uint64_t time_every)
{
    printf("\n| policy | peak footprint | / peak live | worst ext frag | OOMs (despite free) |"
           " refused | preemptions | evictions | Belady evict/preempt | remat bytes |"
           " alloc p50/p99 ns | free p50/p99 ns | modelled ms | events/s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const vreplay_result *r = &res[i];
        if (r->status == VREPLAY_RUN_NOT_APPLICABLE) {
            printf("| %s | n/a: %s |||||||||||||\n", names[i], r->message);
            continue;
        }
        char ratio[32] = "-", belady[32] = "-", frag[32] = "-", fp[32], rm[32];
        if (r->samples)
            snprintf(frag, sizeof frag, "%.3f", r->worst_ext_frag);
        if (b && b->peak_live)
            snprintf(ratio, sizeof ratio, "%.3f%s", (double)r->peak_footprint / (double)b->peak_live,
                     r->errors || r->ooms ? " *" : "");
        if (b && b->belady_done)
            snprintf(belady, sizeof belady, "%" PRIu64 "/%" PRIu64 "%s", b->belady_evictions,
                     b->belady_preemptions, b->belady_exact ? "" : " (ref)");
        char pre[24] = "-";
        if (r->needs)
            snprintf(pre, sizeof pre, "%" PRIu64, r->preemptions);
        printf("| %s%s%s%s | %s | %s | %s | %" PRIu64 " (%" PRIu64 ") | %" PRIu64 " | %s | %" PRIu64
               " | %s | %s |"
               " %" PRIu64 "/%" PRIu64 " | %" PRIu64 "/%" PRIu64 " | %.1f | %.2f M |\n",
               names[i], r->status == VREPLAY_RUN_OK ? "" : " (", 
               r->status == VREPLAY_RUN_OK ? "" : vreplay_status_name(r->status),
               r->status == VREPLAY_RUN_OK ? "" : ")",
               human(r->peak_footprint, fp, sizeof fp), ratio, frag, r->ooms,
               r->ooms_despite_free, r->errors, pre, r->evictions, belady,
               human(r->bytes_rematerialised, rm, sizeof rm), vhist_quantile(&r->lat[VREPLAY_OP_ALLOC], 0.5),
               vhist_quantile(&r->lat[VREPLAY_OP_ALLOC], 0.99),
               vhist_quantile(&r->lat[VREPLAY_OP_FREE], 0.5),
               vhist_quantile(&r->lat[VREPLAY_OP_FREE], 0.99), r->modelled_ns / 1e6,
               r->wall_s > 0 ? (double)r->events / r->wall_s / 1e6 : 0.0);
    }
    for (size_t i = 0; i < n; i++)
        if (res[i].layout[0])
            printf("%s: %s\n", names[i], res[i].layout);
    printf("Latencies: measured on this CPU per call (clock cost %.0f ns included), bucket upper "
           "bounds, <= 6.25%% high%s.\n",
           res[0].timer_ns, time_every > 1 ? "; one call in --time-every timed" : "");
    printf("Peak live bytes bound the footprint of runs that evict nothing; a run that evicts"
           " can go below it (live bytes include evicted ones), and so can one marked * (requests"
           " refused or OOM: never placed).\n");
}

/* Version-2 traces: what the engine paid for memory its steps need (forced
 * preemptions) and what the policy evicted, by kind; Belady's reference below. */
static void print_engine_table(const char *const *names, const vreplay_result *res, size_t n,
                               const vbounds *b, const cli *c)
{
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        shown += res[i].needs && res[i].status != VREPLAY_RUN_NOT_APPLICABLE;
    if (!shown)
        return;
    printf("\n| policy | forced preemptions | preempted | restored (waits) | recompute tokens |"
           " preemption ms | evictions weight/kv/adapter/other | remat bytes |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const vreplay_result *r = &res[i];
        if (!r->needs || r->status == VREPLAY_RUN_NOT_APPLICABLE)
            continue;
        char pb[32], rm[32];
        const uint64_t *k = r->evictions_by_kind;
        uint64_t rest = r->evictions - k[VRAM_KIND_WEIGHT] - k[VRAM_KIND_KV] - k[VRAM_KIND_ADAPTER];
        printf("| %s | %" PRIu64 " | %s | %" PRIu64 " (%" PRIu64 ") | %" PRIu64 " | %.1f | %" PRIu64
               "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 " | %s |\n",
               names[i], r->preemptions, human(r->preempted_bytes, pb, sizeof pb), r->restores,
               r->restore_waits, r->recompute_tokens, r->preempt_ns / 1e6, k[VRAM_KIND_WEIGHT],
               k[VRAM_KIND_KV], k[VRAM_KIND_ADAPTER], rest,
               human(r->bytes_rematerialised, rm, sizeof rm));
    }
    if (b && b->belady_done) {
        char pb[32], rm[32];
        printf("| Belady (one ideal heap, a reference) | %" PRIu64 " | %s | - | - | - | %" PRIu64
               " in all | %s |\n",
               b->belady_preemptions, human(b->belady_preempted_bytes, pb, sizeof pb),
               b->belady_evictions, human(b->belady_bytes_rematerialised, rm, sizeof rm));
    }
    printf("A forced preemption: a placement failed and only memory a running request needs"
           " could make room, so the newest running request was preempted (--preempt %s);"
           " evictions are what the policy dropped that no step needed.\n",
           c->preempt_swap ? "swap: its KV copied to the host and back"
                           : "recompute: its KV dropped, its tokens recomputed when it runs again");
}

static void pct(char *buf, size_t len, uint64_t part, uint64_t whole)
{
    if (whole)
        snprintf(buf, len, "%.1f%%", 100.0 * (double)part / (double)whole);
    else
        snprintf(buf, len, "-");
}

/* What the options did per policy: the caching policy's reserved but
 * unallocated bytes at its peak, the tensor cache, and compaction. */
static void print_options_table(const char *const *names, const vreplay_result *res, size_t n,
                                const cli *c)
{
    const char *defrag = c->defrag_every ? "every N" : c->defrag_on_oom ? "on-oom" : "off";
    printf("\n| policy | reserved but unallocated at peak | tensor cache hit rate (hits/misses)"
           " | tensor cache idle max | defrag passes | moves | bytes moved | defrag modelled ms"
           " | OOMs saved by compaction |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const vreplay_result *r = &res[i];
        if (r->status == VREPLAY_RUN_NOT_APPLICABLE)
            continue;
        char un[96] = "-", peak[32], hit[96] = "-", idle[32] = "-", moved[32];
        if (r->has_unallocated) {
            char u[32];
            snprintf(un, sizeof un, "%s of %s reserved", human(r->reserved_unallocated, u, sizeof u),
                     human(r->peak_reserved, peak, sizeof peak));
        }
        if (c->tensor_cache) {
            char p[16];
            pct(p, sizeof p, r->tc_hits, r->tc_hits + r->tc_misses);
            snprintf(hit, sizeof hit, "%s (%" PRIu64 "/%" PRIu64 ")", p, r->tc_hits,
                     r->tc_misses);
            human(r->tc_idle_peak, idle, sizeof idle);
        }
        printf("| %s | %s | %s | %s | %" PRIu64 " | %" PRIu64 " | %s | %.3f | %" PRIu64 " |\n",
               names[i], un, hit, idle, r->defrag_passes, r->defrag_moves,
               human(r->defrag_bytes_moved, moved, sizeof moved), r->defrag_modelled_ns / 1e6,
               r->defrag_oom_saved);
    }
    printf("Compaction: --defrag %s. ", defrag);
    if (c->caching_conf)
        printf("Caching settings: \"%s\". ", c->caching_conf);
    if (c->tensor_cache) {
        char b[32];
        printf("Tensor cache: %s off the device for activations and workspaces, keyed by size"
               " (dtype u8); its heap's peak is in the peak footprint.",
               human(c->tensor_cache, b, sizeof b));
    }
    printf("\n");
}

/* Requests larger than the device, on stderr: the first few by file:line,
 * then how many more. The trace and device are the same for every policy, so
 * the first run that met any speaks for all. */
static void warn_over_capacity(const char *trace, const vreplay_result *r)
{
    uint64_t kept = r->over_capacity < VREPLAY_OVER_CAPACITY_KEPT ? r->over_capacity
                                                                 : VREPLAY_OVER_CAPACITY_KEPT;
    for (uint64_t i = 0; i < kept; i++)
        fprintf(stderr,
                "replay: warning: %s:%" PRIu64 ": a request of %" PRIu64 " bytes is larger than"
                " the device (%" PRIu64 " bytes): no policy can place it; the replay goes on\n",
                trace, r->over_capacity_line[i], r->over_capacity_size[i], r->capacity);
    if (r->over_capacity > kept)
        fprintf(stderr, "replay: warning: %s: %" PRIu64 " more requests larger than the device\n",
                trace, r->over_capacity - kept);
}

static double ratio(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0;
}

/* Traces with prefix events: the prefix cache's hit ratio beside the
 * references over the same block stream at the same capacity. */
static void print_prefix_table(const char *const *names, const vreplay_result *res, size_t n)
{
    const vrprefix_result *any = NULL;
    for (size_t i = 0; i < n && !any; i++)
        if (res[i].prefix.on && res[i].status != VREPLAY_RUN_NOT_APPLICABLE)
            any = &res[i].prefix;
    if (!any)
        return;
    printf("\n| policy | prefix cache | lookups | hit ratio blocks (tokens) | hits (host) |"
           " evictions | no block | saved tokens | saved ms | LRU | Belady | unlimited |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const vrprefix_result *p = &res[i].prefix;
        if (!p->on || res[i].status == VREPLAY_RUN_NOT_APPLICABLE)
            continue;
        printf("| %s | %s, %" PRIu64 " blocks%s | %" PRIu64 " | %.4f (%.4f) | %" PRIu64 " (%" PRIu64
               ") | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %.1f | %.4f | %.4f | %.4f |\n",
               names[i], p->policy, p->blocks, p->host_blocks ? " + host" : "", p->lookups,
               p->hit_ratio, p->token_hit_ratio, p->hit_blocks + p->host_hit_blocks,
               p->host_hit_blocks, p->evictions, p->alloc_failures, p->saved_tokens, p->saved_ms,
               ratio(p->lru_hits, p->lookup_blocks), ratio(p->belady_hits, p->lookup_blocks),
               ratio(p->unlimited_hits, p->lookup_blocks));
    }
    printf("Prefix cache: %" PRIu64 "-token blocks, the longest cached prefix of each lookup's"
           " full blocks; LRU, Belady (the optimum) and unlimited: hit ratios over the same block"
           " stream at the same capacity (docs/PREFIX_CACHE.md). No block: blocks a request could"
           " not get, every block held.\n",
           any->block_tokens);
}

/* The summary's line on requests larger than the device, if any. */
static void print_over_capacity(const char *trace, const vreplay_result *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const vreplay_result *r = &res[i];
        if (!r->over_capacity)
            continue;
        char cap[32];
        printf("Trace: %" PRIu64 " request%s larger than the device (%s), first at %s:%" PRIu64
               ": placed by no policy, counted as refused (or OOM).\n",
               r->over_capacity, r->over_capacity == 1 ? "" : "s",
               human(r->capacity, cap, sizeof cap), trace, r->over_capacity_line[0]);
        return;
    }
}

/* One field of a run's JSON object or CSV row: a column of the runs table
 * (sim/results/schema.sql) with its value as the database has it. */
typedef enum mtype { M_NULL, M_U64, M_I64, M_REAL, M_TEXT } mtype;
typedef struct mfield {
    const char *key;
    mtype type;
    uint64_t u;
    int64_t i;
    double d;
    const char *s;
} mfield;

#define MACHINE_FIELDS 46

/* The fields of run `r` of policy `name`, in the order of the CSV header;
 * their number. NULL where the database has NULL: a version-1 trace's
 * preemption columns, worst_ext_frag without samples, run_id without a
 * database; a run that was not applicable has no summary at all. */
static size_t machine_fields(const char *name, const vreplay_result *r, mfield *f)
{
    size_t n = 0;
    int na = r->status == VREPLAY_RUN_NOT_APPLICABLE, v2 = r->needs && !na;
#define F_U64(k, v, ok) (f[n++] = (mfield){.key = k, .type = (ok) ? M_U64 : M_NULL, .u = (v)})
#define F_REAL(k, v, ok) (f[n++] = (mfield){.key = k, .type = (ok) ? M_REAL : M_NULL, .d = (v)})
    f[n++] = (mfield){.key = "run_id", .type = r->run_id ? M_I64 : M_NULL, .i = r->run_id};
    f[n++] = (mfield){.key = "policy", .type = M_TEXT, .s = name};
    f[n++] = (mfield){.key = "status", .type = M_TEXT, .s = vreplay_status_name(r->status)};
    f[n++] = (mfield){.key = "detail", .type = r->message[0] ? M_TEXT : M_NULL, .s = r->message};
    F_U64("capacity", r->capacity, r->capacity);
    F_U64("peak_footprint", r->peak_footprint, !na);
    F_U64("peak_live", r->peak_live, !na);
    F_REAL("worst_ext_frag", r->worst_ext_frag, !na && r->samples);
    F_U64("ooms", r->ooms, !na);
    F_U64("ooms_despite_free", r->ooms_despite_free, !na);
    F_U64("errors", r->errors, !na);
    F_U64("preemptions", r->preemptions, v2);
    F_U64("preempted_bytes", r->preempted_bytes, v2);
    F_U64("restores", r->restores, v2);
    F_U64("restore_waits", r->restore_waits, v2);
    F_U64("recompute_tokens", r->recompute_tokens, v2);
    F_REAL("preempt_modelled_ms", r->preempt_ns / 1e6, v2);
    const uint64_t *k = r->evictions_by_kind;
    F_U64("evictions", r->evictions, !na);
    F_U64("evictions_weight", k[VRAM_KIND_WEIGHT], !na);
    F_U64("evictions_kv", k[VRAM_KIND_KV], !na);
    F_U64("evictions_adapter", k[VRAM_KIND_ADAPTER], !na);
    F_U64("evictions_other",
          r->evictions - k[VRAM_KIND_WEIGHT] - k[VRAM_KIND_KV] - k[VRAM_KIND_ADAPTER], !na);
    F_U64("bytes_rematerialised", r->bytes_rematerialised, !na);
    F_U64("alloc_p50_ns", vhist_quantile(&r->lat[VREPLAY_OP_ALLOC], 0.50), !na);
    F_U64("alloc_p99_ns", vhist_quantile(&r->lat[VREPLAY_OP_ALLOC], 0.99), !na);
    F_U64("free_p50_ns", vhist_quantile(&r->lat[VREPLAY_OP_FREE], 0.50), !na);
    F_U64("free_p99_ns", vhist_quantile(&r->lat[VREPLAY_OP_FREE], 0.99), !na);
    F_REAL("modelled_ms", r->modelled_ns / 1e6, !na);
    F_REAL("wall_s", r->wall_s, !na);
    F_REAL("events_per_s", r->wall_s > 0 ? (double)r->events / r->wall_s : 0, !na);
    const vrprefix_result *p = &r->prefix;
    int pc = p->on && !na;
    f[n++] = (mfield){.key = "prefix_policy", .type = pc ? M_TEXT : M_NULL, .s = p->policy};
    F_U64("prefix_blocks", p->blocks, pc);
    F_U64("prefix_host_blocks", p->host_blocks, pc);
    F_U64("prefix_lookups", p->lookups, pc);
    F_U64("prefix_lookup_blocks", p->lookup_blocks, pc);
    F_U64("prefix_hit_blocks", p->hit_blocks, pc);
    F_U64("prefix_host_hit_blocks", p->host_hit_blocks, pc);
    F_REAL("prefix_hit_ratio", p->hit_ratio, pc);
    F_REAL("prefix_token_hit_ratio", p->token_hit_ratio, pc);
    F_U64("prefix_evictions", p->evictions, pc);
    F_U64("prefix_alloc_failures", p->alloc_failures, pc);
    F_U64("prefix_saved_tokens", p->saved_tokens, pc);
    F_REAL("prefix_saved_ms", p->saved_ms, pc);
    F_U64("prefix_lru_hits", p->lru_hits, pc);
    F_U64("prefix_belady_hits", p->belady_hits, pc);
    F_U64("prefix_unlimited_hits", p->unlimited_hits, pc);
#undef F_U64
#undef F_REAL
    return n;
}

/* A number as JSON and CSV take it: shortest round-trip-ish form, "null"
 * (JSON) or nothing (CSV) when not finite. */
static void put_number(const mfield *f, int json)
{
    switch (f->type) {
    case M_U64: printf("%" PRIu64, f->u); break;
    case M_I64: printf("%" PRId64, f->i); break;
    case M_REAL:
        if (isfinite(f->d))
            printf("%.15g", f->d);
        else if (json)
            printf("null");
        break;
    default:
        if (json)
            printf("null");
    }
}

/* --json / --csv: the summary, one object or row per run, on stdout. */
static void print_machine(int json, const char *const *names, const vreplay_result *res, size_t n)
{
    mfield f[MACHINE_FIELDS];
    if (json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        size_t m = machine_fields(names[i], &res[i], f);
        if (!json && i == 0) {
            for (size_t k = 0; k < m; k++)
                printf("%s%s", k ? "," : "", f[k].key);
            printf("\r\n");
        }
        if (json)
            printf("%s\n  {", i ? "," : "");
        for (size_t k = 0; k < m; k++) {
            if (json)
                printf("%s\"%s\": ", k ? ", " : "", f[k].key);
            else if (k)
                putchar(',');
            if (f[k].type == M_TEXT)
                json ? vsim_json_string(stdout, f[k].s) : vsim_csv_field(stdout, f[k].s);
            else
                put_number(&f[k], json);
        }
        printf(json ? "}" : "\r\n");
    }
    if (json)
        printf("%s]\n", n ? "\n" : "");
}

static void join_args(int argc, char **argv, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < argc && used + 1 < len; i++) {
        int w = snprintf(out + used, len - used, "%s%s", i ? " " : "", argv[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Appends the list's plugins to specs[] (a copy of each item) and names[]
 * ("plugin:NAME"), loading each once to refuse a bad one before any run.
 * 0, or 2 with the loader's message printed. */
static int load_plugins(const char *list, const char **specs, const char **names, size_t *n)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (strncmp(p, VPLUGIN_PREFIX, sizeof VPLUGIN_PREFIX - 1) == 0) {
            if (*n == MAX_RUNS) {
                fprintf(stderr, "replay: --policy: more than %d policies\n", MAX_RUNS);
                return 2;
            }
            char *spec = strndup(p, len), msg[1024];
            vplugin *pl = NULL;
            if (!spec || vplugin_open(spec, &pl, msg, sizeof msg)) {
                fprintf(stderr, "replay: --policy: %s\n", spec ? msg : "out of memory");
                free(spec);
                return 2;
            }
            specs[*n] = spec;
            names[*n] = strdup(vplugin_label(pl));
            vplugin_close(pl);
            if (!names[(*n)++]) {
                fprintf(stderr, "replay: out of memory\n");
                return 2;
            }
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* What the first pass over the trace gives: the trace parsed once, the
 * bounds and, for the database, the trace's CRC-32 and size. */
typedef struct first_pass {
    vevs *stream;    /* NULL: past --stream-memory, or unreadable (the runs say why) */
    vram_status st;  /* the bounds' status (err says why) */
    vbounds b;
    char err[1024];
    char crc[9];
    uint64_t bytes;
} first_pass;

/* The CRC-32 and size of the file, read in 64 KiB pieces; "" when it cannot
 * be read. */
static void trace_crc32(const char *path, char hex[9], uint64_t *bytes)
{
    hex[0] = '\0';
    *bytes = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    static unsigned char buf[1 << 16];
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0 && !interrupted) {
        crc = crc32(crc, buf, (uInt)k);
        *bytes += k;
    }
    if (!ferror(f) && !interrupted)
        snprintf(hex, 9, "%08lx", (unsigned long)crc);
    fclose(f);
}

/* The CRC (when `crc`), the parse and the bounds pass; 1 when a signal
 * stopped it (`interrupted`: all look at it, the parse and the pass after
 * every event), 0 when it ended, its outcome in *fp. */
static int first_pass_run(const cli *c, int crc, first_pass *fp)
{
    memset(fp, 0, sizeof *fp);
    if (crc)
        trace_crc32(c->trace, fp->crc, &fp->bytes);
    if (!interrupted) /* a failure leaves no stream: the bounds and the runs read the file */
        vevs_build(c->trace, NULL, 0, c->stream_memory, &interrupted, &fp->stream, fp->err,
                   sizeof fp->err);
    if (!interrupted)
        fp->st = vbounds_compute_stream(fp->stream, c->trace, c->capacity, c->belady,
                                        &interrupted, &fp->b, fp->err, sizeof fp->err);
    return interrupted != 0;
}

/* replay_jobs' `started`: a run's progress counts from its start. */
static void run_started(void *ctx, size_t i)
{
    ((progress *)ctx)[i].t0 = mono_ns();
}

/* "pool, caching" for the runs [from, n) that were not started. */
static void not_run_list(const char *const *names, size_t from, size_t n, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = from; i < n && used + 1 < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i > from ? ", " : "", names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int main(int argc, char **argv)
{
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc < 0 ? 0 : rc;

    /* The built-in policies in their order, then the plugins in the list's:
     * specs[] is what a run gets, names[] what the tables show (static: the
     * plugins' copies stay reachable until the exit). */
    size_t n = 0;
    static const char *names[MAX_RUNS], *specs[MAX_RUNS];
    for (const char *const *p = vram_heap_policy_names; *p && n < MAX_RUNS; p++)
        if (listed(c.policy, "all", 3) || listed(c.policy, *p, strlen(*p)))
            names[n] = specs[n] = *p, n++;
    rc = load_plugins(c.policy, specs, names, &n);
    if (rc)
        return rc;

    /* The trace is read once per policy (and once for the bounds): a pipe
     * would be empty from the second pass on. A directory or a missing file
     * is named by the reader. */
    struct stat sb;
    if (stat(c.trace, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        fprintf(stderr,
                "replay: %s: not a regular file: the trace is read once per policy; save it to"
                " a file first\n",
                c.trace);
        return 1;
    }
    char err[1024];
    static char recorded[VTRACE_TEXT_MAX]; /* the trace's allocator_settings: the caching default */
    int settings = c.caching_conf ? 0 : vtrace_recorded_settings(c.trace, recorded, &c.caching, err,
                                                                 sizeof err);
    if (settings < 0) {
        fprintf(stderr, "replay: %s\n", err);
        return 1;
    }
    if (settings)
        c.caching_conf = recorded;
    vdb *db = NULL;
    /* before the database: its wait for other writers ends on a signal */
    vsim_catch_signals(&interrupted);
    if (!c.no_db) {
        if (vdb_open_stop(c.db_path, &interrupted, &db, err, sizeof err)) {
            if (interrupted) {
                fprintf(stderr, "replay: stopped by %s while opening %s: no run was started,"
                                " nothing was logged\n", vsim_signal_name(interrupted), c.db_path);
                return 128 + interrupted;
            }
            fprintf(stderr, "replay: %s\n", err);
            return 1;
        }
        vdb_set_batch(db, c.batch > 1000000 ? 1000000 : (unsigned)c.batch);
    }

    vbounds bounds;
    const vbounds *bp = NULL;
    int machine = c.json || c.csv; /* stdout holds the JSON or CSV alone */
    uint64_t t0 = mono_ns();
    int show = !c.quiet && isatty(STDERR_FILENO);
    if (show) /* the pass parses the trace and walks it once (twice with Belady) */
        fprintf(stderr, "parsing the trace, computing the bounds (%s)...",
                c.belady ? "peak live, Belady" : "peak live");
    static first_pass fp;
    int stopped = first_pass_run(&c, db != NULL, &fp);
    if (show)
        fprintf(stderr, "\r%-70s\r", "");
    if (stopped) {
        fprintf(stderr, "replay: stopped by %s during the bounds pass: no run was started,"
                        " nothing was logged\n", vsim_signal_name(interrupted));
        vdb_close(db, NULL, 0);
        vevs_destroy(fp.stream);
        return 128 + interrupted;
    }
    if (fp.st == VRAM_OK) {
        bounds = fp.b;
        bp = &bounds;
        if (c.sample_auto) /* about SAMPLES_PER_RUN samples, whatever the trace's length */
            c.sample_every = bp->events > SAMPLES_PER_RUN
                                 ? (bp->events + SAMPLES_PER_RUN - 1) / SAMPLES_PER_RUN
                                 : 1;
        print_bounds(machine ? stderr : stdout, bp, (double)(mono_ns() - t0) / 1e9);
    } else {
        fprintf(stderr, "replay: bounds not computed: %s\n", fp.err);
    }

    char cmdline[2048];
    join_args(argc, argv, cmdline, sizeof cmdline);
    vreplay_result *res = calloc(n, sizeof *res);
    vreplay_job *jobs = calloc(n, sizeof *jobs);
    progress *pr = calloc(n, sizeof *pr);
    if (!res || !jobs || !pr) {
        fprintf(stderr, "replay: out of memory\n");
        vdb_close(db, NULL, 0);
        return 1;
    }
    const char *crc = fp.crc;
    uint64_t trace_bytes = fp.bytes;
    int failed = 0, warned = 0, db_failed = 0, plugins = 0;
    size_t done = 0, logged = 0;
    for (size_t i = 0; i < n; i++) {
        plugins |= vplugin_is_spec(specs[i]);
        pr[i] = (progress){.policy = names[i], .total = bp ? bp->events : 0};
        jobs[i].res = &res[i];
        jobs[i].isolated = c.isolate && vplugin_is_spec(specs[i]);
        jobs[i].opt = (vreplay_options){
            .trace_path = c.trace, .stream = fp.stream, .policy = specs[i], .backend = c.backend,
            .capacity = c.capacity, .evict_policy = c.evict_policy,
            .sample_every = c.sample_every, .check_every = c.check_every,
            .time_every = c.time_every,
            .defrag_on_oom = c.defrag_on_oom, .defrag_every = c.defrag_every,
            .caching = c.caching_conf ? &c.caching : NULL, .caching_conf = c.caching_conf,
            .tensor_cache = c.tensor_cache, .preempt_swap = c.preempt_swap,
            .prefill_tokens_per_s = (double)c.prefill_rate, .prefix = c.prefix,
            .options_text = cmdline, .trace_crc32 = crc[0] ? crc : NULL,
            .trace_bytes = trace_bytes, .bounds = bp,
            .stop = &interrupted, .progress = show ? show_progress : NULL, .progress_ctx = &pr[i],
            .progress_every = 1u << 16};
    }
    /* A plugin's code need not be thread-safe, and --isolate forks: one at a time. */
    vreplay_jobs_config jc = {.jobs = plugins ? 1 : (unsigned)c.jobs, .db = db,
                              .db_path = c.db_path,
                              .batch = c.batch > 1000000 ? 1000000 : (unsigned)c.batch,
                              .isolate_timeout = (unsigned)c.isolate_timeout,
                              .stop = &interrupted, .started = run_started, .started_ctx = pr};
    size_t started = vreplay_jobs_run(jobs, n, &jc);
    if (show)
        fprintf(stderr, "\r%-70s\r", "");
    for (size_t i = 0; i < started; i++) {
        const vreplay_result *r = &res[i];
        vram_status st = jobs[i].st;
        logged += r->run_id != 0;
        if (r->over_capacity && !warned) {
            warn_over_capacity(c.trace, r);
            warned = 1;
        }
        db_failed |= jobs[i].db_failed;
        if (st || r->status == VREPLAY_RUN_FAILED) {
            failed = 1;
            fprintf(stderr, "replay: %s: %s: %s\n", names[i],
                    st ? vram_strerror(st) : vreplay_status_name(r->status), r->message);
        }
    }
    /* The runs shown stop before the first that could not be carried out
     * (the database, the device or the trace fails every policy alike). */
    while (done < started && !jobs[done].st)
        done++;
    free(jobs);
    free(pr);
    vevs_destroy(fp.stream);
    if (done && machine) {
        print_machine(c.json, names, res, done);
    } else if (done && c.wide) {
        print_table(names, res, done, bp, c.time_every);
        print_engine_table(names, res, done, bp, &c);
        print_options_table(names, res, done, &c);
    } else if (done) {
        print_summary(names, res, done, bp, &c);
    }
    if (done && !machine) {
        print_prefix_table(names, res, done);
        print_over_capacity(c.trace, res, done);
    }
    if (done)
        print_verdict(machine ? stderr : stdout, names, res, done, bp);
    size_t ran = 0;
    for (size_t i = 0; i < done; i++)
        ran += res[i].status != VREPLAY_RUN_NOT_APPLICABLE;
    if (!interrupted && !failed && done == n && ran == 0) {
        /* Nothing was replayed: a failure, each policy saying why. */
        for (size_t i = 0; i < done; i++)
            fprintf(stderr, "replay: %s: not run: %s\n", names[i], res[i].message);
        fprintf(stderr, "replay: no policy could run %s (a device of %" PRIu64 " bytes):"
                        " nothing was replayed%s\n",
                c.trace, res[0].capacity, db ? " or logged" : "");
        failed = 1;
    }
    if (db) {
        if (vdb_close(db, err, sizeof err) && !db_failed) {
            fprintf(stderr, "replay: %s\n", err);
            db_failed = 1;
        }
        if (db_failed) {
            fprintf(stderr, "replay: %s: the database failed: the runs before the failure are"
                            " logged; the run it hit is marked failed, or reads 'failed' with"
                            " no end time if even that could not be written\n",
                    c.db_path);
            failed = 1;
        } else if (logged) {
            fprintf(machine ? stderr : stdout, "logged to %s\n", c.db_path);
        }
    }
    if (interrupted) {
        /* Say what the signal stopped, and only that. */
        const char *sig = vsim_signal_name(interrupted);
        char rest[512];
        not_run_list(names, done, n, rest, sizeof rest);
        size_t under_way = 0; /* the runs it stopped (one, or up to --jobs) */
        for (size_t i = 0; i < done; i++) {
            const vreplay_result *r = &res[i];
            if (r->status != VREPLAY_RUN_INTERRUPTED)
                continue;
            if (under_way++)
                fprintf(stderr, "; ");
            else
                fprintf(stderr, "replay: stopped by %s: ", sig);
            if (!db || db_failed)
                fprintf(stderr, "the %s run was stopped (%s)", names[i], r->message);
            else
                fprintf(stderr, "the %s run is marked \"interrupted\" in %s (run %" PRId64 ", %s)",
                        names[i], c.db_path, r->run_id, r->message);
        }
        if (under_way) {
            if (!db)
                fprintf(stderr, "; nothing is logged (--no-db)");
        } else if (done == 0) {
            fprintf(stderr, "replay: stopped by %s before the first run: no run was started,"
                            " nothing was logged", sig);
        } else if (done < n) {
            fprintf(stderr, "replay: stopped by %s after the %s run, between runs: no run was"
                            " in progress", sig, names[done - 1]);
        } else {
            fprintf(stderr, "replay: %s received after the last run: every run had ended", sig);
        }
        fprintf(stderr, "%s%s\n", rest[0] ? "; not run: " : "", rest);
        free(res);
        return 128 + interrupted;
    }
    free(res);
    return failed ? 1 : 0;
}
