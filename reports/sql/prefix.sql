-- The prefix cache's runs (replay over a trace with prefix events, sim/replay/replay_prefix.c)
-- for the hit ratio against capacity (prefix_figure.c, prefix.gp): every run with a prefix
-- cache, one row each: the trace (by its CRC-32, else its path: the same file under two paths is
-- one trace), the curve it belongs to (prefix policy and host tier: the tier's hits count in the
-- ratio), the cache's device blocks, its block-weighted hit ratio and the references over the
-- same block stream at those blocks as ratios of the blocks looked up (NULL without any), and
-- whether it counts: ended ok and looked up at least one block. Nothing here depends on the
-- heap policy or the device: the prefix events never touch the allocators, so every heap
-- policy's run is a repeat (the report draws the median of the runs at one trace, curve and
-- capacity).
SELECT COALESCE(trace_crc32, trace) AS trace_key, trace, trace_crc32, prefix_policy,
       prefix_host_blocks,
       prefix_blocks, prefix_hit_ratio,
       1.0 * prefix_lru_hits / prefix_lookup_blocks AS lru,
       1.0 * prefix_belady_hits / prefix_lookup_blocks AS belady,
       1.0 * prefix_unlimited_hits / prefix_lookup_blocks AS unlimited,
       status = 'ok' AND prefix_lookup_blocks > 0 AS counted
FROM runs
WHERE prefix_policy IS NOT NULL
ORDER BY trace_key, id
