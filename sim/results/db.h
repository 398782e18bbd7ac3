/* db.h - the results database (SQLite): one file holds many replay runs.
 *
 * The schema is vdb_schema_sql(), copied verbatim to sim/results/schema.sql for
 * readers (a test keeps the two equal). Rows are written with prepared
 * statements only; the database is in WAL mode.
 *
 * Concurrency: many processes may write into one database at once (each with
 * its own vdb). A row is staged in memory private to the handle (a TEMP
 * table) and copied into the file in one short write transaction when `batch`
 * rows are staged, at the first row written VDB_FLUSH_MS after the oldest
 * staged one, before a run row is inserted, when a run ends and at close. The
 * file's write lock is held only for that copy. A handle that finds the lock
 * taken (on open too) waits with back-off (1, 2, 4 ... 64 ms, with jitter) up
 * to VDB_BUSY_TIMEOUT_MS, then fails with "database is locked" and the wait
 * in its message. docs/RELIABILITY.md gives the writers tested.
 *
 * Consistency rule: a run row is committed as "failed" with no end time and
 * the detail VDB_NOT_FINISHED before any of its rows, and its final status
 * (ok, failed, interrupted) is committed in the same transaction as its last
 * rows; so a run that did not finish never reads "ok". A write that fails
 * drops the staged rows (rolls back the flush under way) and puts the handle in a failed state in which
 * every write returns VRAM_EIO at once, and vdb_run_end marks the run failed
 * with the database's error in one autocommit update. So after any failure
 * each run is either complete and "ok", marked failed or interrupted with a
 * prefix of its rows, or - when even the marking failed - "failed" with no end
 * time and the detail VDB_NOT_FINISHED. */
#ifndef VSIM_DB_H
#define VSIM_DB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "hist.h"
#include "vram/status.h"

#define VDB_SCHEMA_VERSION 4
/* Staged rows are flushed at the first row written this long after the oldest. */
#define VDB_FLUSH_MS 100u
/* How long a write waits for another writer's lock before it fails. */
#define VDB_BUSY_TIMEOUT_MS 60000u
#define VDB_TOOL_VERSION "vramlab-replay 0.1.0"
/* runs.detail of a run not (yet) marked: what its status 'failed' means then. */
#define VDB_NOT_FINISHED                                                                         \
    "not finished: in progress, or the process was killed or crashed, or the database failed"  \
    " before the run was marked"

typedef struct vdb vdb;

/* What a run row starts with. */
typedef struct vdb_run_info {
    const char *trace;        /* the path as given */
    const char *trace_crc32;  /* hex CRC-32 of the trace file's bytes */
    uint64_t trace_bytes;
    const char *model, *engine; /* from the trace header */
    const char *policy, *backend, *evict_policy;
    uint64_t capacity;
    uint64_t sample_every, check_every, time_every;
    const char *options;      /* the command line or other free text */
    const char *defrag;       /* "off", "on-oom" or "every=N" */
    const char *layout;       /* how the policy was laid out, or NULL */
    const char *caching_conf; /* the caching policy's settings as given, or NULL */
    uint64_t tensor_cache;    /* bytes of the tensor cache; 0 = none (NULL) */
} vdb_run_info;

typedef struct vdb_sample {
    uint64_t event_index, line, ts_us;
    uint64_t live_bytes;      /* requested bytes of live, placed allocations */
    uint64_t requested;       /* requested bytes of resident blocks (heap) */
    uint64_t in_use;          /* bytes of used blocks, rounded */
    uint64_t footprint;       /* bytes the policy needs from the device now */
    uint64_t reserved;        /* bytes in live device segments */
    uint64_t free_bytes, largest_free, free_blocks;
    double ext_frag;          /* 1 - largest_free / free_bytes (0 when nothing is free) */
    uint64_t internal_waste;  /* in_use - requested */
    uint64_t handles, resident_handles;
    uint64_t evictions, bytes_rematerialised;
    double modelled_ms;
} vdb_sample;

/* A notable event. kind: "oom", "eviction", "defrag", "violation", "trace_error",
 * "error", "preempt" (the events table in sim/results/schema.sql says what each
 * carries). */
typedef struct vdb_event {
    uint64_t event_index, line;
    const char *kind;
    const char *op;           /* the trace event ("alloc", "use", ...) or NULL */
    uint64_t id;              /* trace id (alloc/free/use) */
    const char *key;          /* shared key or NULL */
    uint64_t size;
    uint64_t free_bytes, largest_free;
    int despite_free;         /* oom: free_bytes >= size */
    uint64_t count, bytes;    /* eviction: handles and bytes evicted; defrag: moved;
                               * preempt: bytes (dropped) only */
    const char *message;
} vdb_event;

struct vrprefix_result;

