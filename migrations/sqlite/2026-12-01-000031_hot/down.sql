DROP TABLE hot_members;
DROP TABLE hot_clusters;
DROP TABLE hot_features;
