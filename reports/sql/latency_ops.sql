-- The ops one run measured often enough to draw (?1 = runs.id), in the
-- replayer's order: at least 20 timed calls (fewer make no distribution worth
-- a panel: a trace's one acquire is left out).
SELECT op FROM latency_summary WHERE run_id = ?1 AND count >= 20
ORDER BY CASE op WHEN 'alloc' THEN 1 WHEN 'free' THEN 2 WHEN 'use' THEN 3
                 WHEN 'acquire' THEN 4 WHEN 'release' THEN 5 ELSE 6 END
