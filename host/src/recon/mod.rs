//! Reconciliation: what every target really holds, compared with what
//! Provisio expects, and repaired safely.
//!
//! `index` holds what a run keeps while it pages (the links, the
//! correlation rules' identities); `classify` gives one account its
//! situation and what its reaction would submit, comparing a linked
//! account with the identity's plan made against the account as read;
//! `run` pages, stores every item, checks the deletion budget and starts
//! applying; `apply` executes exactly the stored items, skipping those
//! whose account changed since (`stale`); `live` polls the connector's
//! `sync` and classifies what changed; `report` writes a run as CSV.
//! docs/reconciliation.md is the operator's guide.

mod apply;
mod classify;
mod error;
mod index;
mod live;
mod model;
mod report;
mod run;

pub use error::ReconError;
pub use model::{Applied, Budget, Diff, Item, ItemResult, Outcome, RunState};
pub use report::csv_report;
pub use run::{ReconciliationView, Reconciliations};
