/* db.c - the results database (db.h): schema, prepared statements, batching,
 * failure handling and fault injection. */
#include "db.h"
#include "paths.h"
#include "replay_prefix.h"
#include "serve.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* sim/results/schema.sql is this text verbatim (tests/test_db_schema.c compares them). */
static const char schema_sql[] =
    "-- The vramlab results database, written by `replay` (sim/results/db.c; this file is\n"
    "-- vdb_schema_sql() verbatim, a test keeps them equal). Query it with the sqlite3\n"
    "-- shell, e.g.\n"
    "--   the summary of every finished run, with the lower bound beside it:\n"
    "--     SELECT r.id, r.policy, r.peak_footprint, 1.0 * r.peak_footprint / b.peak_live AS ratio,\n"
    "--            r.ooms, r.ooms_despite_free, r.evictions, b.belady_evictions\n"
    "--     FROM runs r LEFT JOIN bounds b ON b.run_id = r.id WHERE r.status = 'ok';\n"
    "--   footprint and fragmentation over the trace for run 1:\n"
    "--     SELECT event_index, ts_us, footprint, live_bytes, ext_frag FROM samples WHERE run_id = 1;\n"
    "--   every OOM that happened although enough bytes were free:\n"
    "--     SELECT run_id, line, op, size, free_bytes, largest_free FROM events\n"
    "--     WHERE kind = 'oom' AND despite_free = 1;\n"
    "-- Sizes are bytes, times ns unless a column name says otherwise; NULL = not known.\n"
    "-- A run's status (runs.status): its row is inserted as 'failed' with no end time and\n"
    "-- the detail 'not finished ...', and becomes 'ok' only in the transaction that holds\n"
    "-- its last rows, so a run that did not finish never reads 'ok':\n"
    "--   ok           finished; every row of the run is there\n"
    "--   failed       ended (ended not NULL): a trace error, an invariant violation, a library\n"
    "--                or database failure (detail says which, with file:line when known);\n"
    "--                not finished (ended NULL): in progress, or the process was killed or\n"
    "--                crashed, or the database failed even while marking the run\n"
    "--   interrupted  SIGINT or SIGTERM ended it (detail: the event and line reached)\n"
    "--   running      only in databases of earlier versions: not finished, as failed above\n"
    "CREATE TABLE IF NOT EXISTS meta (\n"
    "  key TEXT PRIMARY KEY,          -- 'schema_version'\n"
    "  value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  trace TEXT NOT NULL,           -- trace path as given on the command line\n"
    "  trace_crc32 TEXT,              -- CRC-32 (hex) of the trace file's bytes\n"
    "  trace_bytes INTEGER,           -- size of the trace file\n"
    "  trace_abs TEXT,                -- its absolute path when the run began (NULL: unresolved)\n"
    "  trace_rel TEXT,                -- its path from the database's directory then (report finds\n"
    "                                 -- the trace by it when both moved)\n"
    "  model TEXT, engine TEXT,       -- from the trace header\n"
    "  policy TEXT NOT NULL,          -- heap policy: bestfit, buddy, tlsf, pool, caching\n"
    "  backend TEXT NOT NULL,         -- sim or cuda\n"
    "  evict_policy TEXT,             -- prio-lru, lru, cost (NULL = the manager's default)\n"
    "  capacity INTEGER NOT NULL,     -- device bytes\n"
    "  sample_every INTEGER, check_every INTEGER,\n"
    "  time_every INTEGER,            -- one call in time_every was timed (1: all)\n"
    "  options TEXT,                  -- the command line\n"
    "  defrag TEXT,                   -- off, on-oom, or every=N\n"
    "  layout TEXT,                   -- how the policy was laid out (pool: the KV/other split)\n"
    "  tool_version TEXT NOT NULL,\n"
    "  started TEXT NOT NULL,         -- UTC, ISO 8601\n"
    "  ended TEXT,                    -- NULL: not finished (see the statuses above)\n"
    "  status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),\n"
    "  detail TEXT,                   -- why failed, not finished or interrupted (file:line when known)\n"
    "  -- summary columns, filled when the run ends\n"
    "  events INTEGER,                -- trace events replayed\n"
    "  steps INTEGER, requests INTEGER, -- step and request-begin markers\n"
    "  skipped INTEGER,               -- free/use/release of ids whose allocation had failed\n"
    "  errors INTEGER,                -- requests the policy refused (events.kind = 'error')\n"
    "  ooms INTEGER,                  -- = count of events.kind = 'oom'\n"
    "  ooms_despite_free INTEGER,     -- ... of which total free bytes were >= the request\n"
    "  evictions INTEGER, rematerialisations INTEGER,\n"
    "  bytes_evicted INTEGER, bytes_rematerialised INTEGER,\n"
    "  peak_footprint INTEGER,        -- heap footprint high-water mark (every event)\n"
    "  peak_in_use INTEGER,\n"
    "  peak_live INTEGER,             -- requested bytes of live, placed allocations\n"
    "  worst_ext_frag REAL,           -- max over samples of 1 - largest_free / free_bytes (NULL: none)\n"
    "  alloc_p50_ns INTEGER, alloc_p99_ns INTEGER, free_p50_ns INTEGER, free_p99_ns INTEGER,\n"
    "  defrag_passes INTEGER, defrag_moves INTEGER, defrag_bytes_moved INTEGER,\n"
    "  defrag_oom_saved INTEGER,      -- allocations that failed and fit after an automatic pass\n"
    "  defrag_modelled_ms REAL,       -- the cost model's time for the moves' copies\n"
    "  caching_conf TEXT,             -- caching policy settings as given (PYTORCH_CUDA_ALLOC_CONF\n"
    "                                 -- syntax); NULL = defaults or another policy\n"
    "  reserved_unallocated INTEGER,  -- caching: reserved - allocated when reserved peaked, as\n"
    "                                 -- PyTorch's OOM message reports it (NULL: other policies)\n"
    "  tensor_cache INTEGER,          -- bytes of the tensor cache for activations/workspaces (NULL: none)\n"
    "  tc_hits INTEGER, tc_misses INTEGER, -- its acquires served from an idle buffer, and not\n"
    "  tc_idle_peak INTEGER,          -- the most bytes it held idle (not handed out) at once\n"
    "  tc_peak_footprint INTEGER,     -- its heap's peak footprint (included in peak_footprint)\n"
    "  -- version-2 traces (traces/FORMAT.md, Needed memory; NULL for version 1):\n"
    "  preempt_mode TEXT,             -- recompute or swap: how a forced preemption drops KV\n"
    "  preemptions INTEGER,           -- forced preemptions: only a running request's memory\n"
    "                                 -- could make room, so the newest request was preempted\n"
    "  preempted_bytes INTEGER,       -- bytes those preemptions dropped\n"
    "  restores INTEGER,              -- preempted requests brought back at a later step\n"
    "  restore_waits INTEGER,         -- steps at which one did not fit and waited\n"
    "  recompute_tokens INTEGER,      -- KV tokens recomputed (recompute mode)\n"
    "  preempt_modelled_ms REAL,      -- their modelled cost: recompute at the prefill rate or\n"
    "                                 -- the swap copies (docs/COST_MODEL.md)\n"
    "  -- evictions by kind of what the policy evicted (preemptions not included); they sum to\n"
    "  -- evictions (the rest: activation, workspace, other)\n"
    "  evictions_weight INTEGER, evictions_kv INTEGER, evictions_adapter INTEGER,\n"
    "  evictions_other INTEGER,\n"
    "  -- the prefix cache (a trace with prefix events, traces/FORMAT.md; NULL otherwise):\n"
    "  prefix_policy TEXT,            -- its eviction policy (vram/prefix_cache.h)\n"
    "  prefix_blocks INTEGER,         -- its device blocks (running requests' and cached)\n"
    "  prefix_host_blocks INTEGER,    -- entries of its host tier (0: none)\n"
    "  prefix_lookups INTEGER,        -- lookup events\n"
    "  prefix_lookup_blocks INTEGER,  -- full blocks they asked for\n"
    "  prefix_hit_blocks INTEGER,     -- of those, found on the device tier\n"
    "  prefix_host_hit_blocks INTEGER, -- ... found on the host tier and copied back\n"
    "  prefix_hit_ratio REAL,         -- (hit + host hit blocks) / lookup blocks\n"
    "  prefix_token_hit_ratio REAL,   -- hit tokens / the lookups' tokens\n"
    "  prefix_evictions INTEGER,      -- cached blocks evicted from the device tier\n"
    "  prefix_alloc_failures INTEGER, -- blocks a request could not get (every block held)\n"
    "  prefix_saved_tokens INTEGER,   -- prefill tokens the hits spared\n"
    "  prefix_saved_ms REAL,          -- their prefill time at the trace's rate, less host copies\n"
    "  -- references over the same block stream at prefix_blocks (sim/replay/prefix_ref.h): textbook\n"
    "  -- LRU, Belady (the optimum) and an unlimited cache, in hit blocks\n"
    "  prefix_lru_hits INTEGER, prefix_belady_hits INTEGER, prefix_unlimited_hits INTEGER,\n"
    "  modelled_ms REAL,              -- the device cost model's time (with recompute time)\n"
    "  wall_s REAL, events_per_s REAL -- measured: the replay loop (the parse too past --stream-memory)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS samples (  -- every --sample-every events\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  event_index INTEGER NOT NULL,  -- 1-based index of the event after which it was taken\n"
    "  line INTEGER, ts_us INTEGER,   -- that event's trace line and timestamp\n"
    "  live_bytes INTEGER,            -- requested bytes of live, placed allocations\n"
    "  requested INTEGER,             -- requested bytes of resident blocks\n"
    "  in_use INTEGER,                -- bytes of used blocks (rounded sizes)\n"
    "  footprint INTEGER,             -- bytes the policy needs from the device now\n"
    "  reserved INTEGER,              -- bytes in live device segments\n"
    "  free_bytes INTEGER, largest_free INTEGER, free_blocks INTEGER,\n"
    "  ext_frag REAL,                 -- 1 - largest_free / free_bytes (0 when nothing is free;\n"
    "                                 -- pool layout: of its bestfit lane, pool blocks never fragment)\n"
    "  internal_waste INTEGER,        -- in_use - requested\n"
    "  handles INTEGER, resident_handles INTEGER,\n"
    "  evictions INTEGER, bytes_rematerialised INTEGER, -- cumulative\n"
    "  modelled_ms REAL,              -- cumulative\n"
    "  PRIMARY KEY (run_id, event_index)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS latency (  -- measured op latency, histogram buckets\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  op TEXT NOT NULL,              -- alloc, free, use, acquire, release\n"
    "  lo_ns INTEGER NOT NULL,        -- the bucket covers [lo_ns, hi_ns]\n"
    "  hi_ns INTEGER NOT NULL,\n"
    "  count INTEGER NOT NULL,        -- timed calls (all calls of the op when runs.time_every = 1)\n"
    "  PRIMARY KEY (run_id, op, lo_ns)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS latency_summary (  -- quantiles: bucket upper bounds, <= 6.25% high\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  op TEXT NOT NULL,\n"
    "  count INTEGER NOT NULL,        -- = SUM(latency.count) of the op\n"
    "  mean_ns REAL, min_ns INTEGER, p50_ns INTEGER, p90_ns INTEGER, p99_ns INTEGER,\n"
    "  p999_ns INTEGER, max_ns INTEGER,\n"
    "  PRIMARY KEY (run_id, op)\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS events (  -- notable events\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  event_index INTEGER,           -- 1-based index in the trace (NULL: not tied to one)\n"
    "  line INTEGER,                  -- trace line\n"
    "  kind TEXT NOT NULL CHECK (kind IN ('oom', 'eviction', 'defrag', 'violation', 'trace_error',\n"
    "                                     'error', 'preempt')),\n"
    "                                 -- eviction: the evictions since the previous sample, logged\n"
    "                                 -- at a sample (event_index, line: the sampled event);\n"
    "                                 -- defrag: one --defrag every=N pass (count: handles moved);\n"
    "                                 -- preempt: a forced preemption (runs.preemptions), the\n"
    "                                 -- event whose placement failed with nothing evictable\n"
    "  op TEXT,                       -- the trace event: alloc, free, use, acquire, release\n"
    "  id INTEGER, key TEXT,          -- trace id or shared key; preempt: the request preempted\n"
    "  size INTEGER,                  -- bytes requested (preempt: the placement that failed)\n"
    "  free_bytes INTEGER,            -- oom: total free bytes at the failure\n"
    "  largest_free INTEGER,          -- oom: the largest free block at the failure\n"
    "  despite_free INTEGER,          -- oom: 1 when free_bytes >= size\n"
    "  count INTEGER, bytes INTEGER,  -- eviction: handles and bytes evicted; defrag: moved;\n"
    "                                 -- preempt: bytes the preemption dropped (bytes only)\n"
    "  message TEXT\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, kind);\n"
    "CREATE TABLE IF NOT EXISTS bounds (  -- references computed from the trace alone\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id),\n"
    "  events INTEGER,\n"
    "  capacity INTEGER,              -- device bytes Belady ran with\n"
    "  peak_live INTEGER,             -- lower bound on footprint: no policy can use less\n"
    "  peak_live_event INTEGER, peak_live_line INTEGER,\n"
    "  peak_live_kv INTEGER,          -- peak of block-sized KV allocations and 'kv:' keys alone\n"
    "  peak_live_other INTEGER,       -- peak of everything else (what bestfit gets in the pool layout)\n"
    "  belady_exact INTEGER,          -- 1: evictable items share one size, Belady is optimal;\n"
    "                                 -- 0: mixed sizes, a reference and not a bound; NULL: not run\n"
    "  evictable_size INTEGER,\n"
    "  belady_evictions INTEGER, belady_rematerialisations INTEGER,\n"
    "  belady_bytes_rematerialised INTEGER, belady_ooms INTEGER,\n"
    "  belady_preemptions INTEGER,    -- version 2: forced preemptions under the same rules\n"
    "  belady_preempted_bytes INTEGER\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS serve (  -- a closed-loop run's outcomes (bin/serve, docs/ENGINE_MODEL.md)\n"
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id),\n"
    "  kv_bytes INTEGER,              -- the KV region: the planner's KV budget, the policy's heap\n"
    "  requests INTEGER, rejected INTEGER, finished INTEGER, steps INTEGER,\n"
    "  modelled_s REAL,               -- engine time at the end\n"
    "  tokens_per_s REAL,             -- generated tokens (finished requests) per modelled second\n"
    "  mean_batch REAL,               -- running requests per step\n"
    "  queue_mean_ms REAL, queue_p99_ms REAL, -- arrival to first admission, modelled\n"
    "  ttft_mean_ms REAL, ttft_p99_ms REAL,   -- arrival to first token, modelled\n"
    "  preempt_budget INTEGER,        -- preemptions: the KV budget was full\n"
    "  preempt_placement INTEGER,     -- ... within the budget, the KV heap could not place it\n"
    "  preempt_buffers INTEGER,       -- ... the step's activation or workspace could not be placed\n"
    "  admissions_refused INTEGER,    -- admissions undone: the KV heap could not place them\n"
    "  ooms INTEGER,                  -- steps run without their buffers\n"
    "  -- the KV ledger's shares of kv_bytes, weighted by step duration (they sum to 1)\n"
    "  share_tokens REAL, share_reserved REAL, share_waste REAL,\n"
    "  share_free_unusable REAL, share_free_usable REAL,\n"
    "  cpu_s REAL                     -- the run's CPU time\n"
    ");\n"
    "CREATE TABLE IF NOT EXISTS kv_ledger (  -- closed loop: the KV region after each step's placements\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  step INTEGER NOT NULL, ts_us INTEGER, -- the step and its start, engine time\n"
    "  dur_us INTEGER,                -- the step's modelled duration (the sample's weight)\n"
    "  running INTEGER, waiting INTEGER,\n"
    "  -- bytes; they add up to serve.kv_bytes: token states, reserved for running requests' future\n"
    "  -- tokens, internal waste (slots no token will fill, heap rounding), free in pieces smaller\n"
    "  -- than the next KV allocation (external fragmentation), free usable\n"
    "  tokens INTEGER, reserved INTEGER, waste INTEGER, free_unusable INTEGER, free_usable INTEGER,\n"
    "  PRIMARY KEY (run_id, step)\n"
    ");\n";

