/* replay_jobs.c - runs of one replay on one thread or several (replay_jobs.h).
 *
 * The shared state of the workers is `next` (the first run not started) and
 * `halt` (start no more), both under `lock`; everything else a worker touches
 * is its run's job and its own database connection. */
#include "replay_jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "isolate.h"

typedef struct pool {
    vreplay_job *jobs;
    size_t n;
    const vreplay_jobs_config *cfg;
    pthread_mutex_t lock;
    size_t next;
    int halt;
} pool;

/* One run on connection db; 1 when no more runs should start. */
static int run_one(const vreplay_jobs_config *cfg, vreplay_job *j, size_t i, vdb *db,
                   const char *db_path)
{
    if (cfg->started)
        cfg->started(cfg->started_ctx, i);
    j->opt.db = db;
    j->st = j->isolated ? vreplay_run_isolated(&j->opt, db ? db_path : NULL, cfg->batch,
                                               cfg->isolate_timeout, j->res)
                        : vreplay_run(&j->opt, j->res);
    j->db_failed = j->st == VRAM_EIO && db && vdb_error(db)[0];
    return j->st != VRAM_OK || (cfg->stop && *cfg->stop);
}

/* The next run to start, or n when none is left. */
static size_t take(pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t i = p->halt || (p->cfg->stop && *p->cfg->stop) ? p->n : p->next;
    if (i < p->n)
        p->next++;
    pthread_mutex_unlock(&p->lock);
    return i;
}

static void *worker(void *arg)
{
    pool *p = arg;
    const vreplay_jobs_config *cfg = p->cfg;
    vdb *db = NULL;
    char err[512] = "";
    vram_status open_st = VRAM_OK;
    if (cfg->db) {
        open_st = vdb_open_stop(cfg->db_path, cfg->stop, &db, err, sizeof err);
        if (!open_st)
            vdb_set_batch(db, cfg->batch);
    }
    size_t last = p->n; /* the last run on this connection */
    for (size_t i; (i = take(p)) < p->n; last = i) {
        vreplay_job *j = &p->jobs[i];
        int halt;
        if (open_st) {
            memset(j->res, 0, sizeof *j->res);
            j->st = VRAM_EIO;
            j->db_failed = 1;
            snprintf(j->res->message, sizeof j->res->message, "%s", err);
            halt = 1;
        } else {
            halt = run_one(cfg, j, i, db, cfg->db_path);
        }
        if (halt) {
            pthread_mutex_lock(&p->lock);
            p->halt = 1;
            pthread_mutex_unlock(&p->lock);
        }
    }
    /* A failed close: the last run on the connection says so (its rows and
     * those before are in; a run row reads "ok" only when all of it is). */
    if (db && vdb_close(db, err, sizeof err) && last < p->n)
        p->jobs[last].db_failed = 1;
    return NULL;
}

size_t vreplay_jobs_run(vreplay_job *jobs, size_t n, const vreplay_jobs_config *cfg)
{
    size_t threads = cfg->jobs < n ? cfg->jobs : n;
    if (threads <= 1) {
        for (size_t i = 0; i < n; i++) {
            if (cfg->stop && *cfg->stop)
                return i;
            if (run_one(cfg, &jobs[i], i, cfg->db, cfg->db_path))
                return i + 1;
        }
        return n;
    }
    pool p = {.jobs = jobs, .n = n, .cfg = cfg};
    pthread_mutex_init(&p.lock, NULL);
    pthread_t tid[64];
    size_t made = 0;
    if (threads > sizeof tid / sizeof tid[0])
        threads = sizeof tid / sizeof tid[0];
    while (made < threads && pthread_create(&tid[made], NULL, worker, &p) == 0)
        made++;
    if (made == 0) /* no thread could be made: this one works alone */
        worker(&p);
    for (size_t t = 0; t < made; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&p.lock);
    return p.next;
}
