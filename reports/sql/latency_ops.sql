-- The ops one run measured (?1 = runs.id), in the replayer's order.
SELECT op FROM latency_summary WHERE run_id = ?1 AND count > 0
ORDER BY CASE op WHEN 'alloc' THEN 1 WHEN 'free' THEN 2 WHEN 'use' THEN 3
                 WHEN 'acquire' THEN 4 WHEN 'release' THEN 5 ELSE 6 END
