-- Identities: what should be true about a person (profile, roles, status,
-- dates), as the API or a source last said. `state` is the identity
-- layer's JSON; the store does not look inside.

CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    -- The next moment a date in the state passes (a role's start or end,
    -- the start or end date), when the identity is planned again.
    review_at INTEGER,
    -- The authoritative source that last set the state, if one did.
    source TEXT
);
CREATE INDEX identities_source ON identities (source, id) WHERE source IS NOT NULL;
CREATE INDEX identities_review ON identities (review_at) WHERE review_at IS NOT NULL;

-- What Provisio last asked each target for on an identity's behalf: the
-- values its policy map wrote and the groups its roles gave, so that a
-- mover loses only what Provisio gave, `create_only` values are written
-- once, and an account being created is not planned twice.
CREATE TABLE identity_accounts (
    identity TEXT NOT NULL,
    target TEXT NOT NULL,
    class TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (identity, target, class)
);

-- Runs of authoritative sources: what each read, decided and did. A run
-- the deletion guard stopped keeps its decided items, so confirming it
-- applies exactly those.
CREATE TABLE source_runs (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    state TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    summary TEXT NOT NULL
);
CREATE INDEX source_runs_source ON source_runs (source, started_at);

CREATE TABLE source_run_items (
    run TEXT NOT NULL,
    seq INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);
