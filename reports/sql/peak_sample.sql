-- The moment of one run's peak footprint as sampled (?1 = runs.id): the
-- first sample with the highest footprint; the heap map is drawn there.
SELECT event_index, line, footprint FROM samples WHERE run_id = ?1
ORDER BY footprint DESC, event_index ASC LIMIT 1
