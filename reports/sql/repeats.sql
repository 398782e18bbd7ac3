-- The repeats of one run (?1 = runs.id), itself included: the runs of its
-- database that ended ok with the same trace and every setting that changes
-- what is replayed or how it is timed (reports/spread.h), with their measured
-- latency quantiles (ns, NULL when the op was not timed).
SELECT o.id, o.alloc_p50_ns, o.alloc_p99_ns, o.free_p50_ns, o.free_p99_ns
FROM runs r JOIN runs o
  ON o.trace_crc32 IS r.trace_crc32 AND o.policy = r.policy AND o.capacity = r.capacity
 AND o.backend = r.backend AND o.evict_policy IS r.evict_policy AND o.defrag IS r.defrag
 AND o.caching_conf IS r.caching_conf AND o.tensor_cache IS r.tensor_cache
 AND o.preempt_mode IS r.preempt_mode AND o.layout IS r.layout
 AND o.check_every IS r.check_every AND o.time_every IS r.time_every
 AND o.tool_version = r.tool_version
WHERE r.id = ?1 AND (o.status = 'ok' OR o.id = r.id)
ORDER BY o.id
