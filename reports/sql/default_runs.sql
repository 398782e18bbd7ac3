-- The runs reported when --runs is not given: the newest finished run of each
-- policy over the trace (path and CRC) of the newest finished run in the
-- database. Finished: marked at its end (ok, failed or interrupted; ended is
-- set). A run never marked - in progress, or killed before its end - is left
-- out (sql/unfinished_runs.sql names it); --runs reports one as it stands.
WITH newest AS (SELECT trace, trace_crc32 FROM runs WHERE ended IS NOT NULL
                ORDER BY id DESC LIMIT 1)
SELECT MAX(r.id) AS id
FROM runs r JOIN newest n ON r.trace = n.trace AND r.trace_crc32 IS n.trace_crc32
WHERE r.ended IS NOT NULL
GROUP BY r.policy
ORDER BY id
