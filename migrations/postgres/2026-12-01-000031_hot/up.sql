-- 热点发现. What each message names and its 点赞 + 反对, read once when it arrives, so
-- that a recomputation reads no text twice.
CREATE TABLE hot_features (
    message_id INTEGER PRIMARY KEY NOT NULL REFERENCES messages(id),
    -- Place and object names, '|'-separated (names hold only Chinese characters and digits).
    names TEXT NOT NULL,
    votes INTEGER NOT NULL,
    -- The centre's dictionary of names (热点地名/对象) the names were read with, by its
    -- digest: a changed dictionary has the last year's names read again.
    dict BIGINT NOT NULL
);
CREATE INDEX hot_features_dict ON hot_features (dict);
-- The clusters: figures as of their last update; a clerk's name, status and mark.
CREATE TABLE hot_clusters (
    id SERIAL PRIMARY KEY,
    place TEXT NOT NULL,
    name TEXT,
    description TEXT NOT NULL,
    first_at TIMESTAMP NOT NULL,
    last_at TIMESTAMP NOT NULL,
    messages INTEGER NOT NULL,
    users INTEGER NOT NULL,
    votes INTEGER NOT NULL,
    heat DOUBLE PRECISION NOT NULL,
    growth DOUBLE PRECISION NOT NULL,
    warning BOOLEAN NOT NULL,
    -- 'open' or 'dismissed' (撤销: not a hot issue).
    status TEXT NOT NULL,
    -- 标为热点: reported in the 督办通报.
    marked BOOLEAN NOT NULL,
    -- A clerk has acted on it: it is kept by id and its members stay (pinned).
    fixed BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX hot_clusters_heat ON hot_clusters (status, heat);
CREATE INDEX hot_clusters_updated ON hot_clusters (updated_at);
CREATE TABLE hot_members (
    message_id INTEGER PRIMARY KEY NOT NULL REFERENCES messages(id),
    cluster_id INTEGER NOT NULL REFERENCES hot_clusters(id),
    pinned BOOLEAN NOT NULL
);
CREATE INDEX hot_members_cluster ON hot_members (cluster_id);
