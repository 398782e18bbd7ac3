-- Every run of the database, oldest first, with every column of the runs
-- table under its own name (report --list; --json and --csv print them all).
SELECT * FROM runs ORDER BY id
