DROP TABLE seal_state;
DROP TABLE seals;
