//! The conformance suite (`provisio connector test`) against every bundled
//! connector on its real target: each must pass every case it declares the
//! capability for, and skip exactly the cases named here, for the reason
//! its docs give.

use provisio_host::conformance::{self, Format, Misconfigured, Options, Outcome, Report};
use provisio_host::runtime::Connector;
use provisio_host::runtime::recording::{EXCHANGES_FILE, Tape};
use provisio_host::runtime::{DirectoryGrant, TargetSettings};
use provisio_tests::csv_target;
use std::sync::Arc;

/// The suite on accounts, `test` also tried on `misconfigured` (the same
/// connector with the wrong configuration `change` describes).
async fn certify(connector: &Connector, misconfigured: Connector, change: &str) -> Report {
    conformance::run(connector, &with_wrong(accounts(), misconfigured, change)).await
}

/// `options` with `misconfigured` for `test.fails-misconfigured`.
pub(crate) fn with_wrong(options: Options, misconfigured: Connector, change: &str) -> Options {
    Options {
        misconfigured: Some(Misconfigured {
            connector: misconfigured,
            change: change.to_owned(),
        }),
        ..options
    }
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
    assert_skips(report, skipped);
    let text = report.render(Format::Text);
    assert!(report.count(Outcome::Pass) >= 25, "{text}");
}

/// Every case passed but `skipped`, which were skipped; nothing was left
/// behind (for a class with fewer cases to run, as groups).
pub(crate) fn assert_skips(report: &Report, skipped: &[&str]) {
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
}

/// Every class the schema lists, one after the other: accounts and
/// groups in CSV files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_files_every_class() {
    let dir = tempfile::tempdir().unwrap();
    let config = [
        ("classes", "account,group"),
        ("account.columns", "id,mail,phones,enabled"),
        ("account.multivalued", "phones"),
        ("account.enable", "enabled"),
        ("group.columns", "id,description,members"),
        ("group.multivalued", "members"),
    ];
    let csv = csv_target(dir.path(), &config);
    let mut wrong = config.to_vec();
    wrong.push(("account.enable", "no_such_column"));
    let options = with_wrong(
        Options::default(),
        csv_target(dir.path(), &wrong),
        "account.enable names no column",
    );
    let every = conformance::run_every_class(&csv, &options).await;
    let classes: Vec<&str> = every.reports.iter().map(|r| r.class.as_str()).collect();
    assert_eq!(classes, ["account", "group"]);
    assert!(every.passed, "{}", every.render(Format::Text));
    // No password column in these tables.
    for report in &every.reports {
        assert_conforms(report, &["password.never-returned"]);
    }
}

/// Every class: accounts, and groups (their own table, members in a
/// membership table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_sqlite_every_class() {
    let db = crate::sql_connector::Backend::sqlite().await;
    let sql = db.connector(crate::sql_connector::CONFIG);
    let options = with_wrong(
        Options::default(),
        db.connector(&wrong_table()),
        "account.table names no table",
    );
    let every = conformance::run_every_class(&sql, &options).await;
    let classes: Vec<&str> = every.reports.iter().map(|r| r.class.as_str()).collect();
    assert_eq!(classes, ["account", "group"]);
    // Columns hold one value; a group has no password.
    assert_conforms(
        &every.reports[0],
        &["update.add-and-remove-values", "filter.value-path"],
    );
    assert_conforms(
        &every.reports[1],
        &[
            "update.add-and-remove-values",
            "filter.value-path",
            "password.never-returned",
        ],
    );
}

/// On PostgreSQL, every statement recorded; then replayed with the
/// database granted at an address where none listens, giving the same
/// report without a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_on_postgres_recorded_then_replayed_without_it() {
    use crate::sql_connector::CONFIG;
    let db = crate::sql_connector::Backend::postgres().await;
    let recording = tempfile::tempdir().unwrap();
    let options = |tape: &Arc<Tape>, live: bool| {
        let misconfigured = db.taped_connector(&wrong_table(), tape.clone(), live);
        let options = Options {
            prefix: Some("pvct-rec".to_owned()),
            ..accounts()
        };
        with_wrong(options, misconfigured, "account.table names no table")
    };
    let tape = Arc::new(Tape::record(recording.path(), []).unwrap());
    let sql = db.taped_connector(CONFIG, tape.clone(), true);
    let recorded = conformance::run(&sql, &options(&tape, true)).await;
    drop(sql);
    drop(tape);
    // Columns hold one value.
    assert_conforms(
        &recorded,
        &["update.add-and-remove-values", "filter.value-path"],
    );
    let stored = std::fs::read_to_string(recording.path().join(EXCHANGES_FILE)).unwrap();
    for call in ["query", "begin", "tx-query", "tx-execute", "commit"] {
        assert!(
            stored.contains(&format!("\"call\":\"{call}\"")),
            "no {call} recorded"
        );
    }

    let tape = Arc::new(Tape::replay(recording.path(), []).unwrap());
    let sql = db.taped_connector(CONFIG, tape.clone(), false);
    let replayed = conformance::run(&sql, &options(&tape, false)).await;
    assert_eq!(
        json(&replayed),
        json(&recorded),
        "{}",
        replayed.render(Format::Text)
    );
    assert_eq!(tape.unused(), 0, "the replay asked less than was recorded");
}

