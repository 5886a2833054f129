//! A run's report as text for a person, TAP for test harnesses, JUnit XML
//! for CI dashboards, or JSON.

use super::{CaseReport, Outcome, Report};
use std::fmt::Write;

/// The cases as harnesses see them: objects left behind fail the run, so
/// they are one more failed case there (the text names each object).
fn harness_cases(report: &Report) -> Vec<CaseReport> {
    let mut cases = report.cases.clone();
    if !report.left_behind.is_empty() {
        cases.push(CaseReport {
            name: "cleanup.removes-what-it-created".to_owned(),
            outcome: Outcome::Fail,
            expected: Some("every object the run created deleted".to_owned()),
            observed: Some(format!("left behind: {}", report.left_behind.join(", "))),
            reason: None,
        });
    }
    cases
}

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
    let cases = harness_cases(report);
    let mut out = format!("TAP version 14\n1..{}\n", cases.len());
    for (i, case) in cases.iter().enumerate() {
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
    out
}

fn junit(report: &Report) -> String {
    let suite = xml(&format!(
        "{}@{} {}",
        report.connector, report.version, report.class
    ));
    let cases = harness_cases(report);
    let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        cases.len(),
        count(Outcome::Fail),
        count(Outcome::Skip),
    );
    for case in &cases {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, outcome: Outcome) -> CaseReport {
        CaseReport {
            name: name.to_owned(),
            outcome,
            expected: (outcome == Outcome::Fail).then(|| "a <b> & \"c\"".to_owned()),
            observed: (outcome == Outcome::Fail).then(|| "line one\nline two".to_owned()),
            reason: (outcome == Outcome::Skip).then(|| "not declared".to_owned()),
        }
    }

    fn report(left_behind: &[&str]) -> Report {
        Report {
            connector: "acme".into(),
            version: "1.0.0".into(),
            class: "account".into(),
            prefix: "pvct-abcdef".into(),
            cases: vec![
                case("a.passes", Outcome::Pass),
                case("b.fails", Outcome::Fail),
                case("c.skips", Outcome::Skip),
            ],
            left_behind: left_behind.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn tap_has_a_plan_a_line_per_case_and_yaml_for_failures() {
        let tap = render(&report(&[]), Format::Tap);
        let lines: Vec<&str> = tap.lines().collect();
        assert_eq!(lines[..3], ["TAP version 14", "1..3", "ok 1 - a.passes"]);
        assert!(tap.contains("not ok 2 - b.fails\n  ---\n"), "{tap}");
        assert!(tap.contains(r#"  observed: "line one line two""#), "{tap}");
        assert!(tap.contains("ok 3 - c.skips # SKIP not declared"), "{tap}");
    }

    #[test]
    fn junit_escapes_and_counts() {
        let xml = render(&report(&[]), Format::Junit);
        assert!(
            xml.contains(r#"tests="3" failures="1" skipped="1""#),
            "{xml}"
        );
        assert!(
            xml.contains("expected a &lt;b&gt; &amp; &quot;c&quot;"),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 3);
    }

    #[test]
    fn objects_left_behind_fail_in_every_format() {
        let left = report(&["0007"]);
        assert!(!left.passed());
        let tap = render(&left, Format::Tap);
        assert!(
            tap.contains("1..4") && tap.contains("not ok 4 - cleanup.removes-what-it-created"),
            "{tap}"
        );
        let xml = render(&left, Format::Junit);
        assert!(xml.contains(r#"tests="4" failures="2""#), "{xml}");
        assert!(render(&left, Format::Text).contains("LEFT BEHIND  0007"));
        let json: serde_json::Value = serde_json::from_str(&render(&left, Format::Json)).unwrap();
        assert_eq!(json["left_behind"], serde_json::json!(["0007"]));
        assert_eq!(json["cases"][1]["outcome"], "fail");
    }
}
