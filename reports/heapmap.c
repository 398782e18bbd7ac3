/* heapmap.c - re-runs each replay to one event and walks its heaps. */
#include "heapmap.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "plugin.h"
#include "replay.h"
#include "summary.h"
#include "units.h"
#include "vram/caching.h"

#define KIND_FREE 6

/* A walk in progress: adjacent blocks of one kind are merged into one box. */
typedef struct walker {
    FILE *f;
    int strip;
    int open;                 /* a box is pending */
    uint64_t from, to;
    int kind;
    uint64_t used, free_bytes, blocks;
} walker;

typedef struct capture {
    FILE *f;
    int first_strip;          /* the strip of lane 0 */
    int lanes;                /* lanes walked, 0 until the event was reached */
    volatile sig_atomic_t stop;
    vram_status status;       /* of the walk */
    uint64_t used, free_bytes, blocks;
} capture;

static void flush_box(walker *w)
{
    if (w->open)
        fprintf(w->f, "%d\t%llu\t%llu\t%d\n", w->strip, (unsigned long long)w->from,
                (unsigned long long)w->to, w->kind);
    w->open = 0;
}

static int on_block(const vram_block_info *b, vram_kind kind, void *ctx)
{
    walker *w = ctx;
    int k = b->used ? (int)kind : KIND_FREE;
    if (b->used)
        w->used += b->size;
    else
        w->free_bytes += b->size;
    w->blocks++;
    if (w->open && w->kind == k && w->to == b->offset) {
        w->to += b->size;
        return 0;
    }
    flush_box(w);
    *w = (walker){.f = w->f, .strip = w->strip, .open = 1, .from = b->offset,
                  .to = b->offset + b->size, .kind = k, .used = w->used,
                  .free_bytes = w->free_bytes, .blocks = w->blocks};
    return 0;
}

static void on_event(void *ctx, uint64_t event_index, vram_manager *const *lanes, int nlanes)
{
    (void)event_index;
    capture *c = ctx;
    for (int i = 0; i < nlanes && !c->status; i++) {
        walker w = {.f = c->f, .strip = c->first_strip + i};
        c->status = vram_manager_walk(lanes[i], on_block, &w);
        flush_box(&w);
        c->used += w.used;
        c->free_bytes += w.free_bytes;
        c->blocks += w.blocks;
    }
    c->lanes = nlanes;
    c->stop = 1;
}

/* The replay's progress callback: a signal (vrep_stop) ends the replay too. */
static void poll_stop(void *ctx, uint64_t events)
{
    (void)events;
    if (vrep_stop)
        ((capture *)ctx)->stop = 1;
}

/* The bounds the run was replayed with (the pool layout is sized from them). */
static vram_status load_bounds(const vrep_paths *p, const vrep_series *s, vbounds *b,
                               int *have, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    *have = 0;
    sqlite3_stmt *st;
    vram_status r = vrep_sql_prepare(s->db, p->share, "bounds", &st, err, errlen);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, s->run.id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        b->events = (uint64_t)sqlite3_column_int64(st, 0);
        b->capacity = (uint64_t)sqlite3_column_int64(st, 1);
        b->peak_live = (uint64_t)sqlite3_column_int64(st, 2);
        b->peak_live_event = (uint64_t)sqlite3_column_int64(st, 3);
        b->peak_live_line = (uint64_t)sqlite3_column_int64(st, 4);
        b->peak_live_kv = (uint64_t)sqlite3_column_int64(st, 5);
        b->peak_live_other = (uint64_t)sqlite3_column_int64(st, 6);
        *have = 1;
    }
    sqlite3_finalize(st);
    return VRAM_OK;
}

/* The first column of sql/NAME.sql's first row for the run, 0 when NULL or none. */
static vram_status event_of(const vrep_paths *p, vrep_series *s, const char *name,
                            uint64_t *event, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    vram_status r = vrep_sql_prepare(s->db, p->share, name, &st, err, errlen);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, s->run.id);
    *event = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return VRAM_OK;
}

const char *vrep_heapmap_stem(int map)
{
    return map == VREP_MAP_OOM ? "heapmap_oom" : map == VREP_MAP_PREEMPT ? "heapmap_preempt"
                                                                         : "heapmap";
}

