-- Which host run is which: the store's own id (made once, at random) and
-- one row per start of a host on it. A start's token `<store id>.<run>`
-- is handed to connectors, so that a lock file an earlier run of this
-- host left behind (its process is gone: this one holds the store's lock)
-- is known stale at once.

CREATE TABLE store_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    store_id TEXT NOT NULL
);
INSERT INTO store_identity (id, store_id) VALUES (1, lower(hex(randomblob(16))));

CREATE TABLE host_runs (
    run INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at INTEGER NOT NULL,
    pid INTEGER NOT NULL
);