/// The SQL connector's configuration with a table that does not exist.
fn wrong_table() -> Vec<(&'static str, &'static str)> {
    crate::sql_connector::CONFIG
        .iter()
        .map(|&(key, value)| match key {
            "account.table" => (key, "no_such_table"),
            _ => (key, value),
        })
        .collect()
}

/// The report as JSON: what a recording and its replay must agree on.
fn json(report: &Report) -> serde_json::Value {
    serde_json::to_value(report).unwrap()
}

/// On slapd, recorded; then replayed with slapd stopped, giving the same
/// report; then replayed with another prefix, which asks what the
/// recording does not hold and fails saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_on_slapd_recorded_then_replayed_without_it() {
    let slapd = crate::ldap_connector::up().await;
    let recording = tempfile::tempdir().unwrap();
    let secrets = [slapd.bind_password.clone()];
    let tape =
        Arc::new(Tape::record(recording.path(), secrets.iter().map(String::as_str)).unwrap());
    let ldap = crate::ldap_connector::taped_connector(&slapd, tape.clone());
    let options = |tape: &Arc<Tape>| {
        let nowhere = crate::ldap_connector::taped_connector_with(
            &slapd,
            tape.clone(),
            &[("base_dn", "ou=nowhere,dc=example,dc=com")],
        );
        let options = Options {
            prefix: Some("pvct-rec".to_owned()),
            ..accounts()
        };
        with_wrong(options, nowhere, "base_dn names no entry")
    };
    let recorded = conformance::run(&ldap, &options(&tape)).await;
    drop(ldap);
    drop(tape);
    // The text attribute the suite orders by (employeeNumber) has no
    // ORDERING rule in slapd's schema, so the connector refuses gt/ge/lt/le
    // on it rather than answering nothing; LDAP has no count; an LDAP
    // filter cannot ask one value to meet two conditions, so that value
    // path is refused too.
    assert_conforms(
        &recorded,
        &[
            "filter.gt",
            "filter.ge",
            "filter.lt",
            "filter.le",
            "count.equals-search",
            "filter.value-path.one-value-both",
        ],
    );
    let stored = std::fs::read_to_string(recording.path().join(EXCHANGES_FILE)).unwrap();
    assert!(
        stored.contains("\"capability\":\"ldap\""),
        "nothing recorded"
    );
    assert!(
        !stored.contains(secrets[0].as_str()),
        "the bind password reached the recording"
    );

    slapd.stop();
    assert!(
        crate::ldap_connector::connector(&slapd)
            .test()
            .await
            .is_err(),
        "slapd still answers"
    );
    let tape =
        Arc::new(Tape::replay(recording.path(), secrets.iter().map(String::as_str)).unwrap());
    let ldap = crate::ldap_connector::taped_connector(&slapd, tape.clone());
    let replayed = conformance::run(&ldap, &options(&tape)).await;
    assert_eq!(
        json(&replayed),
        json(&recorded),
        "{}",
        replayed.render(Format::Text)
    );
    assert_eq!(tape.unused(), 0, "the replay asked less than was recorded");

    let tape =
        Arc::new(Tape::replay(recording.path(), secrets.iter().map(String::as_str)).unwrap());
    let ldap = crate::ldap_connector::taped_connector(&slapd, tape.clone());
    let other = Options {
        prefix: Some("pvct-other".to_owned()),
        ..options(&tape)
    };
    let report = conformance::run(&ldap, &other).await;
    assert!(!report.passed());
    let text = report.render(Format::Text);
    assert!(
        text.contains("replay: the recording holds no ldap"),
        "{text}"
    );
}

