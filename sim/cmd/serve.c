/* serve - the closed loop (serve.h): a recorded workload served by the engine
 * model with live managers per heap policy; see --help. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "engine_cli.h"
#include "replay.h"
#include "serve.h"
#include "signals.h"
#include "vramlab_version.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: serve --workload FILE [options]\n"
            "\n"
            "Serves a recorded workload with the engine model of tracegen, closed loop: the KV\n"
            "region is a live manager of each heap policy, so an allocation it cannot place\n"
            "makes a request wait or preempts one (vLLM's rules), and the allocator changes the\n"
            "batch sizes, queueing and throughput. Prints one row per policy: requests finished,\n"
            "generated tokens per modelled second, queueing delay and time to first token\n"
            "(modelled), mean batch, preemptions by cause, OOMs, and the KV region's ledger\n"
            "(time-weighted shares: token states, reserved for future tokens, internal waste,\n"
            "free but unusable, free usable). docs/ENGINE_MODEL.md describes the model.\n"
            "\n"
            "  --policy LIST          heap policies of the KV region, comma-separated (default:\n"
            "                         bestfit,buddy,tlsf,caching, and pool with --engine paged)\n");
    vengine_cli_usage(f);
    fprintf(f,
            "  --check-every N        the engine's, the ledger's and the managers' checks every N\n"
            "                         steps (default 0: at the end; the ledger adds up at every step)\n"
            "  --progress N           a line on stderr every N steps (default 5000; 0: none)\n"
            "  --json                 the results on stdout as one JSON object per policy, a line each\n"
            "  --db FILE              the results database (default serve.db): a runs row per policy,\n"
            "                         its outcomes in the table serve, the ledger of every step in\n"
            "                         kv_ledger (sim/results/schema.sql)\n"
            "  --no-db                write no database\n"
            "  -h, --help\n"
            "  --version              the version and git commit\n"
            "\n"
            "Exit status: 0 every policy ran, 1 a run failed (the message names the cause), 2 usage,\n"
            "128 + N after signal N.\n");
}

static int parse_count(const char *opt, const char *val, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = val && *val != '-' && *val != '+' ? strtoull(val, &end, 10) : 0;
    if (!val || !*val || *val == '-' || *val == '+' || *end || errno) {
        fprintf(stderr, "serve: %s '%s': expected a non-negative integer\n", opt, val ? val : "");
        return 2;
    }
    *out = v;
    return 0;
}

static void progress(void *ctx, uint64_t steps)
{
    fprintf(stderr, "serve: %s: step %llu\n", (const char *)ctx, (unsigned long long)steps);
}

/* One policy's run, logged to the database when there is one. */
typedef struct run_ctx {
    vdb *db;
    int64_t run;
} run_ctx;

static vram_status on_sample(void *ctx, const vserve_sample *s)
{
    run_ctx *rc = ctx;
    return vdb_kv_ledger_add(rc->db, rc->run, s);
}

static const char *const run_status[] = {"ok", "failed", "interrupted"};

/* Runs one policy: 0 ok, 1 failed (message printed). */
static int run_policy(vserve_options *o, vdb *db, const vdb_run_info *info, vserve_result *r)
{
    run_ctx rc = {.db = db};
    char err[1024] = "";
    if (db) {
        vdb_run_info in = *info;
        in.policy = o->policy;
        if (vdb_run_begin(db, &in, &rc.run)) {
            fprintf(stderr, "serve: %s: %s\n", o->policy, vdb_error(db));
            return 1;
        }
        o->sample = on_sample;
        o->sample_ctx = &rc;
    }
    vram_status st = vserve_run(o, r, err, sizeof err);
    if (st == VRAM_EIO && db && vdb_error(db)[0])
        snprintf(err, sizeof err, "%s", vdb_error(db));
    if (!st && db)
        st = vdb_serve_add(db, rc.run, r);
    int how = !st ? 0 : *o->stop ? 2 : 1;
    if (db && vdb_run_end(db, rc.run, run_status[how], how ? err : NULL, NULL) && !st) {
        snprintf(err, sizeof err, "%s", vdb_error(db));
        st = VRAM_EIO;
    }
    if (st && !*o->stop)
        fprintf(stderr, "serve: %s: %s\n", o->policy, err);
    return st != VRAM_OK;
}