/* The moment of a run's first forced preemption: the event before it (0 when
 * none, or at the first event: the heap was empty), and in `what` which
 * request it preempted and why. */
static vram_status first_preempt(const vrep_paths *p, vrep_series *s, uint64_t *event,
                                 char *what, size_t whatlen, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    vram_status r = vrep_sql_prepare(s->db, p->share, "first_preempt", &st, err, errlen);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, s->run.id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t at = (uint64_t)sqlite3_column_int64(st, 0);
        const unsigned char *op = sqlite3_column_text(st, 2);
        char size[32], dropped[32];
        vsim_bytes((double)sqlite3_column_int64(st, 3), size, sizeof size);
        vsim_bytes((double)sqlite3_column_int64(st, 4), dropped, sizeof dropped);
        *event = at - 1;
        snprintf(what, whatlen,
                 " (just before event %llu, whose %s of %s found no room and nothing"
                 " evictable, so request %lld, the newest running one, was preempted and %s"
                 " dropped)",
                 (unsigned long long)at, op ? (const char *)op : "placement", size,
                 (long long)sqlite3_column_int64(st, 1), dropped);
    }
    sqlite3_finalize(st);
    return VRAM_OK;
}

/* The event map `map` is drawn at (heapmap.h), 0 with the note set when there
 * is none; `what` says what the moment is (" (its first OOM)", "" for peak). */
static vram_status pick_event(const vrep_paths *p, vrep_series *s, int map, uint64_t at,
                              const vbounds *b, int have_bounds, uint64_t *event, char *what,
                              size_t whatlen, char *err, size_t errlen)
{
    *event = 0;
    what[0] = '\0';
    if (map == VREP_MAP_PREEMPT)
        return first_preempt(p, s, event, what, whatlen, err, errlen);
    if (map == VREP_MAP_OOM) {
        snprintf(what, whatlen, " (its first OOM)");
        return event_of(p, s, "first_oom", event, err, errlen);
    }
    if (at || (have_bounds && b->peak_live_event)) {
        *event = at ? at : b->peak_live_event;
        return VRAM_OK;
    }
    vram_status r = event_of(p, s, "peak_sample", event, err, errlen);
    if (!r && !*event) {
        char why[256];
        vrep_run_why_no_samples(&s->run, why, sizeof why);
        snprintf(s->map_note[map], sizeof s->map_note[map],
                 "no heap map: no bounds row and no samples (%s)", why);
    }
    return r;
}

/* runs.defrag ("off", "on-oom", "every=N"; "" in older rows) as replay options. */
static void defrag_options(const char *defrag, vreplay_options *o)
{
    if (strcmp(defrag, "on-oom") == 0)
        o->defrag_on_oom = 1;
    else if (strncmp(defrag, "every=", 6) == 0)
        o->defrag_every = strtoull(defrag + 6, NULL, 10);
}

/* Replays one run up to `event` and walks it into strips from *strip on; the
 * note (map_note[map]) says what was drawn or why nothing was. */
