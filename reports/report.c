/* report - gnuplot reports over the results database that `replay` writes.
 *
 *   report RESULTS.db [-o DIR] [--runs ID,ID...] [--at EVENT]
 *          [--compare BASE.db | --compare-runs A,B] [--share DIR]
 *
 * Writes DIR (default report/): index.html (everything, images embedded),
 * summary.md, footprint/frag/latency/heapmap/evictions .png and .svg, the
 * plotted data in DIR/data (NAME.dat) and gnuplot messages in DIR/gnuplot.log.
 *
 * Exit status: 0 the report was written (also when gnuplot is missing: the
 * data and summaries are written, the figures are not, and a warning says how
 * to install it); 1 the database, a run, the trace or a file failed (message
 * names it); 2 bad usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heapmap.h"
#include "html.h"
#include "plot.h"
#include "replay.h"
#include "report.h"
#include "summary.h"

#ifndef VREPORT_DIR
#define VREPORT_DIR "."
#endif

typedef struct cli {
    const char *db, *out, *runs, *compare, *compare_runs, *share, *gnuplot;
    uint64_t at;
} cli;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: report RESULTS.db [options]\n"
            "Plots and summarises replay runs (sim/schema.sql) with gnuplot into one directory:\n"
            "index.html (all of it, readable offline), summary.md, PNG and SVG figures, data/.\n"
            "\n"
            "  -o DIR               output directory (default report/)\n"
            "  --runs ID,ID...      the runs to report (default: the newest run of each policy\n"
            "                       over the trace of the newest run)\n"
            "  --at EVENT           draw the heap maps after this trace event (default: at each\n"
            "                       run's peak footprint as sampled)\n"
            "  --compare BASE.db    compare with BASE.db's runs, policy by policy: BASE is\n"
            "                       'before', RESULTS.db 'after'\n"
            "  --compare-runs A,B   compare run A (before) with run B (after) of RESULTS.db\n"
            "  --share DIR          where sql/ and the .gp scripts are (default $VREPORT_DIR,\n"
            "                       else %s, else ../share/vramlab/reports\n"
            "                       beside this program)\n"
            "  --help               this text\n"
            "\n"
            "The heap maps replay each run's trace again up to the event: run the report where\n"
            "the trace path recorded in the database resolves. gnuplot: $VREPORT_GNUPLOT or\n"
            "gnuplot on PATH (Debian: apt-get install gnuplot-nox).\n"
            "Exit status: 0 report written (without figures, and a warning, when gnuplot is\n"
            "missing), 1 a database, run, trace or file error, 2 bad usage.\n",
            VREPORT_DIR);
}

/* 0 ok, 2 usage error (printed), -1 --help printed. */
static int parse_args(int argc, char **argv, cli *c)
{
    enum { O_RUNS = 256, O_AT, O_COMPARE, O_COMPARE_RUNS, O_SHARE, O_HELP };
    static const struct option opts[] = {
        {"runs", required_argument, 0, O_RUNS},
        {"at", required_argument, 0, O_AT},
        {"compare", required_argument, 0, O_COMPARE},
        {"compare-runs", required_argument, 0, O_COMPARE_RUNS},
        {"share", required_argument, 0, O_SHARE},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    memset(c, 0, sizeof *c);
    c->out = "report";
    c->share = getenv("VREPORT_DIR") && *getenv("VREPORT_DIR") ? getenv("VREPORT_DIR") : NULL;
    c->gnuplot = getenv("VREPORT_GNUPLOT") ? getenv("VREPORT_GNUPLOT") : "gnuplot";
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'o': c->out = optarg; break;
        case O_RUNS: c->runs = optarg; break;
        case O_COMPARE: c->compare = optarg; break;
        case O_COMPARE_RUNS: c->compare_runs = optarg; break;
        case O_SHARE: c->share = optarg; break;
        case O_AT: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v == 0) {
                fprintf(stderr, "report: --at: \"%s\" is not an event number (1, 2, ...)\n",
                        optarg);
                return 2;
            }
            c->at = v;
            break;
        }
        case 'h':
        case O_HELP: usage(stdout); return -1;
        default:
            fprintf(stderr, "report: unknown or incomplete option \"%s\" (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "report: give exactly one results database (see --help)\n");
        return 2;
    }
    c->db = argv[optind];
    if (c->compare && c->compare_runs) {
        fprintf(stderr, "report: --compare and --compare-runs exclude each other\n");
        return 2;
    }
    if (c->compare_runs && c->runs) {
        fprintf(stderr, "report: --compare-runs A,B already names the runs; drop --runs\n");
        return 2;
    }
    return 0;
}

