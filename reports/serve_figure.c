/* serve_figure.c - the closed loop's comparison from the database (serve_figure.h). */
#include "serve_figure.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

/* The parts' names (serve.gp's legend) and definitions (docs/ENGINE_MODEL.md,
 * "The KV ledger", says it at length). */
static const char *const part_name[VREP_LEDGER_PARTS] = {
    "token states", "reserved", "internal waste", "free, unusable", "free, usable"};
static const char *const part_def[VREP_LEDGER_PARTS] = {
    "KV of the tokens already computed",
    "slots that running requests' future tokens will fill (the recorded output length is known)",
    "slots no token will fill (the tail of a request's last block, a doubled, power-of-two or"
    " maximal buffer beyond its true length) plus the KV heap's rounding",
    "free KV bytes in pieces smaller than the next KV allocation the engine asks for:"
    " external fragmentation",
    "the rest of the free KV bytes"};
static const char doc[] = "docs/ENGINE_MODEL.md";
static const char none[] =
    "no serve (closed-loop) runs in this database (serve --db FILE writes them,"
    " docs/ENGINE_MODEL.md)";

static void text_col(sqlite3_stmt *st, int c, char *buf, size_t len)
{
    const char *t = (const char *)sqlite3_column_text(st, c);
    snprintf(buf, len, "%s", t ? t : "?");
}

/* Keeps in `dst` the value (cut to len - 1 bytes) every run shares, else `several`. */
static void same_or(char *dst, size_t len, int first, const char *value, const char *several)
{
    size_t n = strnlen(value, len - 1);
    if (!first && (strlen(dst) != n || memcmp(dst, value, n) != 0)) {
        value = several;
        n = strnlen(value, len - 1);
    }
    memcpy(dst, value, n);
    dst[n] = '\0';
}

static vram_status write_dat(const char *datadir, const vrep_serve *sv, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/serve.dat", datadir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    fputs("# \"style policy #run\" tokens reserved waste free_unusable free_usable tokens_per_s\n",
          f);
    for (size_t i = 0; i < sv->n; i++) {
        const vrep_serve_run *r = &sv->run[i];
        fprintf(f, "\"%s %s #%lld\"", r->style, r->policy, r->id);
        for (int k = 0; k < VREP_LEDGER_PARTS; k++)
            fprintf(f, " %.6f", r->share[k]);
        fprintf(f, " %.3f\n", r->tokens_per_s);
    }
    const int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    return VRAM_OK;
}

vram_status vrep_serve_load(vrep_db *db, const char *share, const char *datadir, vrep_serve *sv,
                            vrep_params *p, char *why, size_t whylen, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    vram_status res = vrep_sql_prepare(db, share, "serve", &st, err, errlen);
    if (res)
        return res;
    size_t cap = 0;
    int rc;
    char trace[4096], model[sizeof sv->model];
    while (!res && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sv->n == cap) {
            vrep_serve_run *grown = realloc(sv->run, (cap = cap ? 2 * cap : 16) * sizeof *grown);
            if (!grown) {
                snprintf(err, errlen, "out of host memory");
                res = VRAM_ENOHOST;
                break;
            }
            sv->run = grown;
        }
        vrep_serve_run *r = &sv->run[sv->n];
        r->id = sqlite3_column_int64(st, 0);
        text_col(st, 1, r->style, sizeof r->style);
        text_col(st, 2, r->policy, sizeof r->policy);
        text_col(st, 3, trace, sizeof trace);
        text_col(st, 4, model, sizeof model);
        for (int k = 0; k < VREP_LEDGER_PARTS; k++)
            r->share[k] = sqlite3_column_double(st, 5 + k);
        r->tokens_per_s = sqlite3_column_double(st, 5 + VREP_LEDGER_PARTS);
        const char *base = strrchr(trace, '/');
        same_or(sv->workload, sizeof sv->workload, !sv->n, base ? base + 1 : trace,
                "several workloads");
        same_or(sv->model, sizeof sv->model, !sv->n, model, "several models");
        sv->n++;
    }
    if (!res && rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: reading the serve runs: %s", vrep_db_path(db),
                 sqlite3_errmsg(sqlite3_db_handle(st)));
        res = VRAM_EIO;
    }
    sqlite3_finalize(st);
    if (res)
        return res;
    if (!sv->n) {
        snprintf(why, whylen, "%s", none);
        return VRAM_OK;
    }
    res = write_dat(datadir, sv, err, errlen);
    char data[4200];
    snprintf(data, sizeof data, "%s/serve.dat", datadir);
    vrep_param_str(p, "data", data);
    vrep_param_str(p, "title", sv->workload);
    vrep_param_str(p, "model", sv->model);
    return res;
}