static vram_status one_run(vrep_series *s, int map, uint64_t event, const char *what,
                           const vbounds *bounds, int have_bounds, FILE *f, int *strip, char *yt,
                           size_t ytlen, char *err, size_t errlen)
{
    const vrep_run *run = &s->run;
    char *note = s->map_note[map];
    const size_t notelen = sizeof s->map_note[map];
    if (!s->trace_found) {
        snprintf(note, notelen, "no heap map: %.1000s", s->trace_path);
        return VRAM_OK;
    }
    vbounds b = *bounds;
    if (!have_bounds && strcmp(run->policy, "pool") == 0) {
        vram_status r = vbounds_compute_stop(s->trace_path, (uint64_t)run->capacity, 0,
                                             &vrep_stop, &b, err, errlen);
        if (r)
            return r;
    }
    capture c = {.f = f, .first_strip = *strip};
    char plugin[1200]; /* a plugin's run: its file, from runs.layout */
    int is_plugin = vplugin_spec_of_run(run->policy, run->layout, plugin, sizeof plugin);
    vreplay_options o = {.trace_path = s->trace_path, .policy = is_plugin ? plugin : run->policy,
                         .backend = "sim",
                         .capacity = (uint64_t)run->capacity,
                         .evict_policy = run->evict_policy[0] ? run->evict_policy : NULL,
                         .bounds = &b,
                         .preempt_swap = strcmp(run->preempt_mode, "swap") == 0,
                         .stop = &c.stop, .inspect = on_event, .inspect_ctx = &c,
                         .inspect_at = event, .progress = poll_stop, .progress_ctx = &c,
                         .progress_every = 4096};
    defrag_options(run->defrag, &o);
    vram_caching_options caching; /* the run's caching settings, parsed as replay did */
    char why[256];
    if (run->caching_conf[0] &&
        vram_caching_options_parse(run->caching_conf, &caching, why, sizeof why) == VRAM_OK) {
        o.caching = &caching;
        o.caching_conf = run->caching_conf;
    }
    o.tensor_cache = run->tensor_cache > 0 ? (uint64_t)run->tensor_cache : 0;
    vreplay_result *res = malloc(sizeof *res);
    if (!res) {
        snprintf(err, errlen, "out of host memory");
        return VRAM_ENOHOST;
    }
    vram_status r = vreplay_run(&o, res);
    if (vrep_stop) {
        snprintf(err, errlen, "heap map of run %lld: stopped by a signal", (long long)run->id);
        r = VRAM_EBUSY;
    } else if (c.status) {
        snprintf(err, errlen, "heap map of run %lld: vram_manager_walk failed: %s",
                 (long long)run->id, vram_strerror(c.status));
        r = c.status;
    } else if (c.lanes == 0) {
        snprintf(note, notelen,
                 "no heap map: replaying %.200s again did not reach event %llu (%s: %.240s)",
                 s->trace_path, (unsigned long long)event, vreplay_status_name(res->status),
                 res->message[0] ? res->message : vram_strerror(r));
        r = VRAM_OK;
    } else {
        for (int i = 0; i < c.lanes; i++) {
            size_t used = strlen(yt);
            snprintf(yt + used, ytlen - used, "%s\"%s%s\" %d", used ? ", " : "", s->label,
                     c.lanes == 1 ? "" : i == 0 ? "/other" : "/kv", *strip + i);
        }
        *strip += c.lanes;
        s->map_at[map] = event;
        char used[32], free_bytes[32];
        vsim_bytes((double)c.used, used, sizeof used);
        vsim_bytes((double)c.free_bytes, free_bytes, sizeof free_bytes);
        snprintf(note, notelen, "after event %llu%s: %s used, %s free, %llu blocks%s%s",
                 (unsigned long long)event, what, used, free_bytes, (unsigned long long)c.blocks,
                 strcmp(run->backend, "sim") ? " (re-run on the sim backend)" : "",
                 c.lanes > 1 ? " (pool layout: the bestfit lane and the KV pool)" : "");
        r = VRAM_OK;
    }
    free(res);
    return r;
}

vram_status vrep_heapmap(const vrep_paths *p, vrep_series *s, size_t n, int map, uint64_t at,
                         char *yt, size_t ytlen, int *strips, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.dat", p->data, vrep_heapmap_stem(map));
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return VRAM_EIO;
    }
    fprintf(f, "# strip from to (bytes) kind (0 weight 1 kv 2 activation 3 workspace"
               " 4 adapter 5 other 6 free)\n");
    yt[0] = '\0';
    *strips = 0;
    vram_status r = VRAM_OK;
    for (size_t i = 0; i < n && !r; i++) {
        uint64_t event;
        char what[400];
        vbounds b;
        int have;
        s[i].map_at[map] = 0;
        s[i].map_note[map][0] = '\0';
        r = load_bounds(p, &s[i], &b, &have, err, errlen);
        if (!r)
            r = pick_event(p, &s[i], map, at, &b, have, &event, what, sizeof what, err,
                           errlen);
        if (!r && event)
            r = one_run(&s[i], map, event, what, &b, have, f, strips, yt, ytlen, err, errlen);
    }
    const int bad = ferror(f); /* a write failed before the close */
    if ((fclose(f) != 0 || bad) && !r) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        r = VRAM_EIO;
    }
    return r;
}
