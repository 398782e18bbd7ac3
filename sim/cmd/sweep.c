/* sweep - runs a grid of replays (traces x policies x capacities x caching
 * settings x prefix cache sizes and policies) or of serve runs (workloads x
 * policies x KV styles x block sizes x device sizes) on this machine's cores
 * into one database, or writes it as one command line per run for a
 * distributed runner (docs/SWEEPS.md).
 *
 * Each run is one `replay` or `serve` process (the program beside this one),
 * with one value of every axis: the local sweep and an emitted job run the
 * same command, only the database differs.
 *
 * Exit status: 0 every run ended ok; 1 a run failed, or the database or the
 * jobs file failed; 2 bad usage or a bad grid (found before anything runs);
 * 128 + N when signal N stopped it (docs/RELIABILITY.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "db_merge.h"
#include "signals.h"
#include "sweep_grid.h"
#include "sweep_run.h"
#include "trace.h"
#include "vramlab_version.h"

static volatile sig_atomic_t interrupted;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sweep [options] TRACE... [-- REPLAY-OPTIONS]\n"
            "       sweep --tool serve [options] WORKLOAD... [-- SERVE-OPTIONS]\n"
            "       sweep --merge OUT.db IN.db...\n"
            "Runs `replay` once per point of a grid (every TRACE x --policy x --capacity x\n"
            "--caching-conf x --prefix-cache-blocks x --prefix-policy), or `serve` (every\n"
            "WORKLOAD x --policy x --engine x --block-tokens x --capacity-gib), several at a\n"
            "time, each run logged into one database; or, with --emit-jobs, writes the grid as\n"
            "one command line per run, each with its own database, for GNU parallel, a Slurm\n"
            "array or a CI matrix (docs/SWEEPS.md).\n"
            "The grid is checked before anything runs: every value, every TRACE's header, that\n"
            "every WORKLOAD is a readable file.\n"
            "\n"
            "  --tool replay|serve   the program each run runs (default replay)\n"
            "Grid, both tools:\n"
            "  --policy LIST|all     heap policies, comma-separated (bestfit, buddy, tlsf, pool,\n"
            "                        caching; replay: plugin:PATH[:NAME]); default all (pool only\n"
            "                        where it applies: over traces with KV blocks; in serve runs\n"
            "                        with --engine paged over a workload that is not Mooncake)\n"
            "Grid, replay:\n"
            "  --capacity LIST       device sizes, comma-separated: bytes, or a number with KiB,\n"
            "                        MiB, GiB or TiB (64GiB), or trace (the header's); default\n"
            "                        trace\n"
            "  --caching-conf TEXT   one caching setting (PYTORCH_CUDA_ALLOC_CONF syntax, e.g.\n"
            "                        expandable_segments:True), or trace (the replay's default);\n"
            "                        repeat the option for more; varies the caching policy's\n"
            "                        runs only\n"
            "  --prefix-cache-blocks LIST  the prefix cache's device blocks, comma-separated\n"
            "                        (1 to 1073741824), or trace (the header's\n"
            "                        prefix_cache_blocks; the default)\n"
            "  --prefix-policy LIST  the prefix cache's eviction policies, comma-separated:\n"
            "                        vllm (the default), lru, lfu, priority\n"
            "                        Both vary only the runs over traces with a prefix cache\n"
            "                        (prefix events, traces/FORMAT.md; the replay ignores them\n"
            "                        elsewhere); report draws the hit ratio against the blocks\n"
            "Grid, serve:\n"
            "  --engine LIST         KV reservation styles, comma-separated: paged (the default),\n"
            "                        contiguous, max, pow2, oracle\n"
            "  --block-tokens LIST   tokens per paged KV block, comma-separated, or default\n"
            "                        (serve's, 16); varies the paged runs only\n"
            "  --capacity-gib LIST   device sizes in GiB, comma-separated, or default (serve's, 80)\n"
            "Running:\n"
            "  --jobs N              runs at once (default: the number of online cores)\n"
            "  --db PATH             the database every run writes (default sweep.db); with\n"
            "                        --emit-jobs, run K writes PATH with -K before .db\n"
            "                        (sweep-0001.db, ...)\n"
            "  --program PROGRAM     the replay or serve to run (default: the one beside this\n"
            "                        program: replay or serve in the build tree, vramlab-replay\n"
            "                        or vramlab-serve installed); --replay PROGRAM is the same\n"
            "  --emit-jobs FILE      write the runs' command lines to FILE (- for stdout), one\n"
            "                        per line, quoted for sh, and run nothing\n"
            "  --merge OUT.db IN.db...  copy the runs of every IN.db into OUT.db (created when\n"
            "                        missing), renumbered after OUT's: the emitted jobs'\n"
            "                        databases as one (report IN.db... reads them as one too)\n"
            "  --help                this text\n"
            "  --version             the version and git commit\n"
            "After --, options for every run (replay: e.g. --no-belady --sample-every 100;\n"
            "serve: e.g. --model llama-3-8b --tp 1); the ones the sweep sets itself (the grid's,\n"
            "--workload, --db, --no-db, --json, --csv, --quiet, --progress) are refused there.\n"
            "Progress: a line per run as it ends, with the run's messages under it, and one\n"
            "naming the runs still going after 30 s without a line.\n"
            "Exit status: 0 all runs ok, 1 a run failed (or the database or FILE), 2 bad usage\n"
            "or a bad grid (nothing was run), 128+N stopped by signal N (SIGINT 130, SIGTERM\n"
            "143): the signal is passed to the running runs, which mark themselves\n"
            "\"interrupted\"; no other run is started.\n");
}

typedef struct cli {
    vsweep_grid grid;
    unsigned jobs;
    const char *db, *program, *emit;
    char *const *extra; /* after "--" */
    size_t nextra;
    int merge;
    char *const *operands;
    size_t noperands;
} cli;