/* The share directory when neither --share nor $VREPORT_DIR gave one: the
 * source directory the tool was built from while it exists, else the
 * installed ../share/vramlab/reports beside the executable. */
static const char *default_share(char *buf, size_t len)
{
    if (access(VREPORT_DIR "/sql/summary.sql", R_OK) == 0)
        return VREPORT_DIR;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return VREPORT_DIR;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, len, "%s/../share/vramlab/reports", exe);
    return buf;
}

/* mkdir -p */
static int make_dir(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char was = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create the directory: %s", buf, strerror(errno));
            return 0;
        }
        *p = was;
        if (was == '\0')
            return 1;
    }
}

typedef struct report {
    cli c;
    vrep_paths paths;
    vrep_db *db, *base;
    vrep_series *s;
    size_t n;
    vrep_pair *pairs;
    size_t npairs;
    char err[8192];
} report;

/* Appends the runs `ids` of `db` as series tagged PREFIX+id. */
static vram_status add_series(report *r, vrep_db *db, char prefix, const int64_t *ids, size_t k)
{
    vrep_series *more = realloc(r->s, (r->n + k) * sizeof *more);
    if (!more) {
        snprintf(r->err, sizeof r->err, "out of host memory");
        return VRAM_ENOHOST;
    }
    r->s = more;
    for (size_t i = 0; i < k; i++) {
        vrep_series *s = &r->s[r->n];
        memset(s, 0, sizeof *s);
        s->db = db;
        vram_status st = vrep_run_load(db, r->paths.share, ids[i], &s->run, r->err, sizeof r->err);
        if (st)
            return st;
        snprintf(s->tag, sizeof s->tag, "%c%lld", prefix, (long long)ids[i]);
        r->n++;
    }
    return VRAM_OK;
}

/* Legend labels: the policy, "#ID" added when a policy repeats within one
 * database, "/before" or "/after" in a comparison. Blanks become '_'. */
static void label_series(report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        vrep_series *s = &r->s[i];
        int repeats = 0;
        for (size_t j = 0; j < r->n; j++)
            repeats += r->s[j].db == s->db && strcmp(r->s[j].run.policy, s->run.policy) == 0;
        const char *side = "";
        if (r->npairs)
            side = s->db == r->base || (r->c.compare_runs && i == 0) ? "/before" : "/after";
        char id[32] = "";
        if (repeats > 1)
            snprintf(id, sizeof id, "#%lld", (long long)s->run.id);
        snprintf(s->label, sizeof s->label, "%s%s%s", s->run.policy, id, side);
        for (char *p = s->label; *p; p++)
            if (*p == ' ' || *p == '\t')
                *p = '_';
    }
}

