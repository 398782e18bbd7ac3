-- One run's heap samples over the trace (?1 = runs.id), for footprint.gp,
-- frag.gp and evictions.gp. Columns by position: 1 event_index, 2 footprint,
-- 3 reserved, 4 live_bytes, 5 ext_frag, 6 internal_waste, 7 free_blocks,
-- 8 largest_free, 9 evictions, 10 bytes_rematerialised (cumulative), 11 ts_us.
SELECT event_index, footprint, reserved, live_bytes, ext_frag, internal_waste,
       free_blocks, largest_free, evictions, bytes_rematerialised, ts_us
FROM samples WHERE run_id = ?1 ORDER BY event_index