/* The options every run takes from the sweep, besides the grid's and the
 * tool's input and quiet options. */
static const char *const owned[] = {"--db", "--no-db", "--json", "--csv", "--help",
                                    "--version", "-h", NULL};

/* Whether arg is `option` or `option=...`. */
static int is_option(const char *arg, const char *option)
{
    size_t len = strlen(option);
    return strncmp(arg, option, len) == 0 && (!arg[len] || arg[len] == '=');
}

/* No option after -- that the sweep sets itself: an axis of the grid, the
 * tool's input or quiet option, or one of owned[]. */
static int check_extra(const vsweep_grid *g, char *const *extra, size_t n)
{
    const vsweep_tool *t = &vsweep_tools[g->tool];
    for (size_t i = 0; i < n; i++) {
        const char *hint = NULL;
        for (int a = 0; a < VSWEEP_AXES && !hint; a++)
            if (vsweep_axes[a].option && vsweep_axis_applies(g, (vsweep_axis_id)a) &&
                is_option(extra[i], vsweep_axes[a].option))
                hint = " (give it before --: it is an axis of the grid)";
        for (const char *const *o = owned; *o && !hint; o++)
            if (is_option(extra[i], *o))
                hint = "";
        if (!hint && ((t->input_option && is_option(extra[i], t->input_option)) ||
                      is_option(extra[i], t->quiet[0])))
            hint = "";
        if (hint) {
            fprintf(stderr, "sweep: %s after --: the sweep sets it itself%s\n", extra[i], hint);
            return 0;
        }
    }
    return 1;
}

/* --tool's value: its id, or -1. */
static int tool_id(const char *name)
{
    for (int t = 0; t < VSWEEP_TOOLS; t++)
        if (strcmp(vsweep_tools[t].name, name) == 0)
            return t;
    return -1;
}