static vram_status select_series(report *r)
{
    int64_t *ids = NULL;
    size_t k = 0;
    const char *list = r->c.compare_runs ? r->c.compare_runs : r->c.runs;
    vram_status st = vrep_runs_select(r->db, r->paths.share, list, &ids, &k, r->err,
                                      sizeof r->err);
    if (!st && r->c.compare_runs && k != 2) {
        snprintf(r->err, sizeof r->err, "--compare-runs: \"%s\" must name two runs, A,B",
                 r->c.compare_runs);
        st = VRAM_EINVAL;
    }
    if (!st)
        st = add_series(r, r->db, 'a', ids, k);
    free(ids);
    ids = NULL;
    if (st)
        return st;
    size_t na = r->n;
    if (r->c.compare) {
        st = vrep_db_open(r->c.compare, &r->base, r->err, sizeof r->err);
        if (!st)
            st = vrep_runs_select(r->base, r->paths.share, NULL, &ids, &k, r->err, sizeof r->err);
        if (!st)
            st = add_series(r, r->base, 'b', ids, k);
        free(ids);
        if (st)
            return st;
    }
    r->pairs = calloc(r->n, sizeof *r->pairs);
    if (!r->pairs) {
        snprintf(r->err, sizeof r->err, "out of host memory");
        return VRAM_ENOHOST;
    }
    if (r->c.compare_runs) {
        r->pairs[r->npairs++] = (vrep_pair){&r->s[0], &r->s[1]};
    } else if (r->c.compare) {
        /* Policy by policy: each after-run with the first base run of its policy. */
        for (size_t i = 0; i < na; i++)
            for (size_t j = na; j < r->n; j++)
                if (strcmp(r->s[i].run.policy, r->s[j].run.policy) == 0) {
                    r->pairs[r->npairs++] = (vrep_pair){&r->s[j], &r->s[i]};
                    break;
                }
        if (!r->npairs) {
            snprintf(r->err, sizeof r->err, "--compare %s: no policy in common with %s",
                     r->c.compare, r->c.db);
            return VRAM_ENOTFOUND;
        }
    }
    label_series(r);
    for (size_t i = 0; i < r->n && r->c.at; i++) {
        if (r->s[i].run.events >= 0 && r->c.at > (uint64_t)r->s[i].run.events) {
            snprintf(r->err, sizeof r->err, "--at %llu: run %lld (%s) has %lld events",
                     (unsigned long long)r->c.at, (long long)r->s[i].run.id, r->s[i].run.policy,
                     (long long)r->s[i].run.events);
            return VRAM_EINVAL;
        }
    }
    return VRAM_OK;
}

/* What list_of gives for each series. */
typedef enum list_item { L_TAG, L_LABEL, L_BOUND, L_BELADY_EV, L_BELADY_BYTES } list_item;

/* The blank-separated `what` of the series in `pick` (a gnuplot word list);
 * unknown numbers are 0 for the bound and -1 for Belady, as the scripts read. */
static void list_of(const report *r, const int *pick, list_item what, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        if (pick && !pick[i])
            continue;
        const vrep_run *run = &r->s[i].run;
        char word[96];
        switch (what) {
        case L_TAG:
            snprintf(word, sizeof word, "%s", r->s[i].tag);
            break;
        case L_LABEL:
            snprintf(word, sizeof word, "%s", r->s[i].label);
            break;
        case L_BOUND:
            snprintf(word, sizeof word, "%lld",
                     (long long)(run->peak_live > 0 ? run->peak_live : 0));
            break;
        case L_BELADY_EV:
            snprintf(word, sizeof word, "%lld", (long long)run->belady_evictions);
            break;
        case L_BELADY_BYTES:
            snprintf(word, sizeof word, "%lld", (long long)run->belady_bytes_rematerialised);
            break;
        }
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? " " : "", word);
    }
}

enum { FIG_FOOTPRINT, FIG_FRAG, FIG_LATENCY, FIG_HEAPMAP, FIG_EVICTIONS, FIG_COUNT };

typedef struct plots {
    vrep_figure fig[FIG_COUNT];
    vrep_ops ops;
    int strips;
    char yt[8192];
    char caption[512];
    int no_gnuplot;
} plots;

