-- Column order only: nothing to undo.
SELECT 1;
