-- The runs never marked at their end (ended NULL: in progress, or killed
-- before their end), oldest first, for the notes on what the default
-- selection leaves out.
SELECT id, policy FROM runs WHERE ended IS NULL ORDER BY id