const char *vdb_schema_sql(void) { return schema_sql; }

/* The row tables, staged per connection (see "Staging" below). */
enum { T_SAMPLES, T_EVENTS, T_LATENCY, T_LATENCY_SUMMARY, T_BOUNDS, T_SERVE, T_KV_LEDGER, T_COUNT };
static const char *const table_name[T_COUNT] = {"samples", "events", "latency", "latency_summary",
                                                "bounds", "serve", "kv_ledger"};

enum {
    ST_BEGIN,           /* the staging transaction (TEMP tables only: no lock on the file) */
    ST_BEGIN_IMMEDIATE, /* a flush: takes the file's write lock at once (busy handler) */
    ST_COMMIT,
    ST_ROLLBACK,
    ST_RUN_BEGIN,
    ST_RUN_END,
    ST_SAMPLE,
    ST_EVENT,
    ST_LATENCY,
    ST_LATENCY_SUMMARY,
    ST_BOUNDS,
    ST_SERVE,
    ST_KV_LEDGER,        /* the row statements ST_SAMPLE ... ST_KV_LEDGER follow T_ order */
    ST_COPY,            /* ST_COPY + t: copy staged table t into the file */
    ST_CLEAR = ST_COPY + T_COUNT, /* ST_CLEAR + t: empty staged table t */
    ST_COUNT = ST_CLEAR + T_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN",
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_RUN_BEGIN] =
        "INSERT INTO main.runs (trace, trace_crc32, trace_bytes, model, engine, policy, backend,"
        " evict_policy, capacity, sample_every, check_every, options, layout, tool_version,"
        " defrag, time_every, caching_conf, tensor_cache, trace_abs, trace_rel, started, status,"
        " detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
        " ?17, ?18, ?19, ?20,"
        " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'failed', '" VDB_NOT_FINISHED "')",
    [ST_RUN_END] =
        "UPDATE main.runs SET ended = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), status = ?2, detail = ?3,"
        " events = ?4, steps = ?5, requests = ?6, skipped = ?7, errors = ?8, ooms = ?9,"
        " ooms_despite_free = ?10, evictions = ?11, rematerialisations = ?12, bytes_evicted = ?13,"
        " bytes_rematerialised = ?14, peak_footprint = ?15, peak_in_use = ?16, peak_live = ?17,"
        " worst_ext_frag = ?18, alloc_p50_ns = ?19, alloc_p99_ns = ?20, free_p50_ns = ?21,"
        " free_p99_ns = ?22, modelled_ms = ?23, wall_s = ?24, events_per_s = ?25,"
        " defrag_passes = ?26, defrag_moves = ?27, defrag_bytes_moved = ?28,"
        " defrag_oom_saved = ?29, defrag_modelled_ms = ?30, reserved_unallocated = ?31,"
        " tc_hits = ?32, tc_misses = ?33, tc_idle_peak = ?34, tc_peak_footprint = ?35,"
        " preempt_mode = ?36, preemptions = ?37, preempted_bytes = ?38, restores = ?39,"
        " restore_waits = ?40, recompute_tokens = ?41, preempt_modelled_ms = ?42,"
        " evictions_weight = ?43, evictions_kv = ?44, evictions_adapter = ?45,"
        " evictions_other = ?46, prefix_policy = ?47, prefix_blocks = ?48,"
        " prefix_host_blocks = ?49, prefix_lookups = ?50, prefix_lookup_blocks = ?51,"
        " prefix_hit_blocks = ?52, prefix_host_hit_blocks = ?53, prefix_hit_ratio = ?54,"
        " prefix_token_hit_ratio = ?55, prefix_evictions = ?56, prefix_alloc_failures = ?57,"
        " prefix_saved_tokens = ?58, prefix_saved_ms = ?59, prefix_lru_hits = ?60,"
        " prefix_belady_hits = ?61, prefix_unlimited_hits = ?62"
        " WHERE id = ?1",
    [ST_SAMPLE] =
        "INSERT INTO temp.stage_samples (run_id, event_index, line, ts_us, live_bytes, requested,"
        " in_use, footprint, reserved, free_bytes, largest_free, free_blocks, ext_frag,"
        " internal_waste, handles, resident_handles, evictions, bytes_rematerialised, modelled_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
        " ?19)",
    [ST_EVENT] =
        "INSERT INTO temp.stage_events (run_id, event_index, line, kind, op, id, key, size,"
        " free_bytes, largest_free, despite_free, count, bytes, message)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [ST_LATENCY] = "INSERT INTO temp.stage_latency (run_id, op, lo_ns, hi_ns, count)"
                   " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_LATENCY_SUMMARY] =
        "INSERT INTO temp.stage_latency_summary (run_id, op, count, mean_ns, min_ns, p50_ns,"
        " p90_ns, p99_ns, p999_ns, max_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_BOUNDS] =
        "INSERT INTO temp.stage_bounds (run_id, events, capacity, peak_live, peak_live_event,"
        " peak_live_line, peak_live_kv, peak_live_other, belady_exact, evictable_size,"
        " belady_evictions, belady_rematerialisations, belady_bytes_rematerialised, belady_ooms,"
        " belady_preemptions, belady_preempted_bytes)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [ST_SERVE] =
        "INSERT INTO temp.stage_serve (run_id, kv_bytes, requests, rejected, finished, steps,"
        " modelled_s, tokens_per_s, mean_batch, queue_mean_ms, queue_p99_ms, ttft_mean_ms, ttft_p99_ms,"
        " preempt_budget, preempt_placement, preempt_buffers, admissions_refused, ooms, share_tokens,"
        " share_reserved, share_waste, share_free_unusable, share_free_usable, cpu_s)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
        " ?20, ?21, ?22, ?23, ?24)",
    [ST_KV_LEDGER] =
        "INSERT INTO temp.stage_kv_ledger (run_id, step, ts_us, dur_us, running, waiting, tokens,"
        " reserved, waste, free_unusable, free_usable)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_COPY + T_SAMPLES] = "INSERT INTO main.samples SELECT * FROM temp.stage_samples",
    [ST_COPY + T_EVENTS] = "INSERT INTO main.events SELECT * FROM temp.stage_events",
    [ST_COPY + T_LATENCY] = "INSERT INTO main.latency SELECT * FROM temp.stage_latency",
    [ST_COPY + T_LATENCY_SUMMARY] =
        "INSERT INTO main.latency_summary SELECT * FROM temp.stage_latency_summary",
    [ST_COPY + T_BOUNDS] = "INSERT INTO main.bounds SELECT * FROM temp.stage_bounds",
    [ST_COPY + T_SERVE] = "INSERT INTO main.serve SELECT * FROM temp.stage_serve",
    [ST_COPY + T_KV_LEDGER] = "INSERT INTO main.kv_ledger SELECT * FROM temp.stage_kv_ledger",
    [ST_CLEAR + T_SAMPLES] = "DELETE FROM temp.stage_samples",
    [ST_CLEAR + T_EVENTS] = "DELETE FROM temp.stage_events",
    [ST_CLEAR + T_LATENCY] = "DELETE FROM temp.stage_latency",
    [ST_CLEAR + T_LATENCY_SUMMARY] = "DELETE FROM temp.stage_latency_summary",
    [ST_CLEAR + T_BOUNDS] = "DELETE FROM temp.stage_bounds",
    [ST_CLEAR + T_SERVE] = "DELETE FROM temp.stage_serve",
    [ST_CLEAR + T_KV_LEDGER] = "DELETE FROM temp.stage_kv_ledger",
};

