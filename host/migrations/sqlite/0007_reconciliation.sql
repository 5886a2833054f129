-- Reconciliation runs: what each read on a target, how it classified every
-- account, and what it did. A dry run keeps its full plan, so applying it
-- executes exactly those items.

CREATE TABLE recon_runs (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    class TEXT NOT NULL,
    state TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    summary TEXT NOT NULL
);
CREATE INDEX recon_runs_target ON recon_runs (target, started_at);

CREATE TABLE recon_items (
    run TEXT NOT NULL,
    seq INTEGER NOT NULL,
    situation TEXT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);
CREATE INDEX recon_items_situation ON recon_items (run, situation, seq);

-- Live reconciliation: where each target's next `sync` starts.
CREATE TABLE recon_cursors (
    target TEXT NOT NULL,
    class TEXT NOT NULL,
    token TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (target, class)
);
