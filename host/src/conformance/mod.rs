//! The conformance suite: cases that check a connector keeps the
//! contract's semantics against a real target, not merely that its calls
//! return. `provisio connector test` runs it; authors certify with it.
//!
//! Every case works on objects the suite creates itself, named with a
//! prefix unique to the run, and the suite deletes them at the end (also
//! when a case fails), so it can run against a shared target. A case the
//! connector does not declare the capability for is skipped, named, never
//! passed.

mod cases;
mod report;
mod sample;

pub use report::Format;

use crate::model::{ClassInfo, ConnectorError, ConnectorInfo};
use crate::runtime::{CallError, Connector};
use serde::Serialize;
use std::sync::Mutex;

/// What one run checks.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The class to exercise; default: `account` if the schema lists it,
    /// else its first class.
    pub class: Option<String>,
    /// The prefix of every object the run creates; default `pvct-` and six
    /// random hex digits.
    pub prefix: Option<String>,
    /// The connector documents that its `sync` cannot see deletes (SCIM
    /// services keep no tombstones): `sync.reports-deletes` is skipped,
    /// named, instead of failed.
    pub sync_without_deletes: bool,
    /// The same connector started with a configuration that must not
    /// work, for `test.fails-misconfigured`; skipped, named, without one.
    pub misconfigured: Option<Misconfigured>,
    /// Values the suite writes for these attributes on every object it
    /// creates (`--value NAME=VALUE`), for required attributes whose values
    /// the target constrains (an enumeration, a DN or a reference that must
    /// exist), which the suite cannot make up. A pair naming an attribute
    /// the class does not list is not used for that class.
    pub values: Vec<(String, String)>,
}

/// A connector started with a wrong configuration, and what was changed.
#[derive(Clone)]
pub struct Misconfigured {
    pub connector: Connector,
    /// What is wrong, as the report says it (`secret token replaced`).
    pub change: String,
}

impl std::fmt::Debug for Misconfigured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Misconfigured")
            .field("change", &self.change)
            .finish_non_exhaustive()
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// One case's result: on a failure, what the contract expects and what the
/// connector did.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub name: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// Why a case was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A run's results, in the order the cases ran.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub connector: String,
    pub version: String,
    pub class: String,
    pub prefix: String,
    /// The attributes the operator gave values for (`--value`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed: Vec<String>,
    pub cases: Vec<CaseReport>,
    /// Objects the run created and could not delete again.
    pub left_behind: Vec<String>,
}

impl Report {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }

    /// True when no case failed and nothing was left behind.
    pub fn passed(&self) -> bool {
        self.count(Outcome::Fail) == 0 && self.left_behind.is_empty()
    }

    pub fn render(&self, format: Format) -> String {
        report::render(self, format)
    }
}

/// One run over every class the schema lists: a report per class.
#[derive(Debug, Clone, Serialize)]
pub struct Certification {
    pub connector: String,
    pub version: String,
    /// True when every class's report passed.
    pub passed: bool,
    pub reports: Vec<Report>,
}

impl Certification {
    pub fn render(&self, format: Format) -> String {
        report::render_all(self, format)
    }
}

/// [`run`] for each class the connector's schema lists, one after the
/// other (each removing what it created before the next starts), the
/// schema read once; a connector whose schema cannot be read gets the one
/// report that says so.
pub async fn run_every_class(connector: &Connector, options: &Options) -> Certification {
    let info = connector.info();
    let classes = match read_schema(connector, info).await {
        Ok(schema) if !schema.classes.is_empty() => schema.classes,
        _ => Vec::new(),
    };
    let mut reports = Vec::new();
    if classes.is_empty() {
        reports.push(run(connector, options).await);
    }
    for class in classes {
        let options = Options {
            class: Some(class.name.clone()),
            ..options.clone()
        };
        reports.push(run_class(connector, Ok(class), &options).await);
    }
    Certification {
        connector: info.name.clone(),
        version: info.version.clone(),
        passed: reports.iter().all(Report::passed),
        reports,
    }
}