void vrep_serve_free(vrep_serve *sv)
{
    free(sv->run);
    sv->run = NULL;
    sv->n = 0;
}

void vrep_serve_md(FILE *f, const vrep_serve *sv)
{
    if (!sv->n) {
        fprintf(f, "None: %s.\n", none);
        return;
    }
    fprintf(f, "The KV region of each serve run of %s, split by the KV ledger (%s), each step"
               " weighted by its modelled duration; throughput is generated tokens per modelled"
               " second.\n\n| run | KV style | policy |", sv->workload, doc);
    for (int k = 0; k < VREP_LEDGER_PARTS; k++)
        fprintf(f, " %s |", part_name[k]);
    fputs(" tokens/s |\n|---:|---|---|", f);
    for (int k = 0; k <= VREP_LEDGER_PARTS; k++)
        fputs("---:|", f);
    fputc('\n', f);
    for (size_t i = 0; i < sv->n; i++) {
        const vrep_serve_run *r = &sv->run[i];
        fprintf(f, "| %lld | %s | %s |", r->id, r->style, r->policy);
        for (int k = 0; k < VREP_LEDGER_PARTS; k++)
            fprintf(f, " %.3f |", r->share[k]);
        fprintf(f, " %.1f |\n", r->tokens_per_s);
    }
    fputc('\n', f);
    for (int k = 0; k < VREP_LEDGER_PARTS; k++)
        fprintf(f, "- **%s**: %s.\n", part_name[k], part_def[k]);
}

void vrep_serve_html(FILE *f, const vrep_serve *sv)
{
    if (!sv->n) {
        fputs("<p id=\"serve-none\">None: ", f);
        vrep_html_text(f, none);
        fputs(".</p>\n", f);
        return;
    }
    fputs("<p>The KV region of each serve run of ", f);
    vrep_html_text(f, sv->workload);
    fprintf(f, ", split by the KV ledger (<a href=\"%s\">%s</a>), each step weighted by its"
               " modelled duration; throughput is generated tokens per modelled second (the"
               " figure <a href=\"#serve\">below</a>).</p>\n<table id=\"serve-runs\"><tr>"
               "<th>run</th><th>KV style</th><th>policy</th>", doc, doc);
    for (int k = 0; k < VREP_LEDGER_PARTS; k++)
        fprintf(f, "<th>%s</th>", part_name[k]);
    fputs("<th>tokens/s</th></tr>\n", f);
    for (size_t i = 0; i < sv->n; i++) {
        const vrep_serve_run *r = &sv->run[i];
        fprintf(f, "<tr><td class=\"num\">%lld</td><td>", r->id);
        vrep_html_text(f, r->style);
        fputs("</td><td>", f);
        vrep_html_text(f, r->policy);
        fputs("</td>", f);
        for (int k = 0; k < VREP_LEDGER_PARTS; k++)
            fprintf(f, "<td class=\"num\">%.3f</td>", r->share[k]);
        fprintf(f, "<td class=\"num\">%.1f</td></tr>\n", r->tokens_per_s);
    }
    fputs("</table>\n<dl>\n", f);
    for (int k = 0; k < VREP_LEDGER_PARTS; k++) {
        fprintf(f, "<dt>%s</dt><dd>", part_name[k]);
        vrep_html_text(f, part_def[k]);
        fputs("</dd>\n", f);
    }
    fputs("</dl>\n", f);
}
