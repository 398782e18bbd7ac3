-- The CDF of one run's measured latency for one op (?1 = runs.id, ?2 = op),
-- for latency.gp: 1 the bucket's upper bound in ns, 2 the fraction of calls at
-- or below it (histogram buckets, sim/replay/hist.h: upper bounds <= 6.25% high).
SELECT hi_ns,
       CAST(SUM(count) OVER (ORDER BY lo_ns) AS REAL) / SUM(count) OVER () AS fraction
FROM latency WHERE run_id = ?1 AND op = ?2 AND count > 0
ORDER BY lo_ns
