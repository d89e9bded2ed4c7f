-- The data generation counter moves once per transaction, not once per row written:
-- the summaries only need to see that it changed, and thousands of updates of the one
-- counter row in a transaction (a bulk load, an import) each walk the row's growing
-- chain of versions. The first deferred trigger of a transaction bumps it and notes that
-- in a transaction-local setting; the others see the note and return.
CREATE OR REPLACE FUNCTION bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('liuyan.generation_bumped', true) = 'yes' THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('liuyan.generation_bumped', 'yes', true);
  UPDATE data_generation SET n = n + 1;
  RETURN NULL;
END;
$$;
