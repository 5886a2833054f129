//! A run's report as text for a person, TAP for test harnesses, JUnit XML
//! for CI dashboards, or JSON.

use super::{CaseReport, Certification, Outcome, Report};
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

/// Every class's report: one after the other as text, one TAP plan (cases
/// named `class/case`), one JUnit document of a suite per class, or the
/// whole certification as JSON.
pub fn render_all(certification: &Certification, format: Format) -> String {
    match format {
        Format::Text => {
            let mut out: Vec<String> = certification.reports.iter().map(text).collect();
            let verdicts: Vec<String> = certification
                .reports
                .iter()
                .map(|r| {
                    let verdict = if r.passed() { "passed" } else { "FAILED" };
                    format!("{} {verdict}", r.class)
                })
                .collect();
            out.push(format!("classes: {}\n", verdicts.join(", ")));
            out.join("\n")
        }
        Format::Tap => {
            let cases: Vec<CaseReport> = certification
                .reports
                .iter()
                .flat_map(|r| {
                    harness_cases(r).into_iter().map(|mut case| {
                        case.name = format!("{}/{}", r.class, case.name);
                        case
                    })
                })
                .collect();
            tap_of(&cases)
        }
        Format::Junit => {
            let mut out =
                String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
            for report in &certification.reports {
                out.push_str(&junit_suite(report));
            }
            out.push_str("</testsuites>\n");
            out
        }
        Format::Json => {
            serde_json::to_string_pretty(certification).expect("certifications serialise")
        }
    }
}

fn text(report: &Report) -> String {
    let mut out = format!(
        "{}@{} class {} (objects named {}-…)\n",
        report.connector, report.version, report.class, report.prefix
    );
    if !report.fixed.is_empty() {
        let _ = writeln!(out, "  values given for: {}", report.fixed.join(", "));
    }
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
    tap_of(&harness_cases(report))
}

fn tap_of(cases: &[CaseReport]) -> String {
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
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        junit_suite(report)
    )
}

fn junit_suite(report: &Report) -> String {
    let suite = xml(&format!(
        "{}@{} {}",
        report.connector, report.version, report.class
    ));
    let cases = harness_cases(report);
    let count = |o: Outcome| cases.iter().filter(|c| c.outcome == o).count();
    let mut out = format!(
        "<testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
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
            fixed: Vec::new(),
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

    #[test]
    fn every_class_is_one_document_in_each_format() {
        let mut group = report(&[]);
        group.class = "group".into();
        group.cases.retain(|c| c.outcome != Outcome::Fail);
        let all = Certification {
            connector: "acme".into(),
            version: "1.0.0".into(),
            passed: false,
            reports: vec![report(&[]), group],
        };
        let tap = render_all(&all, Format::Tap);
        assert!(tap.starts_with("TAP version 14\n1..5\n"), "{tap}");
        assert!(tap.contains("not ok 2 - account/b.fails"), "{tap}");
        assert!(tap.contains("ok 4 - group/a.passes"), "{tap}");
        let xml = render_all(&all, Format::Junit);
        assert_eq!(xml.matches("<?xml").count(), 1, "{xml}");
        assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
        assert!(
            xml.contains("<testsuites>") && xml.ends_with("</testsuites>\n"),
            "{xml}"
        );
        let text = render_all(&all, Format::Text);
        assert!(
            text.ends_with("classes: account FAILED, group passed\n"),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_all(&all, Format::Json)).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["reports"][1]["class"], "group");
    }
}
