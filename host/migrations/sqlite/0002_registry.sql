-- The connector registry: every connector version the host ever loaded
-- (its .wasm lives in the content-addressed directory under its sha256),
-- and which version each target runs.

CREATE TABLE connector_versions (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    contract TEXT NOT NULL,
    size INTEGER NOT NULL,
    -- upload, config or bundled
    source TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
CREATE INDEX connector_versions_name ON connector_versions (name, added_at);

CREATE TABLE deployments (
    target TEXT PRIMARY KEY,
    active TEXT NOT NULL REFERENCES connector_versions (sha256),
    previous TEXT REFERENCES connector_versions (sha256),
    -- The connector the configuration named when this was last set: when
    -- the configuration names another, that counts as a deploy at start.
    configured TEXT NOT NULL,
    switched_at INTEGER NOT NULL,
    switched_by TEXT NOT NULL
);
