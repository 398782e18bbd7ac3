-- Every run id, for "no run with id N" messages and --runs checks.
SELECT id FROM runs ORDER BY id