/* Draws one figure as PNG and SVG; a missing gnuplot is remembered, not fatal. */
static vram_status draw(report *r, plots *pl, int k, vrep_params *prm)
{
    vrep_figure *fig = &pl->fig[k];
    if (fig->why[0])
        return VRAM_OK; /* nothing to draw, said why */
    if (pl->no_gnuplot) {
        snprintf(fig->why, sizeof fig->why, "gnuplot is not installed");
        return VRAM_OK;
    }
    char script[4200], log[4200];
    snprintf(script, sizeof script, "%s/%s.gp", r->paths.share, fig->stem);
    snprintf(log, sizeof log, "%s/gnuplot.log", r->paths.out);
    static const char *const terms[] = {"png", "svg"};
    for (int t = 0; t < 2; t++) {
        vrep_params p = *prm;
        char out[4200];
        snprintf(out, sizeof out, "%s/%s.%s", r->paths.out, fig->stem, terms[t]);
        vrep_param_str(&p, "term", terms[t]);
        vrep_param_str(&p, "out", out);
        vram_status st = vrep_plot(r->c.gnuplot, script, &p, log, r->err, sizeof r->err);
        if (st == VRAM_ENOTFOUND) {
            fprintf(stderr, "report: warning: %s; figures are not drawn (data and summaries are"
                            " written). Install gnuplot: apt-get install gnuplot-nox\n", r->err);
            pl->no_gnuplot = 1;
            snprintf(fig->why, sizeof fig->why, "gnuplot is not installed");
            return VRAM_OK;
        }
        if (st)
            return st;
    }
    fig->made = 1;
    return VRAM_OK;
}

/* The unit of byte axes: the largest that leaves the largest device >= 4. */
static const char *unit_of(const report *r)
{
    int64_t most = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->s[i].run.capacity > most)
            most = r->s[i].run.capacity;
    return most >= (4ll << 30) ? "GiB" : most >= (4ll << 20) ? "MiB" : "KiB";
}

/* Removes OUT/STEM.png and .svg of a figure not drawn this time (no stale images). */
static void remove_stale(const report *r, const vrep_figure *fig)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.png", r->paths.out, fig->stem);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.svg", r->paths.out, fig->stem);
    unlink(path);
}