#define DB_DEFAULT_BATCH 4096u

/* Staging. A row is first inserted into a TEMP copy of its table (memory,
 * private to this connection: no lock on the file is taken), inside a
 * transaction of the TEMP tables alone (`in_txn`). A flush copies the staged
 * rows into the file and empties the copies in one short BEGIN IMMEDIATE
 * transaction: the file's write lock is held only for that copy, never while
 * the replay computes, so other writers wait milliseconds, not a run. A flush
 * happens when `batch` rows are staged, at the first row staged VDB_FLUSH_MS
 * after the oldest one, before a run row is inserted, at the end of each run
 * (with the run's final status, in the same transaction) and at close.
 *
 * Waiting: every statement that takes the write lock goes through the busy
 * handler, which backs off (1, 2, 4 ... 64 ms, with jitter) until
 * `busy_timeout_ms` have passed; a statement that reports SQLITE_BUSY without
 * a transaction open (where SQLite does not call the handler: WAL recovery,
 * a changing journal mode) is retried the same way. `busy_ms` is the total
 * waited, for the message when the wait ends without the lock.
 *
 * State: `in_txn` is 1 exactly while the staging BEGIN is open; `pending`
 * counts the rows staged since the last flush, `staged` has bit t set when
 * table t has some; `failed` is set by the first failed write and never
 * cleared (see the consistency rule in db.h). */