/* What a run row ends with (the summary columns). */
typedef struct vdb_summary {
    uint64_t events, steps, requests, skipped, errors;
    uint64_t ooms, ooms_despite_free;
    uint64_t evictions, rematerialisations, bytes_evicted, bytes_rematerialised;
    uint64_t peak_footprint, peak_in_use, peak_live;
    uint64_t defrag_passes, defrag_moves, defrag_bytes_moved, defrag_oom_saved;
    double defrag_modelled_ms;
    int has_unallocated;      /* 0: reserved_unallocated is not known (stored as NULL) */
    uint64_t reserved_unallocated;
    int has_tensor_cache;     /* 0: the tc_* columns are NULL */
    uint64_t tc_hits, tc_misses, tc_idle_peak, tc_peak_footprint;
    /* Version-2 traces: preempt_mode "recompute" or "swap" (NULL for version 1:
     * the columns are NULL). */
    const char *preempt_mode;
    uint64_t preemptions, preempted_bytes, restores, restore_waits, recompute_tokens;
    double preempt_modelled_ms;
    /* weight, kv, adapter, everything else (runs.evictions_weight ... _other) */
    uint64_t evictions_by_kind[4];
    /* The prefix cache (replay_prefix.h), or NULL: the prefix_* columns are NULL. */
    const struct vrprefix_result *prefix;
    uint64_t samples;         /* 0: worst_ext_frag is unknown (stored as NULL) */
    double worst_ext_frag;
    uint64_t alloc_p50_ns, alloc_p99_ns, free_p50_ns, free_p99_ns;
    double modelled_ms, wall_s, events_per_s;
} vdb_summary;

const char *vdb_schema_sql(void);

/* Opens (creating if needed) the database at `path` and its schema. Fails with
 * VRAM_EIO and "PATH: why" in err when the file cannot be opened or created
 * (a missing or unwritable directory, named), is read-only or sits in a
 * directory where its WAL files cannot be made (refused before SQLite opens
 * it: nothing is created beside it), is not a database (corrupt), holds
 * tables but no meta table (another application's database: refused before
 * any write or pragma, the file is left as it was), holds another schema
 * version, or stays locked by other writers for VDB_BUSY_TIMEOUT_MS;
 * VRAM_ENOHOST without memory. Cost: reads the schema, creates it if absent. */
vram_status vdb_open(const char *path, vdb **out, char *err, size_t errlen);
/* vdb_open, whose waits for other writers end as soon as *stop is non-zero (a
 * signal): it then fails as if the lock never came (VRAM_EIO, "database is
 * locked"). Later writes wait regardless: a run under way is marked before
 * the exit. */
vram_status vdb_open_stop(const char *path, volatile sig_atomic_t *stop, vdb **out, char *err,
                          size_t errlen);
/* Commits what is pending and closes; VRAM_EIO (why in err) if that commit
 * failed or any write of the handle failed before (vdb_error's message).
 * NULL is a no-op. */
vram_status vdb_close(vdb *db, char *err, size_t errlen);
/* "PATH: what failed: sqlite's message" of the last failure, "" if none. */
const char *vdb_error(const vdb *db);
/* Rows staged before a flush (default 4096; 0 is taken as 1). */
void vdb_set_batch(vdb *db, unsigned rows);
/* How long a write waits for the lock (default VDB_BUSY_TIMEOUT_MS). */
void vdb_set_busy_timeout(vdb *db, unsigned ms);

/* Fault injection (SQLite test_malloc style): the `countdown`-th statement
 * step from now (1 = the next) fails as an I/O error; with `persistent`, every
 * later step fails too. 0 disarms. */
void vdb_inject_fault(vdb *db, uint64_t countdown, int persistent);
/* Steps executed since open (the range of countdowns worth testing). */
uint64_t vdb_steps(const vdb *db);

/* Each write fails with VRAM_EIO (message in vdb_error) and leaves the handle
 * failed, as the consistency rule above says. */
vram_status vdb_run_begin(vdb *db, const vdb_run_info *info, int64_t *run_id);
vram_status vdb_sample_add(vdb *db, int64_t run, const vdb_sample *s);
vram_status vdb_event_add(vdb *db, int64_t run, const vdb_event *e);
/* One row per non-empty bucket plus one summary row (latency_summary). */
vram_status vdb_latency_add(vdb *db, int64_t run, const char *op, const vhist *h);
vram_status vdb_bounds_add(vdb *db, int64_t run, const vbounds *b);
/* A closed-loop run (serve.h): its outcomes (table serve), one KV ledger sample (kv_ledger). */
struct vserve_result;
struct vserve_sample;
vram_status vdb_serve_add(vdb *db, int64_t run, const struct vserve_result *r);
vram_status vdb_kv_ledger_add(vdb *db, int64_t run, const struct vserve_sample *s);
/* status: "ok", "failed" or "interrupted"; detail may be NULL; sum may be NULL
 * (summary columns stay NULL). VRAM_EIO when the database failed, now or
 * before: the run is then marked failed with vdb_error as its detail (or, if
 * even that write fails, left as inserted and vdb_error says so). Call it
 * once per run. */
vram_status vdb_run_end(vdb *db, int64_t run, const char *status, const char *detail,
                        const vdb_summary *sum);

#endif