static vram_status draw_all(report *r, plots *pl)
{
    int *with_samples = calloc(r->n, sizeof *with_samples);
    int *with_ops = calloc(r->n, sizeof *with_ops);
    char *a = malloc(4096), *b = malloc(4096);
    vrep_params *base = malloc(sizeof *base), *p = malloc(sizeof *p);
    vram_status st = VRAM_OK;
    if (!with_samples || !with_ops || !a || !b || !base || !p) {
        snprintf(r->err, sizeof r->err, "out of host memory");
        st = VRAM_ENOHOST;
        goto out;
    }
    int any_samples = 0, exact = 1;
    for (size_t i = 0; i < r->n; i++) {
        with_samples[i] = r->s[i].run.samples > 0;
        with_ops[i] = r->s[i].ops != 0;
        any_samples |= with_samples[i];
        exact &= r->s[i].run.belady_exact == 1;
    }
    char log[4200];
    snprintf(log, sizeof log, "%s/gnuplot.log", r->paths.out);
    unlink(log); /* this report's messages only */
    memset(base, 0, sizeof *base);
    vrep_param_str(base, "gpdir", r->paths.share);
    vrep_param_str(base, "unit", unit_of(r));
    vrep_param_str(base, "datadir", r->paths.data);
    if (!any_samples) {
        for (int k = 0; k < FIG_COUNT; k++)
            if (k != FIG_LATENCY)
                snprintf(pl->fig[k].why, sizeof pl->fig[k].why,
                         "no run has samples (replay with --sample-every N > 0)");
    } else if (!pl->strips) {
        snprintf(pl->fig[FIG_HEAPMAP].why, sizeof pl->fig[FIG_HEAPMAP].why,
                 "no run could be replayed to the event (see the runs table)");
    }
    if (!pl->ops)
        snprintf(pl->fig[FIG_LATENCY].why, sizeof pl->fig[FIG_LATENCY].why,
                 "no run has latency data");

    *p = *base;
    list_of(r, with_samples, L_TAG, a, 4096);
    vrep_param_str(p, "tags", a);
    list_of(r, with_samples, L_LABEL, a, 4096);
    vrep_param_str(p, "titles", a);
    list_of(r, with_samples, L_BOUND, b, 4096);
    vrep_param_str(p, "bounds", b);
    st = draw(r, pl, FIG_FOOTPRINT, p);
    if (!st)
        st = draw(r, pl, FIG_FRAG, p);
    if (!st) {
        list_of(r, with_samples, L_BELADY_EV, a, 4096);
        vrep_param_str(p, "belady_ev", a);
        list_of(r, with_samples, L_BELADY_BYTES, a, 4096);
        vrep_param_str(p, "belady_bytes", a);
        vrep_param_str(p, "belady_what", exact ? "optimum" : "reference (mixed sizes)");
        st = draw(r, pl, FIG_EVICTIONS, p);
    }
    if (!st) {
        *p = *base;
        list_of(r, with_ops, L_TAG, a, 4096);
        vrep_param_str(p, "tags", a);
        list_of(r, with_ops, L_LABEL, a, 4096);
        vrep_param_str(p, "titles", a);
        b[0] = '\0';
        for (int k = 0; k < VREPLAY_OP_COUNT; k++)
            if (pl->ops & (1u << k)) {
                size_t used = strlen(b);
                snprintf(b + used, 4096 - used, "%s%s", used ? " " : "",
                         vreplay_op_name((vreplay_op)k));
            }
        vrep_param_str(p, "ops", b);
        st = draw(r, pl, FIG_LATENCY, p);
    }
    if (!st) {
        *p = *base;
        vrep_param_str(p, "tags", "");
        vrep_param_str(p, "titles", "");
        vrep_param_num(p, "strips", pl->strips);
        vrep_param_str(p, "yt", pl->yt);
        vrep_param_str(p, "caption", pl->caption);
        st = draw(r, pl, FIG_HEAPMAP, p);
    }
    for (int k = 0; k < FIG_COUNT && !st; k++)
        if (!pl->fig[k].made)
            remove_stale(r, &pl->fig[k]);
out:
    free(with_samples);
    free(with_ops);
    free(a);
    free(b);
    free(base);
    free(p);
    return st;
}

