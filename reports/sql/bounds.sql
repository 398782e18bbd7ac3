-- The references one run was replayed with (?1 = runs.id); the heap map
-- re-run needs peak_live_other for the pool layout.
SELECT events, capacity, peak_live, peak_live_event, peak_live_line, peak_live_kv,
       peak_live_other
FROM bounds WHERE run_id = ?1