struct vdb {
    sqlite3 *h;
    sqlite3_stmt *st[ST_COUNT];
    unsigned batch, pending, staged;
    int in_txn, failed;
    uint64_t first_pending_ns;
    unsigned busy_timeout_ms;
    uint64_t busy_since_ns, busy_ms, busy_seed;
    volatile sig_atomic_t *stop; /* set while opening: a signal ends the wait */
    uint64_t steps, fault_at;
    int fault_persistent, faulting;
    char err[768];
    char path[];
};

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* One back-off step of a wait that began at busy_since_ns: 0 when the wait
 * has lasted busy_timeout_ms, else sleeps for the n-th step and returns 1. */
static int back_off(vdb *db, int n)
{
    uint64_t now = mono_ns();
    if (n == 0)
        db->busy_since_ns = now;
    uint64_t waited = (now - db->busy_since_ns) / 1000000u;
    if (waited >= db->busy_timeout_ms || (db->stop && *db->stop))
        return 0;
    unsigned ms = n < 6 ? 1u << n : 64u;
    db->busy_seed = db->busy_seed * 6364136223846793005u + 1442695040888963407u;
    ms += (unsigned)(db->busy_seed >> 33) % (ms / 2 + 1); /* jitter: writers do not march in step */
    if (ms > db->busy_timeout_ms - waited)
        ms = (unsigned)(db->busy_timeout_ms - waited);
    sleep_ms(ms);
    db->busy_ms += ms;
    return 1;
}

/* SQLite's busy handler: called while another connection holds the lock. */
static int busy_handler(void *ctx, int n) { return back_off(ctx, n); }

static void db_fail(vdb *db, const char *what, const char *why)
{
    snprintf(db->err, sizeof db->err, "%s: %s: %s", db->path, what, why);
}

/* A failure's words: SQLite's message, and for a lock that never came, how
 * long it was waited for. */
