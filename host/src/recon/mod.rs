//! Reconciliation: what every target really holds, compared with what
//! Provisio expects, and repaired safely.
//!
//! `index` holds what a run keeps while it pages (the links, the
//! correlation rules' identities); `classify` gives one account its
//! situation and what its reaction would submit, comparing a linked
//! account with the identity's plan made against the account as read;
//! `read` pages through the target and classifies each page; `run`
//! starts, stores, resumes, checks the deletion budget and starts
//! applying; `apply` executes exactly the stored items, skipping those
//! whose account changed since (`stale`); `live` polls the connector's
//! `sync` and classifies what changed; `report` writes a run as CSV;
//! `view` is a run as the API shows it.
//! docs/reconciliation.md is the operator's guide.

mod apply;
mod classify;
mod error;
mod index;
mod live;
mod model;
mod read;
mod report;
mod run;
mod view;

pub use error::ReconError;
pub use model::{Applied, Budget, Diff, Item, ItemResult, Outcome, RunState};
pub use report::csv_report;
pub use run::Reconciliations;
pub use view::ReconciliationView;
