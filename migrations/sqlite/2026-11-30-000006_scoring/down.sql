DROP TABLE return_marks;
DROP TABLE score_results;
DROP TABLE score_entries;
DROP TABLE score_years;