static void db_fail_rc(vdb *db, const char *what, int rc)
{
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        char why[320];
        snprintf(why, sizeof why,
                 "%s (other writers held it for more than %.1f s, the limit on waiting)",
                 sqlite3_errmsg(db->h), db->busy_timeout_ms / 1000.0);
        db_fail(db, what, why);
    } else {
        db_fail(db, what, sqlite3_errmsg(db->h));
    }
}

/* The one place statements run: counts steps, injects faults, retries a
 * busy statement outside a transaction, resets. */
static int db_step(vdb *db, sqlite3_stmt *s, const char *what)
{
    db->steps++;
    int rc;
    if (db->fault_at && --db->fault_at == 0)
        db->faulting = 1;
    if (db->faulting) {
        db->faulting = db->fault_persistent;
        rc = SQLITE_IOERR;
        db_fail(db, what, "disk I/O error (injected fault)");
    } else {
        for (int n = 0;; n++) {
            rc = sqlite3_step(s);
            if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || !sqlite3_get_autocommit(db->h) ||
                !back_off(db, n))
                break;
            sqlite3_reset(s);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            db_fail_rc(db, what, rc);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* After a failed write: roll back what is open (the staged rows, or a flush
 * half done) and refuse further writes. */
static vram_status db_broken(vdb *db)
{
    if (!sqlite3_get_autocommit(db->h)) {
        char keep[sizeof db->err];
        memcpy(keep, db->err, sizeof keep);
        sqlite3_step(db->st[ST_ROLLBACK]);
        sqlite3_reset(db->st[ST_ROLLBACK]);
        memcpy(db->err, keep, sizeof keep);
    }
    db->in_txn = 0;
    db->pending = 0;
    db->staged = 0;
    db->failed = 1;
    return VRAM_EIO;
}

/* Copies the staged rows into the file, then runs `extra` (bound, or NULL),
 * in one write transaction. */
static vram_status db_flush(vdb *db, sqlite3_stmt *extra, const char *extra_what)
{
    if (db->in_txn) {
        /* ends the staging transaction: TEMP tables only, nothing reaches the file */
        if (db_step(db, db->st[ST_COMMIT], "committing"))
            return db_broken(db);
        db->in_txn = 0;
    }
    if (!db->staged && !extra)
        return VRAM_OK;
    if (db_step(db, db->st[ST_BEGIN_IMMEDIATE], "beginning a write transaction"))
        return db_broken(db);
    for (int t = 0; t < T_COUNT; t++) {
        if (!(db->staged & 1u << t))
            continue;
        char what[64];
        snprintf(what, sizeof what, "writing the %s", table_name[t]);
        if (db_step(db, db->st[ST_COPY + t], what) ||
            db_step(db, db->st[ST_CLEAR + t], "clearing the staged rows"))
            return db_broken(db);
    }
    if (extra && db_step(db, extra, extra_what))
        return db_broken(db);
    if (db_step(db, db->st[ST_COMMIT], "committing"))
        return db_broken(db);
    db->pending = 0;
    db->staged = 0;
    return VRAM_OK;
}

static vram_status db_commit(vdb *db) { return db_flush(db, NULL, NULL); }

/* Stages the bound row statement `k` (ST_SAMPLE ... ST_BOUNDS); flushes when
 * `batch` rows are staged or the oldest is VDB_FLUSH_MS old. */
static vram_status db_row(vdb *db, int k, const char *what)
{
    if (db->failed) {
        sqlite3_clear_bindings(db->st[k]);
        return VRAM_EIO;
    }
    if (!db->in_txn) {
        if (db_step(db, db->st[ST_BEGIN], "beginning a transaction")) {
            sqlite3_clear_bindings(db->st[k]);
            return db_broken(db);
        }
        db->in_txn = 1;
    }
    if (db_step(db, db->st[k], what))
        return db_broken(db);
    uint64_t now = mono_ns();
    if (!db->pending++)
        db->first_pending_ns = now;
    db->staged |= 1u << (k - ST_SAMPLE);
    if (db->pending >= db->batch || now - db->first_pending_ns >= VDB_FLUSH_MS * 1000000u)
        return db_commit(db);
    return VRAM_OK;
}

static void bind_u64(sqlite3_stmt *s, int i, uint64_t v) { sqlite3_bind_int64(s, i, (sqlite3_int64)v); }
static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
    if (t)
        sqlite3_bind_text(s, i, t, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static void db_free(vdb *db)
{
    for (int k = 0; k < ST_COUNT; k++)
        sqlite3_finalize(db->st[k]);
    sqlite3_close(db->h);
    free(db);
}

static vram_status open_fail(vdb *db, char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s: %s", db->path, what, db->h ? sqlite3_errmsg(db->h) : "?");
    db_free(db);
    return VRAM_EIO;
}

/* sqlite3_step for the reads of vdb_open, waiting (back_off) while busy. */
static int open_step(vdb *db, sqlite3_stmt *s)
{
    int rc;
    for (int n = 0; (rc = sqlite3_step(s)) == SQLITE_BUSY && back_off(db, n); n++)
        sqlite3_reset(s);
    return rc;
}

static int schema_version_ok(vdb *db, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int ok = 0, rc = sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key = 'schema_version'",
                                        -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = open_step(db, s);
    if (rc == SQLITE_DONE) {
        if (err && errlen)
            snprintf(err, errlen,
                     "%s: not a vramlab results database (its meta table has no schema_version);"
                     " left untouched",
                     db->path);
    } else if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        ok = v && atoi(v) == VDB_SCHEMA_VERSION;
        if (!ok && err && errlen)
            snprintf(err, errlen, "%s: schema version %s, this tool writes version %d", db->path,
                     v ? v : "NULL", VDB_SCHEMA_VERSION);
    } else if (err && errlen) {
        snprintf(err, errlen, "%s: cannot read the schema version: %s", db->path,
                 sqlite3_errmsg(db->h));
    }
    sqlite3_finalize(s);
    return ok;
}

/* Before anything that changes the file: a database holding tables must be
 * ours (a meta table with our schema version); one without tables (a new
 * file) is made ours. 1 when it may be used; 0 with err set. Reads only. */
static int ours_or_empty(vdb *db, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->h,
                                "SELECT count(*), coalesce(sum(type = 'table' AND name = 'meta'), 0)"
                                " FROM sqlite_master",
                                -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = open_step(db, s);
    if (rc != SQLITE_ROW) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot use the database: %s", db->path,
                     sqlite3_errmsg(db->h));
        sqlite3_finalize(s);
        return 0;
    }
    int64_t objects = sqlite3_column_int64(s, 0), meta = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    if (objects == 0)
        return 1;
    if (!meta) {
        if (err && errlen)
            snprintf(err, errlen,
                     "%s: not a vramlab results database (it holds %lld schema objects and no"
                     " meta table); left untouched",
                     db->path, (long long)objects);
        return 0;
    }
    return schema_version_ok(db, err, errlen);
}