/// Why a case did not pass.
#[derive(Debug)]
pub(crate) enum Verdict {
    Fail { expected: String, observed: String },
    Skip(String),
}

pub(crate) type CaseResult = Result<(), Verdict>;

pub(crate) fn fail(expected: impl Into<String>, observed: impl Into<String>) -> Verdict {
    Verdict::Fail {
        expected: expected.into(),
        observed: observed.into(),
    }
}

/// A call that should have worked and did not.
pub(crate) fn failed_call(what: &str, error: &CallError) -> Verdict {
    fail(format!("{what} to succeed"), format!("{error}"))
}

/// The contract's name for an error (`not-found`), or what the call did
/// instead of answering one.
pub(crate) fn error_case(error: &CallError) -> String {
    error
        .connector_error()
        .map(|e| e.code().to_owned())
        .unwrap_or_else(|| format!("a host error ({error})"))
}

pub(crate) fn is_refusal(error: &CallError) -> bool {
    matches!(
        error.connector_error(),
        Some(ConnectorError::Unsupported { .. } | ConnectorError::Invalid { .. })
    )
}

/// What the cases share: the connector, the class and what was created.
pub(crate) struct Suite<'a> {
    pub connector: &'a Connector,
    pub info: &'a ConnectorInfo,
    pub class: ClassInfo,
    pub prefix: String,
    pub sync_without_deletes: bool,
    pub misconfigured: Option<&'a Misconfigured>,
    /// The operator's values, typed by the class's schema.
    pub fixed: Vec<crate::model::Attribute>,
    created: Mutex<Vec<String>>,
    counter: Mutex<u32>,
}

impl Suite<'_> {
    /// A fresh name under the run's prefix: `{prefix}-{tag}{n}`.
    pub fn name(&self, tag: &str) -> String {
        let mut counter = self.counter.lock().expect("not poisoned");
        *counter += 1;
        format!("{}-{tag}{}", self.prefix, *counter)
    }

    pub fn remember(&self, uid: &str) {
        self.created
            .lock()
            .expect("not poisoned")
            .push(uid.to_owned());
    }

    pub fn forget(&self, uid: &str) {
        self.created
            .lock()
            .expect("not poisoned")
            .retain(|u| u != uid);
    }

    fn created(&self) -> Vec<String> {
        self.created.lock().expect("not poisoned").clone()
    }

    /// The attributes of a new object named `name` (see [`sample::object`]).
    pub fn object(&self, name: &str, extra: Option<&str>) -> Vec<crate::model::Attribute> {
        sample::object(&self.class, &self.fixed, name, extra)
    }

    pub fn single_text(&self) -> Option<&crate::model::AttributeInfo> {
        sample::single_text(&self.class, &self.fixed)
    }

    pub fn multi_text(&self) -> Option<&crate::model::AttributeInfo> {
        sample::multi_text(&self.class, &self.fixed)
    }

    /// A create that failed; when the connector called it invalid and the
    /// suite made up required values, says which and how to give real ones.
    pub fn failed_create(&self, what: &str, error: &CallError) -> Verdict {
        let verdict = failed_call(what, error);
        let invented = sample::invented(&self.class, &self.fixed);
        match verdict {
            Verdict::Fail { expected, observed }
                if !invented.is_empty()
                    && matches!(
                        error.connector_error(),
                        Some(ConnectorError::Invalid { .. })
                    ) =>
            {
                Verdict::Fail {
                    expected,
                    observed: format!(
                        "{observed} (the suite made up the value of required attribute(s) {}: give values the target takes with --value NAME=VALUE)",
                        invented.join(", ")
                    ),
                }
            }
            other => other,
        }
    }
}

/// A prefix no earlier run used: `pvct-` and six random hex digits.
pub fn fresh_prefix() -> String {
    format!("pvct-{:06x}", rand::random::<u32>() & 0xff_ffff)
}

