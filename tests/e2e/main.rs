//! End-to-end tests: real components through the real host runtime.

mod csv_connector;
mod load_errors;
mod sandbox;