/* Refuses, before SQLite creates or reads anything, a place where the
 * database cannot be written: a read-only file, a directory that cannot take
 * the new file or the WAL files beside an existing one. 1 when it may be
 * tried (SQLite has the last word); 0 with err set. */
static int writable_place(const char *path, char *err, size_t errlen)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0'; /* "/x.db": the directory is "/" */
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: a directory, not a database file", path);
            return 0;
        }
        if (!S_ISREG(st.st_mode))
            return 1; /* a device or the like: SQLite says what it makes of it */
        if (access(path, W_OK) != 0) {
            snprintf(err, errlen,
                     "%s: the database file is read-only (%s): no run can be logged into it;"
                     " left untouched",
                     path, strerror(errno));
            return 0;
        }
        if (access(dir, W_OK) != 0) {
            int e = errno;
            char wal[1100], shm[1100];
            snprintf(wal, sizeof wal, "%s-wal", path);
            snprintf(shm, sizeof shm, "%s-shm", path);
            if (access(wal, W_OK) == 0 && access(shm, W_OK) == 0)
                return 1; /* the WAL files are there already and writable */
            snprintf(err, errlen,
                     "%s: cannot write beside the database: the directory %s is not writable"
                     " (%s), and the database's WAL mode needs %s-wal and %s-shm there;"
                     " left untouched",
                     path, dir, strerror(e), path, path);
            return 0;
        }
        return 1;
    }
    if (errno != ENOENT) {
        snprintf(err, errlen, "%s: cannot open or create the database: %s", path,
                 strerror(errno));
        return 0;
    }
    int found = stat(dir, &st) == 0;
    if (!found || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot open or create the database: %s: %s", path, dir,
                 strerror(found ? ENOTDIR : errno));
        return 0;
    }
    if (access(dir, W_OK) != 0) {
        snprintf(err, errlen,
                 "%s: cannot create the database: the directory %s is not writable (%s)", path,
                 dir, strerror(errno));
        return 0;
    }
    return 1;
}

/* sqlite3_exec, waiting (back_off) while the database is busy. */
static int open_exec(vdb *db, const char *sql)
{
    int rc;
    for (int n = 0; (rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL)) == SQLITE_BUSY &&
                    sqlite3_get_autocommit(db->h) && back_off(db, n);
         n++)
        ;
    return rc;
}

/* Fails the open with SQLite's message; what was begun is rolled back. */
static vram_status open_fail_rollback(vdb *db, char *err, size_t errlen, const char *what)
{
    char why[512];
    snprintf(why, sizeof why, "%s", sqlite3_errmsg(db->h));
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    if (err && errlen)
        snprintf(err, errlen, "%s: %s: %s", db->path, what, why);
    db_free(db);
    return VRAM_EIO;
}

vram_status vdb_open(const char *path, vdb **out, char *err, size_t errlen)
{
    return vdb_open_stop(path, NULL, out, err, errlen);
}

