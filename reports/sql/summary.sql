-- One run's summary row (?1 = runs.id) for summary.md and index.html; the
-- report reads the columns by these names. footprint_ratio is peak footprint
-- over the peak-live lower bound (NULL without a bounds row). The preemption
-- columns are NULL for runs of version-1 traces (no preempt_mode), Belady's
-- too (its pass counts 0 there). waste_at_peak and free_at_peak are the internal
-- waste and footprint - in_use of the first sample with the highest footprint
-- (peak_sample_event; the verdict's why, sim/replay/verdict.h); last_ts_us is NULL or 0
-- for a trace without timestamps.
SELECT r.id, r.policy, r.status, r.ended, r.backend, r.trace, r.trace_crc32, r.evict_policy,
       r.options, r.defrag, r.layout, r.detail, r.capacity, r.events, r.sample_every,
       r.peak_footprint, b.peak_live,
       CAST(r.peak_footprint AS REAL) / NULLIF(b.peak_live, 0) AS footprint_ratio,
       r.worst_ext_frag, r.ooms, r.ooms_despite_free,
       r.evictions, b.belady_evictions, b.belady_exact,
       r.bytes_rematerialised, b.belady_bytes_rematerialised,
       r.alloc_p50_ns, r.alloc_p99_ns, r.free_p50_ns, r.free_p99_ns,
       r.preempt_mode, r.preemptions, r.preempted_bytes, r.restores, r.preempt_modelled_ms,
       CASE WHEN r.preempt_mode IS NOT NULL THEN b.belady_preemptions END
         AS belady_preemptions,
       r.evictions_weight, r.evictions_kv, r.evictions_adapter, r.evictions_other,
       r.modelled_ms, r.caching_conf, r.tensor_cache, r.tool_version, r.check_every,
       r.time_every, r.model, r.engine, r.trace_abs, r.trace_rel,
       (SELECT COUNT(*) FROM samples s WHERE s.run_id = r.id) AS samples,
       p.internal_waste AS waste_at_peak, p.footprint - p.in_use AS free_at_peak,
       p.event_index AS peak_sample_event,
       (SELECT MAX(ts_us) FROM samples s WHERE s.run_id = r.id) AS last_ts_us
FROM runs r LEFT JOIN bounds b ON b.run_id = r.id
LEFT JOIN samples p ON p.run_id = r.id AND p.event_index =
  (SELECT event_index FROM samples s WHERE s.run_id = r.id
   ORDER BY footprint DESC, event_index ASC LIMIT 1)
WHERE r.id = ?1
