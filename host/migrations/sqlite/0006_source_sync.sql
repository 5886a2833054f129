-- Sources read through their connector's `sync`: where each source's last
-- applied run left off, and which identity each record set (a `delete`
-- delta names only the record, and the leaver is the identity it set).

CREATE TABLE source_cursors (
    source TEXT PRIMARY KEY,
    class TEXT NOT NULL,
    token TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE source_records (
    source TEXT NOT NULL,
    record TEXT NOT NULL,
    identity TEXT NOT NULL,
    PRIMARY KEY (source, record)
);
