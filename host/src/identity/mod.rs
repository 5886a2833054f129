//! Identities: what should be true about a person — profile, roles,
//! status, dates — turned into plans per target (create, update with only
//! what differs, groups, disable, deprovision), and the plans submitted as
//! ordinary engine operations.
//!
//! `model` is the desired state and its checks; `policy` the roles and
//! policy maps from the configuration; `plan` the planner (pure: given
//! what the target holds, what to do and why); `account` what Provisio
//! last asked each target for; `service` reads the targets, plans,
//! submits and records; `unique` chooses values uniqueness rules make
//! free on the target; `leaver` is the kill switch and the termination report; `review` plans identities again when a date in
//! them passes. docs/identities.md is the operator's guide.

mod account;
mod error;
mod inbound;
mod leaver;
mod model;
mod plan;
mod policy;
mod profile;
mod review;
mod service;
mod source;
mod turns;
mod unique;

pub use account::AccountState;
pub use inbound::Rejected;
pub use leaver::{TargetReport, TerminationReport};
pub use model::{DesiredState, InvalidIdentity, ORPHAN_PREFIX, RoleGrant, Status, check_id};
pub use plan::{
    Action, Explanation, Observed, PlanError, PlannedOperation, Planning, Read, TargetPlan,
};
pub use policy::{HeldBy, HeldRole, Policies};
pub use profile::Profile;
pub use service::{
    AccountView, Expectations, Identities, IdentityError, IdentityList, IdentitySummary,
    IdentityView, Outcome, Plan, SubmittedOperation, TargetFailure,
};
pub use source::{ChangeKind, Counts, Guard, RunError, RunItem, RunState, RunView, Sources};