static vram_status write_summary_md(report *r, const plots *pl, const char *title)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.md", r->paths.out);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(r->err, sizeof r->err, "%s: cannot write: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    fprintf(f, "# %s\n\n", title);
    vrep_summary_md(f, r->s, r->n);
    fputs("\nFootprint / lower bound: peak footprint over the trace's peak live bytes. Latencies:"
          " measured per call, histogram bucket upper bounds (<= 6.25% high).\n", f);
    if (r->npairs) {
        fputs("\n## Comparison\n\n", f);
        vrep_compare_md(f, r->pairs, r->npairs);
        fprintf(f, "\nMarked worse: any increase; latencies more than %.0f%% higher.\n",
                100 * VREP_WORSE_LATENCY);
    }
    fputs("\n## Runs\n\n", f);
    for (size_t i = 0; i < r->n; i++) {
        const vrep_series *s = &r->s[i];
        fprintf(f, "- %s: %s run %lld, trace %s (crc32 %s), %s backend; heap map: %s\n",
                s->label, vrep_db_path(s->db), (long long)s->run.id, s->run.trace,
                s->run.crc32, s->run.backend, s->heap_note);
    }
    fputs("\n## Figures\n\n", f);
    for (int k = 0; k < FIG_COUNT; k++) {
        const vrep_figure *g = &pl->fig[k];
        if (g->made)
            fprintf(f, "- ![%s](%s.png) ([SVG](%s.svg))\n", g->caption, g->stem, g->stem);
        else
            fprintf(f, "- %s: not drawn: %s\n", g->caption, g->why);
    }
    if (fclose(f) != 0) {
        snprintf(r->err, sizeof r->err, "%s: write failed: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    return VRAM_OK;
}

static vram_status run_report(report *r, plots *pl)
{
    vram_status st = vrep_db_open(r->c.db, &r->db, r->err, sizeof r->err);
    if (!st)
        st = select_series(r);
    if (!st && !make_dir(r->paths.data, r->err, sizeof r->err))
        st = VRAM_EIO;
    for (size_t i = 0; i < r->n && !st; i++) {
        st = vrep_export(&r->paths, &r->s[i], r->err, sizeof r->err);
        pl->ops |= r->s[i].ops;
    }
    for (size_t i = 0; i < r->n && !st; i++)
        st = vrep_export_missing_ops(&r->paths, &r->s[i], pl->ops, r->err, sizeof r->err);
    if (!st)
        st = vrep_heapmap(&r->paths, r->s, r->n, r->c.at, pl->yt, sizeof pl->yt, &pl->strips,
                          r->err, sizeof r->err);
    if (st)
        return st;
    if (r->c.at)
        snprintf(pl->caption, sizeof pl->caption, "Heap map after event %llu",
                 (unsigned long long)r->c.at);
    else
        snprintf(pl->caption, sizeof pl->caption,
                 "Heap map at each run's peak footprint (as sampled; events in the runs table)");
    static const char *const stems[FIG_COUNT] = {"footprint", "frag", "latency", "heapmap",
                                                 "evictions"};
    static const char *const captions[FIG_COUNT] = {
        "Footprint and live bytes over the trace, with the lower bound (peak live bytes)",
        "Fragmentation: external ratio, internal waste, free blocks, largest free block",
        "Op latency per op kind: CDF on a log scale",
        "Heap map: the address space, coloured by the kind of buffer (or free)",
        "Evictions and bytes re-materialised over the trace against Belady"};
    for (int k = 0; k < FIG_COUNT; k++) {
        pl->fig[k].stem = stems[k];
        pl->fig[k].caption = k == FIG_HEAPMAP ? pl->caption : captions[k];
    }
    st = draw_all(r, pl);
    if (st)
        return st;
    const char *trace = strrchr(r->s[0].run.trace, '/');
    char title[1200];
    snprintf(title, sizeof title, "vramlab report: %s (%s)",
             trace ? trace + 1 : r->s[0].run.trace, r->c.db);
    st = write_summary_md(r, pl, title);
    if (st)
        return st;
    vrep_page page = {.title = title, .s = r->s, .n = r->n, .pairs = r->pairs,
                      .npairs = r->npairs, .figs = pl->fig, .nfigs = FIG_COUNT};
    return vrep_index_html(&r->paths, &page, r->err, sizeof r->err);
}

int main(int argc, char **argv)
{
    report *r = calloc(1, sizeof *r);
    plots *pl = calloc(1, sizeof *pl);
    if (!r || !pl) {
        fprintf(stderr, "report: out of host memory\n");
        return 1;
    }
    char share[4200];
    int rc = parse_args(argc, argv, &r->c);
    if (rc == 0) {
        r->paths.share = r->c.share ? r->c.share : default_share(share, sizeof share);
        r->paths.out = r->c.out;
        snprintf(r->paths.data, sizeof r->paths.data, "%s/data", r->c.out);
        if (run_report(r, pl)) {
            fprintf(stderr, "report: %s\n", r->err);
            rc = 1;
        } else {
            printf("report: %zu run(s) -> %s/index.html, %s/summary.md\n", r->n, r->c.out,
                   r->c.out);
        }
    }
    vrep_db_close(r->db);
    vrep_db_close(r->base);
    free(r->s);
    free(r->pairs);
    free(r);
    free(pl);
    return rc < 0 ? 0 : rc;
}
