-- The closed-loop runs (bin/serve, docs/ENGINE_MODEL.md) for the serve comparison
-- (serve_figure.c, serve.gp): every run with a serve row that ended ok, oldest first: its
-- KV reservation style (runs.engine), heap policy, workload and model, the KV ledger's
-- shares of the KV region, each step's sample weighted by its modelled duration (as serve
-- computes serve.share_*; real arithmetic: a sum of bytes x microseconds overflows 64
-- bits), and its throughput. A run without a weighted sample has no shares and is left out.
SELECT r.id, r.engine, r.policy, r.trace, r.model,
       SUM(1.0 * l.tokens * l.dur_us) / SUM(l.dur_us) / s.kv_bytes AS tokens,
       SUM(1.0 * l.reserved * l.dur_us) / SUM(l.dur_us) / s.kv_bytes AS reserved,
       SUM(1.0 * l.waste * l.dur_us) / SUM(l.dur_us) / s.kv_bytes AS waste,
       SUM(1.0 * l.free_unusable * l.dur_us) / SUM(l.dur_us) / s.kv_bytes AS free_unusable,
       SUM(1.0 * l.free_usable * l.dur_us) / SUM(l.dur_us) / s.kv_bytes AS free_usable,
       s.tokens_per_s
FROM serve s JOIN runs r ON r.id = s.run_id JOIN kv_ledger l ON l.run_id = s.run_id
WHERE r.status = 'ok' AND s.kv_bytes > 0
GROUP BY s.run_id
HAVING SUM(l.dur_us) > 0
ORDER BY r.id
