//! The conformance suite (`provisio connector test`) against every bundled
//! connector on its real target: each must pass every case it declares the
//! capability for, and skip exactly the cases named here, for the reason
//! its docs give.

use provisio_host::conformance::{self, Format, Options, Outcome, Report};
use provisio_host::runtime::Connector;
use provisio_host::runtime::{DirectoryGrant, TargetSettings};
use provisio_tests::csv_target;

async fn certify(connector: &Connector) -> Report {
    conformance::run(connector, &accounts()).await
}

pub(crate) fn accounts() -> Options {
    Options {
        class: Some("account".to_owned()),
        ..Options::default()
    }
}

/// Every case passed but `skipped`, which were skipped; nothing was left
/// behind on the target.
pub(crate) fn assert_conforms(report: &Report, skipped: &[&str]) {
    let text = report.render(Format::Text);
    assert!(report.passed(), "{text}");
    let mut actual: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.outcome == Outcome::Skip)
        .map(|c| c.name.as_str())
        .collect();
    actual.sort_unstable();
    let mut expected = skipped.to_vec();
    expected.sort_unstable();
    assert_eq!(actual, expected, "{text}");
    assert!(report.count(Outcome::Pass) >= 25, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(
        dir.path(),
        &[
            ("classes", "account"),
            ("account.columns", "id,mail,phones,enabled"),
            ("account.multivalued", "phones"),
            ("account.enable", "enabled"),
        ],
    );
    // No password column in this table.
    assert_conforms(&certify(&csv).await, &["password.never-returned"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_sqlite() {
    let db = crate::sql_connector::Backend::sqlite().await;
    let sql = db.connector(crate::sql_connector::CONFIG);
    // Columns hold one value.
    assert_conforms(&certify(&sql).await, &["update.add-and-remove-values"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_postgres() {
    let db = crate::sql_connector::Backend::postgres().await;
    let sql = db.connector(crate::sql_connector::CONFIG);
    // Columns hold one value.
    assert_conforms(&certify(&sql).await, &["update.add-and-remove-values"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_on_slapd() {
    let slapd = crate::ldap_connector::up().await;
    let ldap = crate::ldap_connector::connector(&slapd);
    // The text attribute the suite orders by (employeeNumber) has no
    // ORDERING rule in slapd's schema, so the connector refuses gt/ge/lt/le
    // on it rather than answering nothing; LDAP has no count.
    assert_conforms(
        &certify(&ldap).await,
        &[
            "filter.gt",
            "filter.ge",
            "filter.lt",
            "filter.le",
            "count.equals-search",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_on_scim2_server() {
    let (_server, scim) = crate::scim_connector::server().await;
    // SCIM services keep no tombstones: the connector documents that its
    // sync reports no deletes (docs/connectors/scim.md).
    let options = Options {
        sync_without_deletes: true,
        ..accounts()
    };
    assert_conforms(
        &conformance::run(&scim, &options).await,
        &["update.add-and-remove-values", "sync.reports-deletes"],
    );
}

/// The `broken` fixture with one bug (or none), on a fresh directory.
fn broken(bug: Option<&str>) -> (tempfile::TempDir, Connector) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TargetSettings::new("broken");
    settings.grants.directory = Some(DirectoryGrant::read_write(dir.path()));
    if let Some(bug) = bug {
        settings
            .grants
            .config
            .values
            .insert("bug".into(), bug.into());
    }
    let bytes = std::fs::read(provisio_tests::fixtures::BROKEN).unwrap();
    (dir, provisio_tests::start(&bytes, settings))
}

/// Each bug connector authors make fails the case that checks its rule,
/// named in the report with what the contract expects and what happened;
/// without the bug the same connector passes every case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_planted_bug_fails_its_case() {
    let (_dir, clean) = broken(None);
    assert_conforms(&certify(&clean).await, &[]);
    for (bug, case) in [
        ("not-found-as-failed", "get.unknown-is-not-found"),
        ("duplicate-allowed", "create.duplicate-is-already-exists"),
        ("page-skips", "search.pages-every-object-once.size-1"),
        ("not-ignored", "filter.not"),
        ("add-replaces", "update.add-and-remove-values"),
        ("sync-repeats", "sync.reports-each-change-once"),
        ("password-returned", "password.never-returned"),
        ("uid-changes", "update.replace"),
        ("count-off-by-one", "count.equals-search"),
    ] {
        let (_dir, connector) = broken(Some(bug));
        let report = certify(&connector).await;
        let text = report.render(Format::Text);
        assert!(!report.passed(), "{bug}: passed\n{text}");
        let failed = report
            .cases
            .iter()
            .find(|c| c.name == case)
            .unwrap_or_else(|| panic!("{bug}: no case {case}\n{text}"));
        assert_eq!(failed.outcome, Outcome::Fail, "{bug}: {case}\n{text}");
        assert!(
            failed.expected.as_deref().is_some_and(|e| !e.is_empty())
                && failed.observed.as_deref().is_some_and(|o| !o.is_empty()),
            "{bug}: {case} names what was expected and observed\n{text}"
        );
        // The bug fails what it breaks, not the whole suite.
        assert!(
            report.count(Outcome::Pass) >= 20,
            "{bug}: too much failed\n{text}"
        );
    }
}