/* 0 ok, 2 bad usage (message printed), -1 --help or --version printed. */
static int parse_args(int argc, char **argv, cli *c)
{
    /* The grid's options are its axes' (O_AXIS + the axis id), then the sweep's own. */
    enum { O_AXIS = 256, O_JOBS = O_AXIS + VSWEEP_AXES, O_DB, O_PROGRAM, O_EMIT, O_MERGE, O_TOOL,
           O_HELP, O_VERSION };
    struct option opts[VSWEEP_AXES + 9] = {
        {"jobs", required_argument, 0, O_JOBS},
        {"db", required_argument, 0, O_DB},
        {"program", required_argument, 0, O_PROGRAM},
        {"replay", required_argument, 0, O_PROGRAM},
        {"emit-jobs", required_argument, 0, O_EMIT},
        {"merge", no_argument, 0, O_MERGE},
        {"tool", required_argument, 0, O_TOOL},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
    };
    for (int a = 0, n = 9; a < VSWEEP_AXES; a++)
        if (vsweep_axes[a].option)
            opts[n++] = (struct option){vsweep_axes[a].option + 2, required_argument, 0, O_AXIS + a};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->jobs = cores > 0 ? (unsigned)cores : 1;
    c->db = "sweep.db";
    /* The runs' options start after the first "--": getopt sees what is before. */
    int split = 1;
    while (split < argc && strcmp(argv[split], "--") != 0)
        split++;
    if (split < argc) {
        c->extra = argv + split + 1;
        c->nextra = (size_t)(argc - split - 1);
    }
    /* The grid's values, added once --tool is known (their checks are the tool's). */
    struct given { vsweep_axis_id axis; const char *text; } *given = calloc((size_t)argc,
                                                                            sizeof *given);
    size_t ngiven = 0;
    if (!given) {
        fprintf(stderr, "sweep: out of memory\n");
        return 2;
    }
    char why[2048];
    int o;
    opterr = 0;
    while ((o = getopt_long(split, argv, "h", opts, NULL)) != -1) {
        int ok = 1;
        switch (o) {
        case O_JOBS: {
            char *end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            ok = !errno && end != optarg && !*end && optarg[0] != '-' && v >= 1 && v <= 1024;
            snprintf(why, sizeof why, "--jobs: \"%s\" is not 1 to 1024", optarg);
            c->jobs = (unsigned)v;
            break;
        }
        case O_DB: c->db = optarg; break;
        case O_PROGRAM: c->program = optarg; break;
        case O_EMIT: c->emit = optarg; break;
        case O_MERGE: c->merge = 1; break;
        case O_TOOL:
            ok = tool_id(optarg) >= 0;
            snprintf(why, sizeof why, "--tool: \"%s\" is not replay or serve", optarg);
            c->grid.tool = ok ? (vsweep_tool_id)tool_id(optarg) : c->grid.tool;
            break;
        case 'h':
        case O_HELP: usage(stdout); free(given); return -1;
        case O_VERSION: vramlab_print_version(argv[0]); free(given); return -1;
        default:
            if (o >= O_AXIS && o < O_AXIS + VSWEEP_AXES) {
                given[ngiven++] = (struct given){(vsweep_axis_id)(o - O_AXIS), optarg};
                break;
            }
            snprintf(why, sizeof why, "unknown option or missing value: %s", argv[optind - 1]);
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr, "sweep: %s\n", why);
            free(given);
            return 2;
        }
    }
    for (size_t i = 0; i < ngiven; i++)
        if (vsweep_grid_add(&c->grid, given[i].axis, given[i].text, why, sizeof why)) {
            fprintf(stderr, "sweep: %s\n", why);
            free(given);
            return 2;
        }
    free(given);
    c->operands = argv + optind;
    c->noperands = (size_t)(split - optind);
    if (c->merge) {
        int axes = 0;
        for (int a = 0; a < VSWEEP_AXES; a++)
            axes |= c->grid.n[a] != 0;
        if (c->noperands < 2 || c->nextra || c->emit || axes) {
            fprintf(stderr, "sweep: --merge takes OUT.db and at least one IN.db, and no other"
                            " option\n");
            return 2;
        }
        return 0;
    }
    if (!check_extra(&c->grid, c->extra, c->nextra))
        return 2;
    for (size_t i = 0; i < c->noperands; i++)
        if (vsweep_grid_add(&c->grid, VSWEEP_INPUT, c->operands[i], why, sizeof why)) {
            fprintf(stderr, "sweep: %s\n", why);
            return 2;
        }
    char note[4096];
    if (vsweep_grid_finish(&c->grid, note, sizeof note, why, sizeof why)) {
        fprintf(stderr, "sweep: %s\n", why);
        return 2;
    }
    if (note[0])
        fprintf(stderr, "sweep: note: %s\n", note);
    return 0;
}