/// On scim2-server, its HTTP recorded; then replayed with the server
/// stopped, giving the same report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_on_scim2_server_recorded_then_replayed_without_it() {
    let server = tokio::task::spawn_blocking(provisio_tests::scim::ScimServer::up)
        .await
        .unwrap();
    let recording = tempfile::tempdir().unwrap();
    let token = server.token.clone();
    let tape = Arc::new(Tape::record(recording.path(), [token.as_str()]).unwrap());
    let base = server.base.clone();
    let scim = crate::scim_connector::taped_connector(&base, &token, tape.clone());
    // SCIM services keep no tombstones: the connector documents that its
    // sync reports no deletes (docs/connectors/scim.md).
    let options = |tape: &Arc<Tape>| {
        let wrong_token =
            crate::scim_connector::taped_connector(&base, "wrong-token", tape.clone());
        let options = Options {
            sync_without_deletes: true,
            prefix: Some("pvct-rec".to_owned()),
            ..accounts()
        };
        with_wrong(options, wrong_token, "token replaced")
    };
    let recorded = conformance::run(&scim, &options(&tape)).await;
    drop(scim);
    drop(tape);
    assert_conforms(
        &recorded,
        &[
            "update.add-and-remove-values",
            "sync.reports-deletes",
            "filter.value-path",
        ],
    );
    let stored = std::fs::read_to_string(recording.path().join(EXCHANGES_FILE)).unwrap();
    assert!(
        stored.contains("\"capability\":\"http\""),
        "nothing recorded"
    );
    assert!(
        !stored.contains(&token),
        "the bearer token reached the recording"
    );

    drop(server);
    assert!(std::net::TcpStream::connect(base.trim_start_matches("http://")).is_err());
    let tape = Arc::new(Tape::replay(recording.path(), [token.as_str()]).unwrap());
    let scim = crate::scim_connector::taped_connector(&base, &token, tape.clone());
    let replayed = conformance::run(&scim, &options(&tape)).await;
    assert_eq!(
        json(&replayed),
        json(&recorded),
        "{}",
        replayed.render(Format::Text)
    );
    assert_eq!(tape.unused(), 0, "the replay asked less than was recorded");
}

/// Groups on slapd: `groupOfNames`, kept non-empty by the placeholder
/// member the test target configures (`group.empty_member`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_groups_on_slapd() {
    let slapd = crate::ldap_connector::up().await;
    let ldap = crate::ldap_connector::connector(&slapd);
    let nowhere = crate::ldap_connector::connector_with_extra(
        &slapd,
        &[("base_dn", "ou=nowhere,dc=example,dc=com")],
    );
    let groups = Options {
        class: Some("group".to_owned()),
        ..with_wrong(Options::default(), nowhere, "base_dn names no entry")
    };
    // A group's only text here is multi-valued (businessCategory); LDAP
    // cannot say "one value" in a filter; it has no count.
    assert_skips(
        &conformance::run(&ldap, &groups).await,
        &[
            "password.never-returned",
            "update.replace",
            "update.empty-replace-clears",
            "filter.value-path.one-value-both",
            "filter.text-operators",
            "count.equals-search",
        ],
    );
}

/// What a SCIM group skips, on either server: it has no text attribute
/// of its own here (members only), no password, and SCIM keeps no
/// tombstones for sync.
const SCIM_GROUP_SKIPS: &[&str] = &[
    "password.never-returned",
    "update.replace",
    "update.empty-replace-clears",
    "update.add-and-remove-values",
    "filter.text-operators",
    "filter.value-path",
    "sync.reports-deletes",
];

/// Groups on scim2-server, which (as RFC 7643 §4.2 allows) takes two
/// groups of one displayName: the connector refuses the second itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_groups_on_scim2_server() {
    let (server, scim) = crate::scim_connector::server().await;
    let wrong_token =
        crate::scim_connector::connector(&server.base, "wrong-token", &[&server.base]);
    let groups = Options {
        class: Some("group".to_owned()),
        sync_without_deletes: true,
        ..with_wrong(Options::default(), wrong_token, "token replaced")
    };
    assert_skips(&conformance::run(&scim, &groups).await, SCIM_GROUP_SKIPS);
}

