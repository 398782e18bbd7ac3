-- The vramlab results database, written by `replay` (sim/results/db.c; this file is
-- vdb_schema_sql() verbatim, a test keeps them equal). Query it with the sqlite3
-- shell, e.g.
--   the summary of every finished run, with the lower bound beside it:
--     SELECT r.id, r.policy, r.peak_footprint, 1.0 * r.peak_footprint / b.peak_live AS ratio,
--            r.ooms, r.ooms_despite_free, r.evictions, b.belady_evictions
--     FROM runs r LEFT JOIN bounds b ON b.run_id = r.id WHERE r.status = 'ok';
--   footprint and fragmentation over the trace for run 1:
--     SELECT event_index, ts_us, footprint, live_bytes, ext_frag FROM samples WHERE run_id = 1;
--   every OOM that happened although enough bytes were free:
--     SELECT run_id, line, op, size, free_bytes, largest_free FROM events
--     WHERE kind = 'oom' AND despite_free = 1;
-- Sizes are bytes, times ns unless a column name says otherwise; NULL = not known.
-- A run's status (runs.status): its row is inserted as 'failed' with no end time and
-- the detail 'not finished ...', and becomes 'ok' only in the transaction that holds
-- its last rows, so a run that did not finish never reads 'ok':
--   ok           finished; every row of the run is there
--   failed       ended (ended not NULL): a trace error, an invariant violation, a library
--                or database failure (detail says which, with file:line when known);
--                not finished (ended NULL): in progress, or the process was killed or
--                crashed, or the database failed even while marking the run
--   interrupted  SIGINT or SIGTERM ended it (detail: the event and line reached)
--   running      only in databases of earlier versions: not finished, as failed above
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,          -- 'schema_version'
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  trace TEXT NOT NULL,           -- trace path as given on the command line
  trace_crc32 TEXT,              -- CRC-32 (hex) of the trace file's bytes
  trace_bytes INTEGER,           -- size of the trace file
  trace_abs TEXT,                -- its absolute path when the run began (NULL: unresolved)
  trace_rel TEXT,                -- its path from the database's directory then (report finds
                                 -- the trace by it when both moved)
  model TEXT, engine TEXT,       -- from the trace header
  policy TEXT NOT NULL,          -- heap policy: bestfit, buddy, tlsf, pool, caching
  backend TEXT NOT NULL,         -- sim or cuda
  evict_policy TEXT,             -- prio-lru, lru, cost (NULL = the manager's default)
  capacity INTEGER NOT NULL,     -- device bytes
  sample_every INTEGER, check_every INTEGER,
  time_every INTEGER,            -- one call in time_every was timed (1: all)
  options TEXT,                  -- the command line
  defrag TEXT,                   -- off, on-oom, or every=N
  layout TEXT,                   -- how the policy was laid out (pool: the KV/other split)
  tool_version TEXT NOT NULL,
  started TEXT NOT NULL,         -- UTC, ISO 8601
  ended TEXT,                    -- NULL: not finished (see the statuses above)
  status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'interrupted')),
  detail TEXT,                   -- why failed, not finished or interrupted (file:line when known)
  -- summary columns, filled when the run ends
  events INTEGER,                -- trace events replayed
  steps INTEGER, requests INTEGER, -- step and request-begin markers
  skipped INTEGER,               -- free/use/release of ids whose allocation had failed
  errors INTEGER,                -- requests the policy refused (events.kind = 'error')
  ooms INTEGER,                  -- = count of events.kind = 'oom'
  ooms_despite_free INTEGER,     -- ... of which total free bytes were >= the request
  evictions INTEGER, rematerialisations INTEGER,
  bytes_evicted INTEGER, bytes_rematerialised INTEGER,
  peak_footprint INTEGER,        -- heap footprint high-water mark (every event)
  peak_in_use INTEGER,
  peak_live INTEGER,             -- requested bytes of live, placed allocations
  worst_ext_frag REAL,           -- max over samples of 1 - largest_free / free_bytes (NULL: none)
  alloc_p50_ns INTEGER, alloc_p99_ns INTEGER, free_p50_ns INTEGER, free_p99_ns INTEGER,
  defrag_passes INTEGER, defrag_moves INTEGER, defrag_bytes_moved INTEGER,
  defrag_oom_saved INTEGER,      -- allocations that failed and fit after an automatic pass
  defrag_modelled_ms REAL,       -- the cost model's time for the moves' copies
  caching_conf TEXT,             -- caching policy settings as given (PYTORCH_CUDA_ALLOC_CONF
                                 -- syntax); NULL = defaults or another policy
  reserved_unallocated INTEGER,  -- caching: reserved - allocated when reserved peaked, as
                                 -- PyTorch's OOM message reports it (NULL: other policies)
  tensor_cache INTEGER,          -- bytes of the tensor cache for activations/workspaces (NULL: none)
  tc_hits INTEGER, tc_misses INTEGER, -- its acquires served from an idle buffer, and not
  tc_idle_peak INTEGER,          -- the most bytes it held idle (not handed out) at once
  tc_peak_footprint INTEGER,     -- its heap's peak footprint (included in peak_footprint)
  -- version-2 traces (traces/FORMAT.md, Needed memory; NULL for version 1):
  preempt_mode TEXT,             -- recompute or swap: how a forced preemption drops KV
  preemptions INTEGER,           -- forced preemptions: only a running request's memory
                                 -- could make room, so the newest request was preempted
  preempted_bytes INTEGER,       -- bytes those preemptions dropped
  restores INTEGER,              -- preempted requests brought back at a later step
  restore_waits INTEGER,         -- steps at which one did not fit and waited
  recompute_tokens INTEGER,      -- KV tokens recomputed (recompute mode)
  preempt_modelled_ms REAL,      -- their modelled cost: recompute at the prefill rate or
                                 -- the swap copies (docs/COST_MODEL.md)
  -- evictions by kind of what the policy evicted (preemptions not included); they sum to
  -- evictions (the rest: activation, workspace, other)
  evictions_weight INTEGER, evictions_kv INTEGER, evictions_adapter INTEGER,
  evictions_other INTEGER,
  -- the prefix cache (a trace with prefix events, traces/FORMAT.md; NULL otherwise):
  prefix_policy TEXT,            -- its eviction policy (vram/prefix_cache.h)
  prefix_blocks INTEGER,         -- its device blocks (running requests' and cached)
  prefix_host_blocks INTEGER,    -- entries of its host tier (0: none)
  prefix_lookups INTEGER,        -- lookup events
  prefix_lookup_blocks INTEGER,  -- full blocks they asked for
  prefix_hit_blocks INTEGER,     -- of those, found on the device tier
  prefix_host_hit_blocks INTEGER, -- ... found on the host tier and copied back
  prefix_hit_ratio REAL,         -- (hit + host hit blocks) / lookup blocks
  prefix_token_hit_ratio REAL,   -- hit tokens / the lookups' tokens
  prefix_evictions INTEGER,      -- cached blocks evicted from the device tier
  prefix_alloc_failures INTEGER, -- blocks a request could not get (every block held)
  prefix_saved_tokens INTEGER,   -- prefill tokens the hits spared
  prefix_saved_ms REAL,          -- their prefill time at the trace's rate, less host copies
  -- references over the same block stream at prefix_blocks (sim/replay/prefix_ref.h): textbook
  -- LRU, Belady (the optimum) and an unlimited cache, in hit blocks
  prefix_lru_hits INTEGER, prefix_belady_hits INTEGER, prefix_unlimited_hits INTEGER,
  modelled_ms REAL,              -- the device cost model's time (with recompute time)
  wall_s REAL, events_per_s REAL -- measured: the replay loop (the parse too past --stream-memory)
);
CREATE TABLE IF NOT EXISTS samples (  -- every --sample-every events
  run_id INTEGER NOT NULL REFERENCES runs(id),
  event_index INTEGER NOT NULL,  -- 1-based index of the event after which it was taken
  line INTEGER, ts_us INTEGER,   -- that event's trace line and timestamp
  live_bytes INTEGER,            -- requested bytes of live, placed allocations
  requested INTEGER,             -- requested bytes of resident blocks
  in_use INTEGER,                -- bytes of used blocks (rounded sizes)
  footprint INTEGER,             -- bytes the policy needs from the device now
  reserved INTEGER,              -- bytes in live device segments
  free_bytes INTEGER, largest_free INTEGER, free_blocks INTEGER,
  ext_frag REAL,                 -- 1 - largest_free / free_bytes (0 when nothing is free;
                                 -- pool layout: of its bestfit lane, pool blocks never fragment)
  internal_waste INTEGER,        -- in_use - requested
  handles INTEGER, resident_handles INTEGER,
  evictions INTEGER, bytes_rematerialised INTEGER, -- cumulative
  modelled_ms REAL,              -- cumulative
  PRIMARY KEY (run_id, event_index)
);
CREATE TABLE IF NOT EXISTS latency (  -- measured op latency, histogram buckets
  run_id INTEGER NOT NULL REFERENCES runs(id),
  op TEXT NOT NULL,              -- alloc, free, use, acquire, release
  lo_ns INTEGER NOT NULL,        -- the bucket covers [lo_ns, hi_ns]
  hi_ns INTEGER NOT NULL,
  count INTEGER NOT NULL,        -- timed calls (all calls of the op when runs.time_every = 1)
  PRIMARY KEY (run_id, op, lo_ns)
);
CREATE TABLE IF NOT EXISTS latency_summary (  -- quantiles: bucket upper bounds, <= 6.25% high
  run_id INTEGER NOT NULL REFERENCES runs(id),
  op TEXT NOT NULL,
  count INTEGER NOT NULL,        -- = SUM(latency.count) of the op
  mean_ns REAL, min_ns INTEGER, p50_ns INTEGER, p90_ns INTEGER, p99_ns INTEGER,
  p999_ns INTEGER, max_ns INTEGER,
  PRIMARY KEY (run_id, op)
);
CREATE TABLE IF NOT EXISTS events (  -- notable events
  run_id INTEGER NOT NULL REFERENCES runs(id),
  event_index INTEGER,           -- 1-based index in the trace (NULL: not tied to one)
  line INTEGER,                  -- trace line
  kind TEXT NOT NULL CHECK (kind IN ('oom', 'eviction', 'defrag', 'violation', 'trace_error',
                                     'error', 'preempt')),
                                 -- eviction: the evictions since the previous sample, logged
                                 -- at a sample (event_index, line: the sampled event);
                                 -- defrag: one --defrag every=N pass (count: handles moved);
                                 -- preempt: a forced preemption (runs.preemptions), the
                                 -- event whose placement failed with nothing evictable
  op TEXT,                       -- the trace event: alloc, free, use, acquire, release
  id INTEGER, key TEXT,          -- trace id or shared key; preempt: the request preempted
  size INTEGER,                  -- bytes requested (preempt: the placement that failed)
  free_bytes INTEGER,            -- oom: total free bytes at the failure
  largest_free INTEGER,          -- oom: the largest free block at the failure
  despite_free INTEGER,          -- oom: 1 when free_bytes >= size
  count INTEGER, bytes INTEGER,  -- eviction: handles and bytes evicted; defrag: moved;
                                 -- preempt: bytes the preemption dropped (bytes only)
  message TEXT
);
CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, kind);
CREATE TABLE IF NOT EXISTS bounds (  -- references computed from the trace alone
  run_id INTEGER PRIMARY KEY REFERENCES runs(id),
  events INTEGER,
  capacity INTEGER,              -- device bytes Belady ran with
  peak_live INTEGER,             -- lower bound on footprint: no policy can use less
  peak_live_event INTEGER, peak_live_line INTEGER,
  peak_live_kv INTEGER,          -- peak of block-sized KV allocations and 'kv:' keys alone
  peak_live_other INTEGER,       -- peak of everything else (what bestfit gets in the pool layout)
  belady_exact INTEGER,          -- 1: evictable items share one size, Belady is optimal;
                                 -- 0: mixed sizes, a reference and not a bound; NULL: not run
  evictable_size INTEGER,
  belady_evictions INTEGER, belady_rematerialisations INTEGER,
  belady_bytes_rematerialised INTEGER, belady_ooms INTEGER,
  belady_preemptions INTEGER,    -- version 2: forced preemptions under the same rules
  belady_preempted_bytes INTEGER
);
CREATE TABLE IF NOT EXISTS serve (  -- a closed-loop run's outcomes (bin/serve, docs/ENGINE_MODEL.md)
  run_id INTEGER PRIMARY KEY REFERENCES runs(id),
  kv_bytes INTEGER,              -- the KV region: the planner's KV budget, the policy's heap
  requests INTEGER, rejected INTEGER, finished INTEGER, steps INTEGER,
  modelled_s REAL,               -- engine time at the end
  tokens_per_s REAL,             -- generated tokens (finished requests) per modelled second
  mean_batch REAL,               -- running requests per step
  queue_mean_ms REAL, queue_p99_ms REAL, -- arrival to first admission, modelled
  ttft_mean_ms REAL, ttft_p99_ms REAL,   -- arrival to first token, modelled
  preempt_budget INTEGER,        -- preemptions: the KV budget was full
  preempt_placement INTEGER,     -- ... within the budget, the KV heap could not place it
  preempt_buffers INTEGER,       -- ... the step's activation or workspace could not be placed
  admissions_refused INTEGER,    -- admissions undone: the KV heap could not place them
  ooms INTEGER,                  -- steps run without their buffers
  -- the KV ledger's shares of kv_bytes, weighted by step duration (they sum to 1)
  share_tokens REAL, share_reserved REAL, share_waste REAL,
  share_free_unusable REAL, share_free_usable REAL,
  cpu_s REAL                     -- the run's CPU time
);
CREATE TABLE IF NOT EXISTS kv_ledger (  -- closed loop: the KV region after each step's placements
  run_id INTEGER NOT NULL REFERENCES runs(id),
  step INTEGER NOT NULL, ts_us INTEGER, -- the step and its start, engine time
  dur_us INTEGER,                -- the step's modelled duration (the sample's weight)
  running INTEGER, waiting INTEGER,
  -- bytes; they add up to serve.kv_bytes: token states, reserved for running requests' future
  -- tokens, internal waste (slots no token will fill, heap rounding), free in pieces smaller
  -- than the next KV allocation (external fragmentation), free usable
  tokens INTEGER, reserved INTEGER, waste INTEGER, free_unusable INTEGER, free_usable INTEGER,
  PRIMARY KEY (run_id, step)
);
