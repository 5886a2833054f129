//! A run's report as text for a person, TAP for test harnesses, JUnit XML
//! for CI dashboards, or JSON.

use super::{Outcome, Report};
use std::fmt::Write;

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Tap,
    Junit,
    Json,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text(report),
        Format::Tap => tap(report),
        Format::Junit => junit(report),
        Format::Json => serde_json::to_string_pretty(report).expect("reports serialise"),
    }
}

fn text(report: &Report) -> String {
    let mut out = format!(
        "{}@{} class {} (objects named {}-…)\n",
        report.connector, report.version, report.class, report.prefix
    );
    for case in &report.cases {
        let mark = match case.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        let _ = writeln!(out, "  {mark}  {}", case.name);
        if let (Some(expected), Some(observed)) = (&case.expected, &case.observed) {
            let _ = writeln!(out, "          expected: {expected}");
            let _ = writeln!(out, "          observed: {observed}");
        }
        if let Some(reason) = &case.reason {
            let _ = writeln!(out, "          ({reason})");
        }
    }
    for left in &report.left_behind {
        let _ = writeln!(out, "  LEFT BEHIND  {left}");
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed, {} skipped{}",
        report.count(Outcome::Pass),
        report.count(Outcome::Fail),
        report.count(Outcome::Skip),
        if report.left_behind.is_empty() {
            String::new()
        } else {
            format!(", {} objects left behind", report.left_behind.len())
        }
    );
    out
}

fn tap(report: &Report) -> String {
    let mut out = format!("TAP version 14\n1..{}\n", report.cases.len());
    for (i, case) in report.cases.iter().enumerate() {
        let n = i + 1;
        match case.outcome {
            Outcome::Pass => {
                let _ = writeln!(out, "ok {n} - {}", case.name);
            }
            Outcome::Skip => {
                let reason = case.reason.as_deref().unwrap_or("");
                let _ = writeln!(out, "ok {n} - {} # SKIP {}", case.name, one_line(reason));
            }
            Outcome::Fail => {
                let _ = writeln!(out, "not ok {n} - {}", case.name);
                let _ = writeln!(out, "  ---");
                let _ = writeln!(
                    out,
                    "  expected: {}",
                    yaml(case.expected.as_deref().unwrap_or(""))
                );
                let _ = writeln!(
                    out,
                    "  observed: {}",
                    yaml(case.observed.as_deref().unwrap_or(""))
                );
                let _ = writeln!(out, "  ...");
            }
        }
    }
    for left in &report.left_behind {
        let _ = writeln!(out, "# left behind: {}", one_line(left));
    }
    out
}

fn junit(report: &Report) -> String {
    let suite = xml(&format!(
        "{}@{} {}",
        report.connector, report.version, report.class
    ));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        report.cases.len(),
        report.count(Outcome::Fail),
        report.count(Outcome::Skip),
    );
    for case in &report.cases {
        let name = xml(&case.name);
        match case.outcome {
            Outcome::Pass => {
                let _ = writeln!(out, "  <testcase classname=\"{suite}\" name=\"{name}\"/>");
            }
            Outcome::Skip => {
                let _ = writeln!(
                    out,
                    "  <testcase classname=\"{suite}\" name=\"{name}\"><skipped message=\"{}\"/></testcase>",
                    xml(case.reason.as_deref().unwrap_or(""))
                );
            }
            Outcome::Fail => {
                let message = format!(
                    "expected {}; observed {}",
                    case.expected.as_deref().unwrap_or(""),
                    case.observed.as_deref().unwrap_or("")
                );
                let _ = writeln!(
                    out,
                    "  <testcase classname=\"{suite}\" name=\"{name}\"><failure message=\"{}\"/></testcase>",
                    xml(&message)
                );
            }
        }
    }
    out.push_str("</testsuite>\n");
    out
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

fn yaml(text: &str) -> String {
    serde_json::to_string(&one_line(text)).expect("strings serialise")
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