/// On SCIMMY, the second SCIM implementation: accounts as on
/// scim2-server, and groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_on_scimmy() {
    let (server, scim) =
        crate::scim_connector::server_of(crate::scim_connector::Service::Scimmy).await;
    let wrong_token =
        || crate::scim_connector::connector(&server.base, "wrong-token", &[&server.base]);
    let accounts = Options {
        sync_without_deletes: true,
        ..with_wrong(accounts(), wrong_token(), "token replaced")
    };
    assert_conforms(
        &conformance::run(&scim, &accounts).await,
        &[
            "update.add-and-remove-values",
            "sync.reports-deletes",
            "filter.value-path",
        ],
    );
    let groups = Options {
        class: Some("group".to_owned()),
        sync_without_deletes: true,
        ..with_wrong(Options::default(), wrong_token(), "token replaced")
    };
    assert_skips(&conformance::run(&scim, &groups).await, SCIM_GROUP_SKIPS);
}

/// The `broken` fixture with one bug (or none), on a fresh directory;
/// and the same with a wrong `realm`, which its `test` refuses.
fn broken(bug: Option<&str>) -> (tempfile::TempDir, Connector, Connector) {
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
    let mut wrong = settings.clone();
    wrong
        .grants
        .config
        .values
        .insert("realm".into(), "elsewhere".into());
    let connector = provisio_tests::start(&bytes, settings);
    (dir, connector, provisio_tests::start(&bytes, wrong))
}

/// Each bug connector authors make fails the case that checks its rule,
/// named in the report with what the contract expects and what happened;
/// without the bug the same connector passes every case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_planted_bug_fails_its_case() {
    let (_dir, clean, misconfigured) = broken(None);
    assert_conforms(
        &certify(&clean, misconfigured, "realm elsewhere").await,
        &[],
    );
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
        ("test-ignores-configuration", "test.fails-misconfigured"),
        (
            "value-path-per-attribute",
            "filter.value-path.one-value-both",
        ),
    ] {
        let (_dir, connector, misconfigured) = broken(Some(bug));
        let report = certify(&connector, misconfigured, "realm elsewhere").await;
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

/// A required column the target constrains (a CHECK listing the kinds of
/// worker): the value the suite makes up is refused, and the report says
/// which attribute to give and how; given with `values`, every case runs;
/// a value that is not of the attribute's type stops the run naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_constrained_required_attribute_takes_a_given_value() {
    let db = crate::sql_connector::Backend::sqlite().await;
    db.run(
        "CREATE TABLE workers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('staff', 'contractor')),
            grade INTEGER,
            given_name TEXT)",
    )
    .await;
    let config = [
        ("account.table", "workers"),
        ("account.name", "username"),
        ("account.key_generated", "true"),
        ("account.attribute.kind", "kind"),
        ("account.attribute.grade", "grade"),
        ("account.attribute.givenName", "given_name"),
    ];
    let sql = db.connector(&config);

    let made_up = conformance::run(&sql, &accounts()).await;
    let create = made_up
        .cases
        .iter()
        .find(|c| c.name == "create.reads-back")
        .unwrap();
    assert_eq!(create.outcome, Outcome::Fail);
    let observed = create.observed.as_deref().unwrap_or_default();
    assert!(
        observed.contains("CHECK constraint failed")
            && observed.contains("made up the value of required attribute(s)")
            && observed.contains("kind")
            && observed.contains("--value NAME=VALUE"),
        "{observed}"
    );

    let mut wrong = config.to_vec();
    wrong[0] = ("account.table", "no_such_table");
    let given = with_wrong(
        Options {
            values: vec![
                ("kind".to_owned(), "contractor".to_owned()),
                ("grade".to_owned(), "7".to_owned()),
            ],
            ..accounts()
        },
        db.connector(&wrong),
        "account.table names no table",
    );
    let report = conformance::run(&sql, &given).await;
    assert_eq!(report.fixed, ["kind", "grade"]);
    // Columns hold one value; no password or change-tracking columns.
    assert_conforms(
        &report,
        &[
            "update.add-and-remove-values",
            "filter.value-path",
            "password.never-returned",
            "sync.from-the-start-reports-objects",
            "sync.reports-each-change-once",
            "sync.reports-deletes",
        ],
    );

    let mistyped = Options {
        values: vec![("grade".to_owned(), "seven".to_owned())],
        ..accounts()
    };
    let report = conformance::run(&sql, &mistyped).await;
    let case = report.cases.last().unwrap();
    assert_eq!(
        (case.name.as_str(), case.outcome),
        ("options.values", Outcome::Fail)
    );
    assert!(
        case.expected.as_deref().unwrap().contains("--value grade"),
        "{case:?}"
    );
    assert!(report.left_behind.is_empty());
}