static void print_header(void)
{
    printf("| policy | finished | tokens/s | mean batch | queue ms mean/p99 | TTFT ms mean/p99 | "
           "preemptions budget/placement/buffers | admissions refused | OOMs | tokens | reserved | "
           "waste | free unusable | free usable | CPU s |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

static void print_row(const char *policy, const vserve_result *r)
{
    const vengine_stats *e = &r->engine;
    printf("| %s | %llu | %.1f | %.1f | %.0f/%.0f | %.0f/%.0f | %llu/%llu/%llu | %llu | %llu | "
           "%.3f | %.3f | %.3f | %.3f | %.3f | %.2f |\n",
           policy, (unsigned long long)e->finished, r->tokens_per_s, r->mean_batch, r->queue_mean_ms,
           r->queue_p99_ms, r->ttft_mean_ms, r->ttft_p99_ms,
           (unsigned long long)e->preempt_by_cause[VENGINE_PREEMPT_BUDGET],
           (unsigned long long)e->preempt_by_cause[VENGINE_PREEMPT_PLACEMENT],
           (unsigned long long)e->preempt_by_cause[VENGINE_PREEMPT_BUFFERS],
           (unsigned long long)e->admissions_refused, (unsigned long long)e->ooms, r->avg.tokens,
           r->avg.reserved, r->avg.waste, r->avg.free_unusable, r->avg.free_usable, r->cpu_s);
}

static void print_json(const char *policy, const char *style, const vserve_result *r)
{
    const vengine_stats *e = &r->engine;
    printf("{\"policy\":\"%s\",\"engine\":\"%s\",\"kv_bytes\":%llu,\"requests\":%llu,\"rejected\":%llu,"
           "\"finished\":%llu,\"steps\":%llu,\"modelled_s\":%.6f,\"tokens_per_s\":%.3f,\"mean_batch\":%.3f,"
           "\"queue_mean_ms\":%.3f,\"queue_p99_ms\":%.3f,\"ttft_mean_ms\":%.3f,\"ttft_p99_ms\":%.3f,"
           "\"preempt_budget\":%llu,\"preempt_placement\":%llu,\"preempt_buffers\":%llu,"
           "\"admissions_refused\":%llu,\"ooms\":%llu,\"share_tokens\":%.6f,\"share_reserved\":%.6f,"
           "\"share_waste\":%.6f,\"share_free_unusable\":%.6f,\"share_free_usable\":%.6f,\"samples\":%llu,"
           "\"prefix_lookup_blocks\":%llu,\"prefix_hit_blocks\":%llu,\"prefix_evictions\":%llu,"
           "\"cpu_s\":%.3f}\n",
           policy, style, (unsigned long long)r->kv_bytes, (unsigned long long)e->requests,
           (unsigned long long)e->rejected, (unsigned long long)e->finished, (unsigned long long)e->steps,
           r->modelled_s, r->tokens_per_s, r->mean_batch, r->queue_mean_ms, r->queue_p99_ms, r->ttft_mean_ms,
           r->ttft_p99_ms, (unsigned long long)e->preempt_by_cause[VENGINE_PREEMPT_BUDGET],
           (unsigned long long)e->preempt_by_cause[VENGINE_PREEMPT_PLACEMENT],
           (unsigned long long)e->preempt_by_cause[VENGINE_PREEMPT_BUFFERS],
           (unsigned long long)e->admissions_refused, (unsigned long long)e->ooms, r->avg.tokens,
           r->avg.reserved, r->avg.waste, r->avg.free_unusable, r->avg.free_usable,
           (unsigned long long)r->samples, (unsigned long long)e->prefix_lookup_blocks,
           (unsigned long long)e->prefix_hit_blocks, (unsigned long long)e->prefix_evictions, r->cpu_s);
}

/* The engine's prefix cache in each run, after the table (Mooncake, paged):
 * the allocator changes the schedule, and so what the cache finds. */
static void print_prefix(const char *const *policies, const vserve_result *r, size_t n)
{
    size_t with = 0;
    for (size_t k = 0; k < n; k++)
        with += r[k].engine.prefix_lookup_blocks > 0;
    if (!with)
        return;
    printf("\n| policy | prefix blocks looked up | found cached | hit ratio | cached blocks evicted |\n"
           "|---|---|---|---|---|\n");
    for (size_t k = 0; k < n; k++) {
        const vengine_stats *e = &r[k].engine;
        if (e->prefix_lookup_blocks)
            printf("| %s | %llu | %llu | %.4f | %llu |\n", policies[k],
                   (unsigned long long)e->prefix_lookup_blocks, (unsigned long long)e->prefix_hit_blocks,
                   (double)e->prefix_hit_blocks / (double)e->prefix_lookup_blocks,
                   (unsigned long long)e->prefix_evictions);
    }
    printf("Prefix cache: the engine's own (16-token blocks of its whole KV pool, --prefix-policy; "
           "docs/ENGINE_MODEL.md, \"The prefix cache\").\n");
}

/* The default policies: every one serve accepts, pool only where it applies. */
static int default_policy(const vengine_config *c, const char *name)
{
    return strcmp(name, "pool") != 0 || c->kv == VENGINE_KV_PAGED;
}

static volatile sig_atomic_t stop;

int main(int argc, char **argv)
{
    vengine_cli ec;
    vengine_cli_init(&ec);
    const char *policies = NULL, *db_path = "serve.db";
    uint64_t check_every = 0, progress_every = 5000;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = vengine_cli_option(&ec, "serve", argc, argv, &i);
        if (rc == 2)
            return 2;
        if (rc)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            return vramlab_print_version(argv[0]);
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--no-db")) {
            db_path = NULL;
        } else if (strcmp(a, "--policy") && strcmp(a, "--check-every") && strcmp(a, "--progress") &&
                   strcmp(a, "--db")) {
            fprintf(stderr, "serve: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (i + 1 == argc) {
            fprintf(stderr, "serve: %s needs a value (see --help)\n", a);
            return 2;
        } else if (!strcmp(a, "--policy")) {
            policies = argv[++i];
        } else if (!strcmp(a, "--db")) {
            db_path = argv[++i];
        } else if ((rc = parse_count(a, argv[i + 1],
                                     !strcmp(a, "--progress") ? &progress_every : &check_every))) {
            return rc;
        } else {
            i++;
        }
    }
    if (!ec.c.workload) {
        fprintf(stderr, "serve: --workload is required (see --help)\n");
        return 2;
    }
    int rc = vengine_cli_finish(&ec, "serve");
    if (rc)
        return rc;
    /* the policies, each checked before any runs */
    const char *list[16];
    size_t n = 0;
    char buf[256];
    if (policies) {
        if (strlen(policies) >= sizeof buf) {
            fprintf(stderr, "serve: --policy '%s': too long\n", policies);
            return 2;
        }
        strcpy(buf, policies);
        for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            int known = 0;
            for (size_t k = 0; vserve_policy_names[k]; k++)
                known |= !strcmp(p, vserve_policy_names[k]);
            if (!known || n == sizeof list / sizeof list[0]) {
                fprintf(stderr,
                        "serve: --policy '%s': expected a list of bestfit, buddy, tlsf, pool, caching\n", p);
                return 2;
            }
            list[n++] = p;
        }
    } else {
        for (size_t k = 0; vserve_policy_names[k]; k++)
            if (default_policy(&ec.c, vserve_policy_names[k]))
                list[n++] = vserve_policy_names[k];
    }
    if (!n) {
        fprintf(stderr, "serve: --policy '%s': no policy named\n", policies);
        return 2;
    }
    vsim_catch_signals(&stop);
    vdb *db = NULL;
    char err[1024], crc[9], model[64], options[2048];
    if (db_path && vdb_open_stop(db_path, &stop, &db, err, sizeof err)) {
        fprintf(stderr, "serve: %s\n", err);
        return 1;
    }
    uint64_t bytes;
    vreplay_trace_crc32(ec.c.workload, crc, &bytes);
    snprintf(model, sizeof model, "%s tp=%u", ec.c.model, ec.c.tp);
    size_t len = (size_t)snprintf(options, sizeof options, "serve");
    for (int i = 1; i < argc && len < sizeof options; i++)
        len += (size_t)snprintf(options + len, sizeof options - len, " %s", argv[i]);
    const vdb_run_info info = {.trace = ec.c.workload, .trace_crc32 = crc, .trace_bytes = bytes, .model = model,
                               .engine = vengine_kv_name(ec.c.kv), .backend = "sim",
                               .capacity = ec.c.capacity, .sample_every = 1, .check_every = check_every,
                               .options = options, .layout = "KV region + bestfit"};
    if (!json)
        print_header();
    int failed = 0;
    const char *done[sizeof list / sizeof list[0]];
    vserve_result res[sizeof list / sizeof list[0]];
    size_t ndone = 0;
    for (size_t k = 0; k < n && !stop; k++) {
        vserve_options o = {.e = ec.c, .policy = list[k], .check_every = check_every, .stop = &stop,
                            .progress = progress, .progress_ctx = (void *)list[k],
                            .progress_every = progress_every};
        vserve_result *r = &res[ndone];
        if (run_policy(&o, db, &info, r)) {
            failed = 1;
            continue;
        }
        done[ndone++] = list[k];
        if (json)
            print_json(list[k], vengine_kv_name(ec.c.kv), r);
        else
            print_row(list[k], r);
        fflush(stdout);
    }
    if (!json)
        print_prefix(done, res, ndone);
    if (db && vdb_close(db, err, sizeof err)) {
        fprintf(stderr, "serve: %s\n", err);
        failed = 1;
    }
    if (stop) {
        fprintf(stderr, "serve: stopped by %s\n", vsim_signal_name((int)stop));
        return 128 + (int)stop;
    }
    return failed;
}