vram_status vdb_open_stop(const char *path, volatile sig_atomic_t *stop, vdb **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    char why[4096] = "";
    if (err && errlen)
        err[0] = '\0';
    if (!writable_place(path, why, sizeof why)) {
        if (err && errlen)
            snprintf(err, errlen, "%s", why);
        return VRAM_EIO;
    }
    size_t n = strlen(path) + 1;
    vdb *db = calloc(1, sizeof *db + n);
    if (!db)
        return VRAM_ENOHOST;
    memcpy(db->path, path, n);
    db->batch = DB_DEFAULT_BATCH;
    db->busy_timeout_ms = VDB_BUSY_TIMEOUT_MS;
    db->busy_seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15u ^ mono_ns();
    db->stop = stop;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        return open_fail(db, err, errlen, "cannot open or create the database");
    if (sqlite3_db_readonly(db->h, "main") == 1) {
        /* opened read-only: nothing has been read, so no WAL file was made */
        if (err && errlen)
            snprintf(err, errlen,
                     "%s: the database can only be opened read-only: no run can be logged into"
                     " it; left untouched",
                     path);
        db_free(db);
        return VRAM_EIO;
    }
    sqlite3_busy_handler(db->h, busy_handler, db);
    sqlite3_extended_result_codes(db->h, 0);
    if (!ours_or_empty(db, err, errlen)) {
        db_free(db);
        return VRAM_EIO;
    }
    /* journal_mode answers a row; the others none: all through exec. */
    if (open_exec(db, "PRAGMA journal_mode = WAL") != SQLITE_OK)
        return open_fail(db, err, errlen, "cannot use the database");
    if (open_exec(db, "PRAGMA synchronous = NORMAL") != SQLITE_OK ||
        open_exec(db, "PRAGMA temp_store = MEMORY") != SQLITE_OK ||
        open_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK ||
        sqlite3_exec(db->h, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
        return open_fail_rollback(db, err, errlen, "cannot create the schema");
    char version[96];
    snprintf(version, sizeof version,
             "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '%d')",
             VDB_SCHEMA_VERSION);
    if (sqlite3_exec(db->h, version, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return open_fail_rollback(db, err, errlen, "cannot create the schema");
    if (!schema_version_ok(db, err, errlen)) {
        db_free(db);
        return VRAM_EIO;
    }
    for (int t = 0; t < T_COUNT; t++) {
        char sql[160];
        snprintf(sql, sizeof sql, "CREATE TEMP TABLE stage_%s AS SELECT * FROM main.%s WHERE 0",
                 table_name[t], table_name[t]);
        if (open_exec(db, sql) != SQLITE_OK)
            return open_fail(db, err, errlen, "cannot create the staging tables");
    }
    for (int k = 0; k < ST_COUNT; k++)
        if (sqlite3_prepare_v3(db->h, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT, &db->st[k], NULL) !=
            SQLITE_OK)
            return open_fail(db, err, errlen, "cannot prepare statements");
    db->stop = NULL;
    *out = db;
    return VRAM_OK;
}

vram_status vdb_close(vdb *db, char *err, size_t errlen)
{
    if (!db)
        return VRAM_OK;
    vram_status st = db->failed ? VRAM_EIO : db_commit(db);
    if (st && err && errlen)
        snprintf(err, errlen, "%s", db->err);
    db_free(db);
    return st;
}

const char *vdb_error(const vdb *db) { return db->err; }
void vdb_set_batch(vdb *db, unsigned rows) { db->batch = rows ? rows : 1; }
void vdb_set_busy_timeout(vdb *db, unsigned ms) { db->busy_timeout_ms = ms; }
void vdb_inject_fault(vdb *db, uint64_t countdown, int persistent)
{
    db->fault_at = countdown;
    db->fault_persistent = persistent;
    db->faulting = 0;
}
uint64_t vdb_steps(const vdb *db) { return db->steps; }

vram_status vdb_run_begin(vdb *db, const vdb_run_info *in, int64_t *run_id)
{
    *run_id = 0;
    if (db->failed)
        return VRAM_EIO;
    /* The run row is committed on its own, before any row that refers to it. */
    if (db_commit(db))
        return VRAM_EIO;
    sqlite3_stmt *s = db->st[ST_RUN_BEGIN];
    bind_text(s, 1, in->trace);
    bind_text(s, 2, in->trace_crc32);
    bind_u64(s, 3, in->trace_bytes);
    bind_text(s, 4, in->model);
    bind_text(s, 5, in->engine);
    bind_text(s, 6, in->policy);
    bind_text(s, 7, in->backend);
    bind_text(s, 8, in->evict_policy);
    bind_u64(s, 9, in->capacity);
    bind_u64(s, 10, in->sample_every);
    bind_u64(s, 11, in->check_every);
    bind_text(s, 12, in->options);
    bind_text(s, 13, in->layout && in->layout[0] ? in->layout : NULL);
    bind_text(s, 14, VDB_TOOL_VERSION);
    bind_text(s, 15, in->defrag);
    bind_u64(s, 16, in->time_every);
    bind_text(s, 17, in->caching_conf);
    if (in->tensor_cache)
        bind_u64(s, 18, in->tensor_cache);
    char abs[PATH_MAX], rel[PATH_MAX]; /* where report finds the trace again */
    if (vsim_trace_paths(in->trace, db->path, abs, rel, sizeof abs)) {
        bind_text(s, 19, abs);
        bind_text(s, 20, rel);
    }
    if (db_step(db, s, "inserting the run"))
        return db_broken(db);
    *run_id = sqlite3_last_insert_rowid(db->h);
    return VRAM_OK;
}

vram_status vdb_sample_add(vdb *db, int64_t run, const vdb_sample *x)
{
    sqlite3_stmt *s = db->st[ST_SAMPLE];
    sqlite3_bind_int64(s, 1, run);
    bind_u64(s, 2, x->event_index);
    bind_u64(s, 3, x->line);
    bind_u64(s, 4, x->ts_us);
    bind_u64(s, 5, x->live_bytes);
    bind_u64(s, 6, x->requested);
    bind_u64(s, 7, x->in_use);
    bind_u64(s, 8, x->footprint);
    bind_u64(s, 9, x->reserved);
    bind_u64(s, 10, x->free_bytes);
    bind_u64(s, 11, x->largest_free);
    bind_u64(s, 12, x->free_blocks);
    sqlite3_bind_double(s, 13, x->ext_frag);
    bind_u64(s, 14, x->internal_waste);
    bind_u64(s, 15, x->handles);
    bind_u64(s, 16, x->resident_handles);
    bind_u64(s, 17, x->evictions);
    bind_u64(s, 18, x->bytes_rematerialised);
    sqlite3_bind_double(s, 19, x->modelled_ms);
    return db_row(db, ST_SAMPLE, "inserting a sample");
}

vram_status vdb_event_add(vdb *db, int64_t run, const vdb_event *e)
{
    sqlite3_stmt *s = db->st[ST_EVENT];
    sqlite3_bind_int64(s, 1, run);
    if (e->event_index)
        bind_u64(s, 2, e->event_index);
    if (e->line)
        bind_u64(s, 3, e->line);
    bind_text(s, 4, e->kind);
    bind_text(s, 5, e->op);
    if (e->op && !e->key)
        bind_u64(s, 6, e->id);
    bind_text(s, 7, e->key);
    if (e->size)
        bind_u64(s, 8, e->size);
    if (strcmp(e->kind, "oom") == 0) {
        bind_u64(s, 9, e->free_bytes);
        bind_u64(s, 10, e->largest_free);
        sqlite3_bind_int(s, 11, e->despite_free);
    }
    if (strcmp(e->kind, "eviction") == 0 || strcmp(e->kind, "defrag") == 0) {
        bind_u64(s, 12, e->count);
        bind_u64(s, 13, e->bytes);
    }
    if (strcmp(e->kind, "preempt") == 0)
        bind_u64(s, 13, e->bytes);
    bind_text(s, 14, e->message);
    return db_row(db, ST_EVENT, "inserting an event");
}

vram_status vdb_latency_add(vdb *db, int64_t run, const char *op, const vhist *h)
{
    for (unsigned b = 0; b < VHIST_BUCKETS; b++) {
        if (!h->buckets[b])
            continue;
        uint64_t lo, hi;
        vhist_bucket_range(b, &lo, &hi);
        sqlite3_stmt *s = db->st[ST_LATENCY];
        sqlite3_bind_int64(s, 1, run);
        bind_text(s, 2, op);
        bind_u64(s, 3, lo);
        bind_u64(s, 4, hi);
        bind_u64(s, 5, h->buckets[b]);
        vram_status st = db_row(db, ST_LATENCY, "inserting a latency bucket");
        if (st)
            return st;
    }
    sqlite3_stmt *s = db->st[ST_LATENCY_SUMMARY];
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, op);
    bind_u64(s, 3, h->count);
    if (h->count) {
        sqlite3_bind_double(s, 4, (double)h->sum / (double)h->count);
        bind_u64(s, 5, h->min);
        bind_u64(s, 6, vhist_quantile(h, 0.50));
        bind_u64(s, 7, vhist_quantile(h, 0.90));
        bind_u64(s, 8, vhist_quantile(h, 0.99));
        bind_u64(s, 9, vhist_quantile(h, 0.999));
        bind_u64(s, 10, h->max);
    }
    return db_row(db, ST_LATENCY_SUMMARY, "inserting a latency summary");
}

vram_status vdb_bounds_add(vdb *db, int64_t run, const vbounds *b)
{
    sqlite3_stmt *s = db->st[ST_BOUNDS];
    sqlite3_bind_int64(s, 1, run);
    bind_u64(s, 2, b->events);
    bind_u64(s, 3, b->capacity);
    bind_u64(s, 4, b->peak_live);
    bind_u64(s, 5, b->peak_live_event);
    bind_u64(s, 6, b->peak_live_line);
    bind_u64(s, 7, b->peak_live_kv);
    bind_u64(s, 8, b->peak_live_other);
    if (b->belady_done) {
        sqlite3_bind_int(s, 9, b->belady_exact);
        bind_u64(s, 10, b->evictable_size);
        bind_u64(s, 11, b->belady_evictions);
        bind_u64(s, 12, b->belady_rematerialisations);
        bind_u64(s, 13, b->belady_bytes_rematerialised);
        bind_u64(s, 14, b->belady_ooms);
        bind_u64(s, 15, b->belady_preemptions);
        bind_u64(s, 16, b->belady_preempted_bytes);
    }
    return db_row(db, ST_BOUNDS, "inserting the bounds");
}

vram_status vdb_serve_add(vdb *db, int64_t run, const struct vserve_result *r)
{
    sqlite3_stmt *s = db->st[ST_SERVE];
    const vengine_stats *e = &r->engine;
    sqlite3_bind_int64(s, 1, run);
    const uint64_t a[] = {r->kv_bytes, e->requests, e->rejected, e->finished, e->steps};
    for (int k = 0; k < 5; k++)
        bind_u64(s, 2 + k, a[k]);
    const double b[] = {r->modelled_s, r->tokens_per_s, r->mean_batch, r->queue_mean_ms,
                        r->queue_p99_ms, r->ttft_mean_ms, r->ttft_p99_ms};
    for (int k = 0; k < 7; k++)
        sqlite3_bind_double(s, 7 + k, b[k]);
    const uint64_t c[] = {e->preempt_by_cause[VENGINE_PREEMPT_BUDGET], e->preempt_by_cause[VENGINE_PREEMPT_PLACEMENT],
                          e->preempt_by_cause[VENGINE_PREEMPT_BUFFERS], e->admissions_refused, e->ooms};
    for (int k = 0; k < 5; k++)
        bind_u64(s, 14 + k, c[k]);
    const double d[] = {r->avg.tokens, r->avg.reserved, r->avg.waste, r->avg.free_unusable,
                        r->avg.free_usable, r->cpu_s};
    for (int k = 0; k < 6; k++)
        sqlite3_bind_double(s, 19 + k, d[k]);
    return db_row(db, ST_SERVE, "inserting the closed-loop outcomes");
}

vram_status vdb_kv_ledger_add(vdb *db, int64_t run, const struct vserve_sample *x)
{
    sqlite3_stmt *s = db->st[ST_KV_LEDGER];
    sqlite3_bind_int64(s, 1, run);
    const uint64_t v[] = {x->step, x->ts_us, x->dur_us, x->running, x->waiting, x->l.tokens,
                          x->l.reserved, x->l.waste, x->l.free_unusable, x->l.free_usable};
    for (int k = 0; k < 10; k++)
        bind_u64(s, 2 + k, v[k]);
    return db_row(db, ST_KV_LEDGER, "inserting a KV ledger sample");
}

static void bind_summary(sqlite3_stmt *s, const vdb_summary *m)
{
    const uint64_t ints[] = {m->events, m->steps, m->requests, m->skipped, m->errors, m->ooms,
                             m->ooms_despite_free, m->evictions, m->rematerialisations,
                             m->bytes_evicted, m->bytes_rematerialised, m->peak_footprint,
                             m->peak_in_use, m->peak_live};
    int i = 4;
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
        bind_u64(s, i++, ints[k]);
    if (m->samples)
        sqlite3_bind_double(s, i, m->worst_ext_frag);
    i++;
    bind_u64(s, i++, m->alloc_p50_ns);
    bind_u64(s, i++, m->alloc_p99_ns);
    bind_u64(s, i++, m->free_p50_ns);
    bind_u64(s, i++, m->free_p99_ns);
    sqlite3_bind_double(s, i++, m->modelled_ms);
    sqlite3_bind_double(s, i++, m->wall_s);
    sqlite3_bind_double(s, i++, m->events_per_s);
    bind_u64(s, i++, m->defrag_passes);
    bind_u64(s, i++, m->defrag_moves);
    bind_u64(s, i++, m->defrag_bytes_moved);
    bind_u64(s, i++, m->defrag_oom_saved);
    sqlite3_bind_double(s, i++, m->defrag_modelled_ms);
    if (m->has_unallocated)
        bind_u64(s, i, m->reserved_unallocated);
    i++;
    if (m->has_tensor_cache) {
        bind_u64(s, i, m->tc_hits);
        bind_u64(s, i + 1, m->tc_misses);
        bind_u64(s, i + 2, m->tc_idle_peak);
        bind_u64(s, i + 3, m->tc_peak_footprint);
    }
    i += 4;
    if (m->preempt_mode) {
        bind_text(s, i, m->preempt_mode);
        const uint64_t v2[] = {m->preemptions, m->preempted_bytes, m->restores, m->restore_waits,
                               m->recompute_tokens};
        for (size_t k = 0; k < sizeof v2 / sizeof v2[0]; k++)
            bind_u64(s, i + 1 + (int)k, v2[k]);
        sqlite3_bind_double(s, i + 6, m->preempt_modelled_ms);
    }
    i += 7;
    for (int k = 0; k < 4; k++)
        bind_u64(s, i + k, m->evictions_by_kind[k]);
    i += 4;
    const vrprefix_result *p = m->prefix;
    if (p) {
        bind_text(s, i, p->policy);
        const uint64_t a[] = {p->blocks, p->host_blocks, p->lookups, p->lookup_blocks,
                              p->hit_blocks, p->host_hit_blocks};
        for (size_t k = 0; k < sizeof a / sizeof a[0]; k++)
            bind_u64(s, i + 1 + (int)k, a[k]);
        sqlite3_bind_double(s, i + 7, p->hit_ratio);
        sqlite3_bind_double(s, i + 8, p->token_hit_ratio);
        bind_u64(s, i + 9, p->evictions);
        bind_u64(s, i + 10, p->alloc_failures);
        bind_u64(s, i + 11, p->saved_tokens);
        sqlite3_bind_double(s, i + 12, p->saved_ms);
        bind_u64(s, i + 13, p->lru_hits);
        bind_u64(s, i + 14, p->belady_hits);
        bind_u64(s, i + 15, p->unlimited_hits);
    }
}

/* Marks the run failed with the database's error as its detail, in one
 * autocommit update: the open batch is gone. If even that fails the run keeps
 * the status it was inserted with ('failed', not finished) and the error says so. */
static void mark_failed(vdb *db, int64_t run, const vdb_summary *sum)
{
    char keep[sizeof db->err];
    memcpy(keep, db->err, sizeof keep);
    sqlite3_stmt *s = db->st[ST_RUN_END];
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, "failed");
    bind_text(s, 3, keep);
    if (sum)
        bind_summary(s, sum);
    int rc = db_step(db, s, "marking the run");
    if (rc == SQLITE_OK)
        memcpy(db->err, keep, sizeof keep);
    else
        snprintf(db->err, sizeof db->err,
                 "%.500s (the run could not be marked: %s; it reads 'failed', not finished)", keep,
                 sqlite3_errstr(rc));
}

vram_status vdb_run_end(vdb *db, int64_t run, const char *status, const char *detail,
                        const vdb_summary *sum)
{
    if (!db->failed) {
        sqlite3_stmt *s = db->st[ST_RUN_END];
        sqlite3_bind_int64(s, 1, run);
        bind_text(s, 2, status);
        bind_text(s, 3, detail);
        if (sum)
            bind_summary(s, sum);
        /* The final status commits with the run's last rows. */
        if (db_flush(db, s, "marking the run") == VRAM_OK)
            return VRAM_OK;
        sqlite3_clear_bindings(s);
    }
    mark_failed(db, run, sum);
    return VRAM_EIO;
}
