/* select.c - which runs a report shows, under which labels, paired how. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Appends the runs `ids` of `db` as series tagged PREFIX+id. */
static vram_status add_series(vrep_report *r, vrep_db *db, char prefix, const int64_t *ids,
                              size_t k)
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
        if (!vrep_run_finished(&s->run))
            fprintf(stderr,
                    "report: warning: %s: run %lld (%s) is not finished (in progress, or killed"
                    " before it was marked): its summary columns are n/a and its figures hold"
                    " the rows it wrote before\n",
                    vrep_db_path(db), (long long)ids[i], s->run.policy);
        r->n++;
    }
    return VRAM_OK;
}

/* Legend labels: the policy, "#ID" added when a policy repeats within one
 * database, "/before" or "/after" in a comparison. Blanks become '_'. */
static void label_series(vrep_report *r)
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

vram_status vrep_select(vrep_report *r)
{
    int64_t *ids = NULL;
    size_t k = 0;
    const char *list = r->c.compare_runs ? r->c.compare_runs : r->c.runs;
    const char *opt = r->c.compare_runs ? "--compare-runs" : "--runs";
    vram_status st = vrep_runs_select(r->db, r->paths.share, opt, list, &ids, &k, r->err,
                                      sizeof r->err);
    if (!st && r->c.compare_runs && k != 2) {
        snprintf(r->err, sizeof r->err, "--compare-runs: \"%s\" must name two runs, A,B",
                 r->c.compare_runs);
        st = VRAM_EINVAL;
    }
    r->bad_usage = st == VRAM_EINVAL;
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
            st = vrep_runs_select(r->base, r->paths.share, NULL, NULL, &ids, &k, r->err, sizeof r->err);
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
        r->pairs[r->npairs++] = (vrep_pair){.before = &r->s[0], .after = &r->s[1]};
    } else if (r->c.compare) {
        /* Policy by policy: each after-run with the first base run of its policy. */
        for (size_t i = 0; i < na; i++)
            for (size_t j = na; j < r->n; j++)
                if (strcmp(r->s[i].run.policy, r->s[j].run.policy) == 0) {
                    r->pairs[r->npairs++] = (vrep_pair){.before = &r->s[j], .after = &r->s[i]};
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