/* The program on PATH, or at the path given; 0 when there is none to run. */
static int runnable(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    for (const char *p = path ? path : ""; *p;) {
        size_t len = strcspn(p, ":");
        char full[4096];
        snprintf(full, sizeof full, "%.*s/%s", (int)len, len ? p : ".", prog);
        if (access(full, X_OK) == 0)
            return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

/* --program, else the tool beside this program: its name with "sweep" at the
 * end made the tool's (bin/sweep: bin/replay; vramlab-sweep: vramlab-serve). */
static const char *find_program(const char *given, const char *tool, char *buf, size_t len)
{
    if (given) {
        if (runnable(given))
            return given;
        fprintf(stderr, "sweep: --program %s: no such program to run\n", given);
        return NULL;
    }
    ssize_t n = readlink("/proc/self/exe", buf, len - 16);
    if (n <= 0) {
        fprintf(stderr, "sweep: cannot find the %s beside this program (/proc/self/exe: %s):"
                        " give --program PROGRAM\n", tool, strerror(errno));
        return NULL;
    }
    buf[n] = '\0';
    if (n >= 5 && strcmp(buf + n - 5, "sweep") == 0) {
        snprintf(buf + n - 5, 16, "%s", tool);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    fprintf(stderr, "sweep: no %s beside this program (%s): give --program PROGRAM\n", tool, buf);
    return NULL;
}

/* PATH with "-K" before its ".db" (or at its end), K zero-padded to 4 digits,
 * or as many as n has (at most 6: VSWEEP_MAX_RUNS), so that the names sort
 * in the grid's order; out has room for PATH and 32 bytes. */
static void job_db(const char *path, size_t k, size_t n, char *out, size_t len)
{
    size_t stem = strlen(path);
    if (stem > 3 && strcmp(path + stem - 3, ".db") == 0)
        stem -= 3;
    memcpy(out, path, stem);
    int width = n >= 100000 ? 6 : n >= 10000 ? 5 : 4;
    snprintf(out + stem, len - stem, "-%0*zu.db", width, k);
}

/* One argument as sh reads it back: bare when only safe characters, else in
 * single quotes. */
static void put_sh(FILE *f, const char *arg)
{
    if (*arg && !arg[strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789_@%+=:,./-")]) {
        fputs(arg, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = arg; *p; p++)
        fputs(*p == '\'' ? "'\\''" : (char[2]){*p, 0}, f);
    fputc('\'', f);
}

/* --emit-jobs: every run's command line to c->emit, replaced only when whole. */
static int emit_jobs(const cli *c, const char *program)
{
    const vsweep_grid *g = &c->grid;
    const char **argv = malloc((VSWEEP_ARGV_FIXED + c->nextra) * sizeof *argv);
    size_t dblen = strlen(c->db) + 32;
    char *db = malloc(dblen);
    vtrace_output out = {0};
    char err[1024];
    int to_stdout = strcmp(c->emit, "-") == 0;
    if (!argv || !db || (!to_stdout && vtrace_output_begin(c->emit, &out, err, sizeof err))) {
        fprintf(stderr, "sweep: %s\n", argv && db ? err : "out of memory");
        free(argv), free(db);
        return 1;
    }
    FILE *f = to_stdout ? stdout : fopen(out.write_path, "w");
    if (!f) {
        fprintf(stderr, "sweep: %s: cannot write: %s\n", out.write_path, strerror(errno));
        vtrace_output_abort(&out);
        free(argv), free(db);
        return 1;
    }
    for (size_t k = 0; k < g->npoints; k++) {
        job_db(c->db, k + 1, g->npoints, db, dblen);
        size_t n = vsweep_grid_argv(g, k, program, db, c->extra, c->nextra, argv);
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputc(' ', f);
            put_sh(f, argv[i]);
        }
        fputc('\n', f);
    }
    free(argv);
    int bad = ferror(f);
    if (to_stdout ? fflush(f) != 0 || bad : fclose(f) != 0 || bad) {
        fprintf(stderr, "sweep: %s: write failed: %s\n", to_stdout ? "stdout" : out.write_path,
                strerror(errno));
        if (!to_stdout)
            vtrace_output_abort(&out);
        free(db);
        return 1;
    }
    if (!to_stdout && vtrace_output_commit(&out, err, sizeof err)) {
        fprintf(stderr, "sweep: %s\n", err);
        free(db);
        return 1;
    }
    char shape[512];
    vsweep_grid_shape(g, shape, sizeof shape);
    job_db(c->db, 1, g->npoints, db, dblen);
    fprintf(stderr, "sweep: %zu job(s) (%s) written to %s, each writing its own database (%s,"
                    " ...): read them as one with `report DB...` or `sweep --merge`\n",
            g->npoints, shape, to_stdout ? "stdout" : c->emit, db);
    free(db);
    return 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The local sweep: every run into c->db, c->jobs at once. */
static int run_local(const cli *c, const char *program)
{
    const vsweep_grid *g = &c->grid;
    char err[1024];
    vdb *db = NULL; /* made (or checked) once, before any run opens it */
    vsim_catch_signals(&interrupted);
    if (vdb_open_stop(c->db, &interrupted, &db, err, sizeof err)) {
        if (interrupted) {
            fprintf(stderr, "sweep: stopped by %s while opening %s: nothing was run\n",
                    vsim_signal_name(interrupted), c->db);
            return 128 + interrupted;
        }
        fprintf(stderr, "sweep: %s\n", err);
        return 1;
    }
    vdb_close(db, NULL, 0);
    vsweep_job *jobs = calloc(g->npoints, sizeof *jobs);
    const char **argvs = calloc(g->npoints * (VSWEEP_ARGV_FIXED + c->nextra), sizeof *argvs);
    char *labels = calloc(g->npoints, 512);
    if (!jobs || !argvs || !labels) {
        fprintf(stderr, "sweep: out of memory\n");
        free(jobs), free(argvs), free(labels);
        return 1;
    }
    for (size_t k = 0; k < g->npoints; k++) {
        const char **argv = argvs + k * (VSWEEP_ARGV_FIXED + c->nextra);
        vsweep_grid_argv(g, k, program, c->db, c->extra, c->nextra, argv);
        vsweep_grid_label(g, k, labels + k * 512, 512);
        jobs[k] = (vsweep_job){.argv = (char *const *)argv, .label = labels + k * 512};
    }
    char shape[512];
    vsweep_grid_shape(g, shape, sizeof shape);
    unsigned parallel = c->jobs < g->npoints ? c->jobs : (unsigned)g->npoints;
    fprintf(stderr, "sweep: %zu run(s) (%s), %u at a time, into %s\n", g->npoints, shape,
            parallel, c->db);
    double t0 = now_s();
    vsweep_tally t;
    int rc = vsweep_run(jobs, g->npoints, parallel, &interrupted, stderr, &t);
    free(jobs), free(argvs), free(labels);
    if (interrupted) {
        fprintf(stderr, "sweep: stopped by %s: %zu run(s) stopped (marked \"interrupted\" in %s"
                        " by their %s), %zu not started, %zu ok, %zu failed\n",
                vsim_signal_name(interrupted), t.stopped, c->db, vsweep_tools[g->tool].name,
                t.not_started, t.ok, t.failed);
        return 128 + interrupted;
    }
    char why[128] = "";
    if (t.not_started)
        snprintf(why, sizeof why, ", not started: %s%s",
                 t.usage ? "the " : "a process could not be started",
                 t.usage ? vsweep_tools[g->tool].name : "");
    fprintf(stderr, "sweep: %zu run(s) in %.1f s: %zu ok, %zu failed%s%s; logged to %s\n",
            g->npoints, now_s() - t0, t.ok, t.failed, why,
            t.not_started && t.usage ? " refused its options (exit status 2)" : "", c->db);
    return rc || t.failed || t.not_started ? 1 : 0;
}

static int merge(const cli *c)
{
    char err[2048];
    size_t n = c->noperands - 1;
    int64_t(*ids)[2] = calloc(n, sizeof *ids);
    if (!ids || vdb_merge(c->operands[0], (const char *const *)c->operands + 1, n, ids, err,
                          sizeof err)) {
        fprintf(stderr, "sweep: --merge: %s\n", ids ? err : "out of memory");
        free(ids);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i][0])
            fprintf(stderr, "sweep: %s: runs %lld to %lld of %s\n", c->operands[i + 1],
                    (long long)ids[i][0], (long long)ids[i][1], c->operands[0]);
        else
            fprintf(stderr, "sweep: %s: no run\n", c->operands[i + 1]);
    free(ids);
    return 0;
}

int main(int argc, char **argv)
{
    static cli c;
    int rc = parse_args(argc, argv, &c);
    if (!rc && c.merge) {
        rc = merge(&c);
    } else if (!rc) {
        char buf[4096];
        const char *program = find_program(c.program, vsweep_tools[c.grid.tool].name, buf,
                                           sizeof buf);
        rc = !program ? 2 : c.emit ? emit_jobs(&c, program) : run_local(&c, program);
    }
    vsweep_grid_free(&c.grid);
    return rc < 0 ? 0 : rc;
}
