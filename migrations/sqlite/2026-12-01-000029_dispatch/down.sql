DROP TABLE dispatch_state;
DROP TABLE dispatch_proposals;
DROP TABLE dispatch_subjects;
DROP TABLE dispatch_seeds;
DROP TABLE dispatch_models;
