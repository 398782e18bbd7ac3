/* cli.c - the report tool's command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listing.h"
#include "report.h"
#include "vramlab_version.h"

#ifndef VREPORT_DIR
#define VREPORT_DIR "."
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: report RESULTS.db... [options]\n"
            "Plots and summarises replay runs (sim/results/schema.sql) with gnuplot into one directory:\n"
            "index.html (all of it, readable offline), summary.md, PNG and SVG figures, data/.\n"
            "Several databases (a sweep's jobs, docs/SWEEPS.md) are read as one: their runs are\n"
            "copied into a temporary database, numbered in the order given (the numbers of each\n"
            "database's runs are said on stderr).\n"
            "Each closed-loop run of serve that ended ok (docs/ENGINE_MODEL.md) is a bar of the\n"
            "serve figure and a row of its table: the KV ledger's time-weighted shares and the\n"
            "generated tokens per modelled second.\n"
            "Runs with a prefix cache (replay --prefix-cache-blocks N --prefix-policy NAME over a\n"
            "trace with prefix events; sweep varies both) draw the prefix figure: its block hit\n"
            "ratio against N, a curve per prefix policy and a panel per trace, beside textbook\n"
            "LRU, Belady and an unlimited cache over the same lookups (the median of the runs at\n"
            "each point; docs/METRICS.md). A database without such runs has no prefix figure.\n"
            "\n"
            "  -o DIR               output directory (default report/)\n"
            "  --runs ID,ID...      the runs to report (default: the newest run of each policy\n"
            "                       over the trace of the newest run)\n"
            "  --at EVENT           draw the heap map after this trace event (default: where\n"
            "                       the trace's live bytes peak; more maps are drawn at\n"
            "                       each run's first OOM and just before its first forced\n"
            "                       preemption, when a run had one)\n"
            "  --no-heapmap         no heap maps (they replay each run again): a trace that\n"
            "                       cannot be found is then no error\n"
            "  --list               list the database's runs on stdout (id, policy, status,\n"
            "                       capacity, peak footprint, events, trace) instead of a report\n"
            "  --json, --csv        with --list: every column of the runs table (sim/results/schema.sql)\n"
            "                       under its own name, as JSON (an array of objects, null for\n"
            "                       NULL) or RFC 4180 CSV (a header line, NULL an empty field)\n"
            "  --compare BASE.db    compare with BASE.db's default runs, policy by policy: BASE\n"
            "                       is 'before', RESULTS.db 'after'\n"
            "  --compare-runs A,B   compare run A (before) with run B (after) of RESULTS.db\n"
            "  --share DIR          where sql/ and the .gp scripts are (default $VREPORT_DIR,\n"
            "                       else ../share/vramlab/reports beside this program when\n"
            "                       there (installed), else the source tree it was built from)\n"
            "  --help               this text\n"
            "  --version            the version and git commit\n"
            "\n"
            "The heap maps replay each run's trace again up to the event. The trace is looked\n"
            "for at the path replay was given (from here), at its absolute path, then at its\n"
            "path from the database's directory (both moved), each with the CRC-32 recorded;\n"
            "a trace not found is a warning at the top of the page and exit status 1 (the\n"
            "report is written without its heap maps). gnuplot: $VREPORT_GNUPLOT or gnuplot\n"
            "on PATH (Debian: apt-get install gnuplot-nox). The SVG figures are interactive:\n"
            "hover for values, click a legend entry to hide its curve.\n"
            "Runs never marked at their end (in progress, or killed) are left out of the default\n"
            "selection, and named.\n"
            "Exit status: 0 report written (without figures, and a warning, when gnuplot is\n"
            "missing), 1 a database, run, trace or file error (or no finished run; or a\n"
            "trace not found: the report is written), 2 bad\n"
            "usage (including a malformed --runs or --compare-runs list), 128+N stopped by\n"
            "signal N (SIGINT 130, SIGTERM 143): index.html and summary.md are left as they\n"
            "were.\n");
}

int vrep_cli_parse(int argc, char **argv, vrep_cli *c)
{
    enum { O_RUNS = 256, O_AT, O_COMPARE, O_COMPARE_RUNS, O_SHARE, O_HELP, O_VERSION,
           O_NO_HEAPMAP, O_LIST, O_JSON, O_CSV };
    static const struct option opts[] = {
        {"runs", required_argument, 0, O_RUNS},
        {"at", required_argument, 0, O_AT},
        {"compare", required_argument, 0, O_COMPARE},
        {"compare-runs", required_argument, 0, O_COMPARE_RUNS},
        {"share", required_argument, 0, O_SHARE},
        {"no-heapmap", no_argument, 0, O_NO_HEAPMAP},
        {"list", no_argument, 0, O_LIST},
        {"json", no_argument, 0, O_JSON},
        {"csv", no_argument, 0, O_CSV},
        {"help", no_argument, 0, O_HELP},
        {"version", no_argument, 0, O_VERSION},
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
        case O_NO_HEAPMAP: c->no_heapmap = 1; break;
        case O_LIST: c->list = 1; break;
        case O_JSON:
        case O_CSV:
            if (c->list_format) {
                fprintf(stderr, "report: --json and --csv: choose one\n");
                return 2;
            }
            c->list_format = o == O_JSON ? VREP_LIST_JSON : VREP_LIST_CSV;
            break;
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
        case O_VERSION: vramlab_print_version(argv[0]); return -1;
        default:
            fprintf(stderr, "report: unknown or incomplete option \"%s\" (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind == argc) {
        fprintf(stderr, "report: give at least one results database (see --help)\n");
        return 2;
    }
    c->db = argv[optind];
    c->dbs = (const char *const *)argv + optind;
    c->ndb = (size_t)(argc - optind);
    if (c->list_format && !c->list) {
        fprintf(stderr, "report: --json and --csv print the --list listing: add --list\n");
        return 2;
    }
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

const char *vrep_default_share(char *buf, size_t len)
{
    /* Installed (bin/vramlab-report): ../share/vramlab/reports beside this program when it
     * is there, even where the source directory still exists; else the source directory
     * (the build tree's bin/report). */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(buf, len, "%s/../share/vramlab/reports", exe);
        char probe[4300];
        snprintf(probe, sizeof probe, "%s/sql/summary.sql", buf);
        if (access(probe, R_OK) == 0)
            return buf;
    }
    if (access(VREPORT_DIR "/sql/summary.sql", R_OK) == 0 || n <= 0)
        return VREPORT_DIR;
    return buf;
}
