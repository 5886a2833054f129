//! The conformance suite (`provisio connector test`) against every bundled
//! connector on its real target: each must pass every case it declares the
//! capability for, and skip exactly the cases named here, for the reason
//! its docs give.

use provisio_host::conformance::{self, Format, Options, Outcome, Report};
use provisio_host::runtime::Connector;
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