/// Runs every case against `connector` and removes what it created.
pub async fn run(connector: &Connector, options: &Options) -> Report {
    let class = choose_class(connector, connector.info(), options).await;
    run_class(connector, class, options).await
}

/// [`run`] on the class chosen (or why none could be).
async fn run_class(
    connector: &Connector,
    class: Result<ClassInfo, Verdict>,
    options: &Options,
) -> Report {
    let info = connector.info();
    let prefix = options.prefix.clone().unwrap_or_else(fresh_prefix);
    let mut cases = Vec::new();
    let stopped = |cases: Vec<CaseReport>, class: String| Report {
        connector: info.name.clone(),
        version: info.version.clone(),
        class,
        prefix: prefix.clone(),
        fixed: Vec::new(),
        cases,
        left_behind: Vec::new(),
    };
    let class = match class {
        Ok(class) => class,
        Err(verdict) => {
            cases.push(case_report("schema.lists-the-class", Err(verdict)));
            return stopped(cases, options.class.clone().unwrap_or_default());
        }
    };
    cases.push(case_report("schema.lists-the-class", Ok(())));
    let fixed = match sample::fixed(&class, &options.values) {
        Ok(fixed) => fixed,
        Err(verdict) => {
            cases.push(case_report("options.values", Err(verdict)));
            return stopped(cases, class.name);
        }
    };
    let suite = Suite {
        connector,
        info,
        class,
        prefix: prefix.clone(),
        sync_without_deletes: options.sync_without_deletes,
        misconfigured: options.misconfigured.as_ref(),
        fixed,
        created: Mutex::new(Vec::new()),
        counter: Mutex::new(0),
    };
    cases.extend(cases::run_all(&suite).await);
    let mut left_behind = Vec::new();
    for uid in suite.created() {
        match connector
            .delete(suite.class.name.clone(), uid.clone())
            .await
        {
            Ok(()) => {}
            Err(e) if e.connector_error().is_some_and(|e| e.code() == "not-found") => {}
            Err(e) => left_behind.push(format!("{uid}: {e}")),
        }
    }
    Report {
        connector: info.name.clone(),
        version: info.version.clone(),
        class: suite.class.name.clone(),
        prefix,
        fixed: suite.fixed.iter().map(|a| a.name.clone()).collect(),
        cases,
        left_behind,
    }
}

pub(crate) fn case_report(name: &str, result: CaseResult) -> CaseReport {
    let mut report = CaseReport {
        name: name.to_owned(),
        outcome: Outcome::Pass,
        expected: None,
        observed: None,
        reason: None,
    };
    match result {
        Ok(()) => {}
        Err(Verdict::Fail { expected, observed }) => {
            report.outcome = Outcome::Fail;
            report.expected = Some(expected);
            report.observed = Some(observed);
        }
        Err(Verdict::Skip(reason)) => {
            report.outcome = Outcome::Skip;
            report.reason = Some(reason);
        }
    }
    report
}

async fn read_schema(
    connector: &Connector,
    info: &ConnectorInfo,
) -> Result<crate::model::ObjectSchema, Verdict> {
    if !info.capabilities.schema {
        return Err(fail(
            "the connector to declare `schema` (the suite builds its objects from it)",
            "no schema capability",
        ));
    }
    connector
        .schema()
        .await
        .map_err(|e| failed_call("schema", &e))
}

async fn choose_class(
    connector: &Connector,
    info: &ConnectorInfo,
    options: &Options,
) -> Result<ClassInfo, Verdict> {
    let schema = read_schema(connector, info).await?;
    let names: Vec<&str> = schema.classes.iter().map(|c| c.name.as_str()).collect();
    let wanted = match &options.class {
        Some(class) => class.as_str(),
        None if names.contains(&"account") => "account",
        None => names.first().copied().unwrap_or(""),
    };
    schema
        .classes
        .iter()
        .find(|c| c.name == wanted)
        .cloned()
        .ok_or_else(|| {
            fail(
                format!("the schema to list class `{wanted}`"),
                format!("classes: {}", names.join(", ")),
            )
        })
}
