-- One run's first forced preemption (?1 = runs.id): its event, the request
-- preempted, the op and bytes whose placement failed, the bytes dropped; no
-- row without one. The third heap map is drawn just before that event.
SELECT event_index, id, op, size, bytes FROM events
WHERE run_id = ?1 AND kind = 'preempt' ORDER BY event_index LIMIT 1
