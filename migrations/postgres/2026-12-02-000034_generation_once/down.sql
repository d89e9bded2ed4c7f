CREATE OR REPLACE FUNCTION bump_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE data_generation SET n = n + 1;
  RETURN NULL;
END;
$$;
