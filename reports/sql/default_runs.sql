-- The runs reported when --runs is not given: the newest run of each policy
-- over the trace (path and CRC) of the newest run in the database.
WITH newest AS (SELECT trace, trace_crc32 FROM runs ORDER BY id DESC LIMIT 1)
SELECT MAX(r.id) AS id
FROM runs r JOIN newest n ON r.trace = n.trace AND r.trace_crc32 IS n.trace_crc32
GROUP BY r.policy
ORDER BY id
