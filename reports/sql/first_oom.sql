-- The event of one run's first OOM (?1 = runs.id), NULL without one; the
-- second heap map is drawn there.
SELECT MIN(event_index) FROM events WHERE run_id = ?1 AND kind = 'oom'
