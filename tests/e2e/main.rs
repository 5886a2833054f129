//! End-to-end tests: real components through the real host runtime.

mod ad_connector;
mod api;
mod conformance;
mod csv_connector;
mod hardening;
mod identities;
mod ldap_connector;
mod load_errors;
mod operators;
mod reconciliation;
mod sandbox;
mod scim_connector;
mod sql_connector;
mod util;
mod versions;
mod walkthrough;
