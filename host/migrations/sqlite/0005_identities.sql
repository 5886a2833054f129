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
    review_at INTEGER
);
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
