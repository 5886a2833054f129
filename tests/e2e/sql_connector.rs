//! The bundled SQL connector through the real host runtime and its `sql`
//! capability, against a real PostgreSQL cluster and a real SQLite file.
//! Every behaviour is checked on both.

use crate::util::{code, text, values};
use provisio_host::model::{
    Attribute, AttributeChange, ConnectorError, DeltaKind, PageRequest, SearchRequest, SyncRequest,
    Value,
};
use provisio_host::runtime::capabilities::sql::{self, DatabaseSpec, SqlGrant};
use provisio_host::runtime::{Connector, TargetSettings};
use provisio_tests::postgres::Postgres;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const POSTGRES_DDL: &[&str] = &[
    "CREATE TABLE accounts (
        id text PRIMARY KEY,
        username text NOT NULL UNIQUE,
        given_name text,
        department text,
        age integer,
        active boolean NOT NULL DEFAULT true,
        password_hash text,
        note text,
        updated_at timestamptz)",
    "CREATE TABLE groups (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL UNIQUE,
        description text,
        updated_at timestamptz)",
    "CREATE TABLE memberships (
        account_id text NOT NULL REFERENCES accounts (id),
        group_id bigint NOT NULL REFERENCES groups (id),
        PRIMARY KEY (account_id, group_id))",
    // Tombstones for sync, as docs/connectors/sql.md has them.
    "CREATE TABLE accounts_deleted (
        id text NOT NULL,
        deleted_at timestamptz NOT NULL DEFAULT clock_timestamp())",
    "CREATE FUNCTION accounts_tombstone() RETURNS trigger AS $$
     BEGIN INSERT INTO accounts_deleted (id) VALUES (OLD.id); RETURN OLD; END
     $$ LANGUAGE plpgsql",
    "CREATE TRIGGER accounts_tombstone AFTER DELETE ON accounts
     FOR EACH ROW EXECUTE FUNCTION accounts_tombstone()",
    "CREATE TABLE groups_deleted (
        id bigint NOT NULL,
        deleted_at timestamptz NOT NULL DEFAULT clock_timestamp())",
    "CREATE FUNCTION groups_tombstone() RETURNS trigger AS $$
     BEGIN INSERT INTO groups_deleted (id) VALUES (OLD.id); RETURN OLD; END
     $$ LANGUAGE plpgsql",
    "CREATE TRIGGER groups_tombstone AFTER DELETE ON groups
     FOR EACH ROW EXECUTE FUNCTION groups_tombstone()",
];

const SQLITE_DDL: &[&str] = &[
    "CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        given_name TEXT,
        department TEXT,
        age INTEGER,
        active BOOLEAN NOT NULL DEFAULT 1,
        password_hash TEXT,
        note TEXT,
        updated_at TEXT)",
    // AUTOINCREMENT: without it SQLite gives a deleted group's id to the
    // next one, and a uid must never name two objects (sync would report
    // the old one's delete for the new one).
    "CREATE TABLE groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        description TEXT,
        updated_at TEXT)",
    "CREATE TABLE memberships (
        account_id TEXT NOT NULL REFERENCES accounts (id),
        group_id INTEGER NOT NULL REFERENCES groups (id),
        PRIMARY KEY (account_id, group_id))",
    "CREATE TABLE accounts_deleted (
        id TEXT NOT NULL,
        deleted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    "CREATE TRIGGER accounts_tombstone AFTER DELETE ON accounts
     BEGIN INSERT INTO accounts_deleted (id) VALUES (OLD.id); END",
    "CREATE TABLE groups_deleted (
        id INTEGER NOT NULL,
        deleted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    "CREATE TRIGGER groups_tombstone AFTER DELETE ON groups
     BEGIN INSERT INTO groups_deleted (id) VALUES (OLD.id); END",
];

pub(crate) const CONFIG: &[(&str, &str)] = &[
    ("classes", "account,group"),
    ("account.table", "accounts"),
    ("account.name", "username"),
    ("account.enable", "active"),
    ("account.password", "password_hash"),
    ("account.updated", "updated_at"),
    ("account.deletes.table", "accounts_deleted"),
    ("account.attribute.givenName", "given_name"),
    ("group.table", "groups"),
    ("group.name", "name"),
    ("group.key_generated", "true"),
    ("group.updated", "updated_at"),
    ("group.deletes.table", "groups_deleted"),
    ("group.attribute.description", "description"),
    ("membership.table", "memberships"),
];

/// A database of one kind with the test tables.
pub(crate) enum Backend {
    Postgres(Postgres),
    Sqlite(tempfile::TempDir),
}

impl Backend {
    pub(crate) async fn postgres() -> Backend {
        let pg = tokio::task::spawn_blocking(Postgres::up).await.unwrap();
        let backend = Backend::Postgres(pg);
        backend.run_all(POSTGRES_DDL).await;
        backend
    }

    pub(crate) async fn sqlite() -> Backend {
        let backend = Backend::Sqlite(tempfile::tempdir().unwrap());
        backend.run_all(SQLITE_DDL).await;
        backend
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Postgres(_) => "postgres",
            Backend::Sqlite(_) => "sqlite",
        }
    }

    fn spec(&self) -> DatabaseSpec {
        match self {
            Backend::Postgres(pg) => pg.spec(),
            Backend::Sqlite(dir) => DatabaseSpec {
                url: format!("sqlite://{}", dir.path().join("hr.db").display()),
                password: None,
                max_connections: 4,
            },
        }
    }

    async fn run_all(&self, statements: &[&str]) {
        for statement in statements {
            self.run(statement).await;
        }
    }

    pub(crate) async fn run(&self, statement: &str) {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self {
            Backend::Postgres(pg) => {
                sqlx::query(statement)
                    .execute(&pg.connect().await)
                    .await
                    .unwrap();
            }
            Backend::Sqlite(dir) => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(dir.path().join("hr.db"))
                    .create_if_missing(true);
                let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// The first column of the first row of `query`, as text.
    async fn scalar(&self, query: &str) -> Option<String> {
        let query = sqlx::AssertSqlSafe(format!("SELECT CAST(({query}) AS TEXT)"));
        match self {
            Backend::Postgres(pg) => sqlx::query_scalar(query)
                .fetch_one(&pg.connect().await)
                .await
                .unwrap(),
            Backend::Sqlite(dir) => {
                let options =
                    sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("hr.db"));
                let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
                let value = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
                pool.close().await;
                value
            }
        }
    }

    /// The connector on this database, granted as `main`.
    pub(crate) fn connector(&self, config: &[(&str, &str)]) -> Connector {
        self.connector_on(config, self.spec(), None)
    }

    /// [`Backend::connector`], its calls recorded on or answered from
    /// `tape`; `live: false` grants a database of the same kind that does
    /// not exist, which a replay must never need.
    pub(crate) fn taped_connector(
        &self,
        config: &[(&str, &str)],
        tape: Arc<provisio_host::runtime::recording::Tape>,
        live: bool,
    ) -> Connector {
        let spec = match (live, self) {
            (true, _) => self.spec(),
            (false, Backend::Postgres(_)) => DatabaseSpec {
                url: "postgres://provisio@127.0.0.1:1/nowhere".into(),
                password: None,
                max_connections: 4,
            },
            (false, Backend::Sqlite(_)) => DatabaseSpec {
                url: "sqlite:///nonexistent/provisio/hr.db".into(),
                password: None,
                max_connections: 4,
            },
        };
        self.connector_on(config, spec, Some(tape))
    }

    fn connector_on(
        &self,
        config: &[(&str, &str)],
        spec: DatabaseSpec,
        tape: Option<Arc<provisio_host::runtime::recording::Tape>>,
    ) -> Connector {
        let mut settings = TargetSettings::new(format!("sql-{}", self.name()));
        settings.limits.timeout = Duration::from_secs(10);
        for (k, v) in config {
            settings
                .grants
                .config
                .values
                .insert((*k).into(), (*v).into());
        }
        let grants = BTreeMap::from([("main".to_owned(), spec)]);
        settings.grants.sql = Some(Arc::new(
            SqlGrant::connect_lazy(&grants, Duration::from_secs(5)).unwrap(),
        ));
        if let Some(tape) = tape {
            settings.grants = settings.grants.taped(tape).unwrap();
            // One instance, which describes the tables once: as a native
            // run of the connector (one instance) asks.
            settings.max_instances = 1;
        }
        provisio_tests::start(provisio_host::bundled::SQL.bytes, settings)
    }
}

fn account(id: &str, user: &str) -> Vec<Attribute> {
    vec![
        text("id", id),
        text("__name__", user),
        text("givenName", &format!("Given {id}")),
        text("department", "Engineering"),
        Attribute::single("__enable__", Value::Boolean(true)),
    ]
}

fn search(filter: Option<&str>, size: u32, cookie: Option<String>) -> SearchRequest {
    SearchRequest {
        class: "account".into(),
        filter: filter.map(Into::into),
        page: PageRequest { size, cookie },
        attributes: vec![],
    }
}

async fn uids(connector: &Connector, filter: &str) -> Vec<String> {
    let page = connector
        .search(search(Some(filter), 1000, None))
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    page.objects.into_iter().map(|o| o.uid).collect()
}

async fn every_operation(backend: Backend) {
    let db = backend.connector(CONFIG);
    db.test().await.expect("the tables are there");

    let schema = db.schema().await.unwrap();
    let accounts = schema.classes.iter().find(|c| c.name == "account").unwrap();
    let names: Vec<&str> = accounts
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    for expected in [
        "id",
        "username",
        "givenName",
        "age",
        "__enable__",
        "__password__",
        "__groups__",
    ] {
        assert!(
            names.contains(&expected),
            "{}: schema lacks {expected}: {names:?}",
            backend.name()
        );
    }
    assert!(
        !names.contains(&"password_hash"),
        "the hash column is not an attribute"
    );

    let mut ada = account("1", "ada");
    ada.push(text("__password__", "correct horse battery staple"));
    ada.push(Attribute::single("age", Value::Integer(36)));
    let created = db.create("account", ada).await.unwrap();
    assert_eq!((created.uid.as_str(), created.name.as_str()), ("1", "ada"));
    assert_eq!(
        values(&created, "givenName"),
        [Value::Text("Given 1".into())]
    );
    assert_eq!(values(&created, "age"), [Value::Integer(36)]);
    assert_eq!(values(&created, "__enable__"), [Value::Boolean(true)]);
    assert!(created.attribute("__password__").is_none());
    let hash = backend
        .scalar("SELECT password_hash FROM accounts WHERE id = '1'")
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("horse"));

    let duplicate = db
        .create("account", account("1", "other"))
        .await
        .unwrap_err();
    assert_eq!(code(&duplicate), "already-exists", "{duplicate}");
    let duplicate_name = db.create("account", account("9", "ada")).await.unwrap_err();
    assert_eq!(code(&duplicate_name), "already-exists", "{duplicate_name}");

    // A group with a generated key, and membership through the table.
    let group = db
        .create("group", vec![text("__name__", "engineering")])
        .await
        .unwrap();
    assert!(
        group.uid.parse::<i64>().is_ok(),
        "generated key: {}",
        group.uid
    );
    let member = db
        .update(
            "account",
            "1",
            vec![AttributeChange::AddValues(Attribute::single(
                "__groups__",
                Value::Reference(group.uid.clone()),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(
        values(&member, "__groups__"),
        [Value::Reference(group.uid.clone())]
    );

    let updated = db
        .update(
            "account",
            "1",
            vec![
                AttributeChange::Replace(text("givenName", "Augusta Ada")),
                AttributeChange::Replace(Attribute::single("__enable__", Value::Boolean(false))),
                AttributeChange::Replace(text("__name__", "ada.lovelace")),
                AttributeChange::Replace(Attribute::new("department", vec![])),
                AttributeChange::Replace(text("age", "37")),
                AttributeChange::Replace(text("__password__", "new secret")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "ada.lovelace");
    assert_eq!(
        values(&updated, "givenName"),
        [Value::Text("Augusta Ada".into())]
    );
    assert_eq!(values(&updated, "__enable__"), [Value::Boolean(false)]);
    assert!(updated.attribute("department").is_none(), "cleared");
    assert_eq!(values(&updated, "age"), [Value::Integer(37)]);
    let new_hash = backend
        .scalar("SELECT password_hash FROM accounts WHERE id = '1'")
        .await
        .unwrap();
    assert_ne!(new_hash, hash);
    assert_eq!(db.get("account", "1", vec![]).await.unwrap(), updated);
    let partial = db.get("account", "1", vec!["age".into()]).await.unwrap();
    assert_eq!(
        partial.attributes,
        [Attribute::single("age", Value::Integer(37))]
    );

    let removed = db
        .update(
            "account",
            "1",
            vec![AttributeChange::RemoveValues(Attribute::single(
                "__groups__",
                Value::Reference(group.uid.clone()),
            ))],
        )
        .await
        .unwrap();
    assert!(removed.attribute("__groups__").is_none());

    db.delete("account", "1").await.unwrap();
    let gone = db.get("account", "1", vec![]).await.unwrap_err();
    assert_eq!(code(&gone), "not-found", "{gone}");
    assert_eq!(
        code(&db.delete("account", "1").await.unwrap_err()),
        "not-found"
    );
    assert_eq!(
        code(
            &db.update(
                "account",
                "1",
                vec![AttributeChange::Replace(text("note", "x"))]
            )
            .await
            .unwrap_err()
        ),
        "not-found"
    );
    assert_eq!(
        backend
            .scalar("SELECT COUNT(*) FROM accounts")
            .await
            .as_deref(),
        Some("0")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_on_postgres() {
    every_operation(Backend::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_on_sqlite() {
    every_operation(Backend::sqlite().await).await;
}

/// The settings without a membership table: creates and updates are then
/// single statements, without a transaction.
fn without_memberships() -> Vec<(&'static str, &'static str)> {
    CONFIG
        .iter()
        .copied()
        .filter(|(k, _)| !k.starts_with("membership."))
        .collect()
}

async fn filters_and_bad_values(backend: Backend) {
    let db = backend.connector(&without_memberships());
    let awkward = [
        ("1", "o'brien", "O'Brien"),
        ("2", "percent", "100% sure"),
        ("3", "underscore", "a_b"),
        ("4", "lookalike", "axb"),
        ("5", "backslash", "back\\slash"),
        ("6", "quoted", "say \"hi\""),
        ("7", "plain", "Plain"),
    ];
    for (id, user, note) in awkward {
        let mut attributes = account(id, user);
        attributes.push(text("note", note));
        attributes.push(Attribute::single(
            "age",
            Value::Integer(id.parse::<i64>().unwrap() * 10),
        ));
        db.create("account", attributes).await.unwrap();
    }
    let cases: &[(&str, &[&str])] = &[
        (r#"note eq "O'Brien""#, &["1"]),
        (r#"note eq "o'brien""#, &["1"]),
        (r#"note co "%""#, &["2"]),
        (r#"note sw "a_""#, &["3"]),
        (r#"note co "_""#, &["3"]),
        (r#"note co "\\""#, &["5"]),
        (r#"note co "\"hi\"""#, &["6"]),
        (r#"note ew "SURE""#, &["2"]),
        (r#"note eq "x' OR '1'='1""#, &[]),
        (r#"age gt 40"#, &["5", "6", "7"]),
        (r#"age le 20 and note pr"#, &["1", "2"]),
        (r#"not (age lt 60)"#, &["6", "7"]),
        (r#"username eq "plain" or uid eq "4""#, &["4", "7"]),
        (r#"enable eq true and note sw "a""#, &["3", "4"]),
        (r#"givenName eq null"#, &[]),
        (r#"givenName sw "given 1""#, &["1"]),
    ];
    for (filter, expected) in cases {
        let found = uids(&db, filter).await;
        assert_eq!(found, *expected, "{}: {filter}", backend.name());
    }
    let unknown = db
        .search(search(Some("shoeSize eq 3"), 10, None))
        .await
        .unwrap_err();
    assert_eq!(code(&unknown), "invalid", "{unknown}");
    assert!(unknown.to_string().contains("shoeSize"), "{unknown}");
    assert_eq!(
        backend
            .scalar("SELECT COUNT(*) FROM accounts")
            .await
            .as_deref(),
        Some("7")
    );

    // A value that does not fit its column names the attribute and the type.
    let mut bad = account("8", "bad");
    bad.push(text("age", "thirty"));
    let error = db.create("account", bad).await.unwrap_err();
    match error.connector_error() {
        Some(ConnectorError::Invalid { attribute, message }) => {
            assert_eq!(attribute.as_deref(), Some("age"), "{message}");
            assert!(
                message.contains("thirty") && message.contains("integer"),
                "{message}"
            );
        }
        other => panic!("{}: {other:?}", backend.name()),
    }
    let unknown = db
        .create(
            "account",
            vec![
                text("id", "9"),
                text("__name__", "x"),
                text("shoeSize", "9"),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&unknown), "invalid", "{unknown}");
    assert_eq!(
        backend
            .scalar("SELECT COUNT(*) FROM accounts")
            .await
            .as_deref(),
        Some("7"),
        "nothing stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_bad_values_on_postgres() {
    filters_and_bad_values(Backend::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_bad_values_on_sqlite() {
    filters_and_bad_values(Backend::sqlite().await).await;
}

async fn paging_and_sync(backend: Backend) {
    // 5,000 rows written straight into the table, as another application would.
    let insert = match &backend {
        Backend::Postgres(_) => {
            "INSERT INTO accounts (id, username, department, updated_at) \
            SELECT 'u' || lpad(n::text, 5, '0'), 'user' || n, CASE WHEN n % 2 = 0 THEN 'Even' ELSE 'Odd' END, \
            clock_timestamp() - interval '1 hour' FROM generate_series(1, 5000) AS n"
        }
        Backend::Sqlite(_) => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
            INSERT INTO accounts (id, username, department, updated_at) \
            SELECT 'u' || substr('0000' || i, -5, 5), 'user' || i, CASE WHEN i % 2 = 0 THEN 'Even' ELSE 'Odd' END, \
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hours') FROM n"
        }
    };
    backend.run(insert).await;
    let db = backend.connector(CONFIG);

    let mut seen = Vec::new();
    let mut cookie = None;
    let mut pages = 0;
    loop {
        let page = db.search(search(None, 700, cookie)).await.unwrap();
        pages += 1;
        seen.extend(page.objects.iter().map(|o| o.uid.clone()));
        match page.cookie {
            Some(c) => cookie = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 8, "{}", backend.name());
    assert_eq!(seen.len(), 5000);
    // Contract 0.2.0: COUNT(*) with the same WHERE as search, no rows read.
    let count = |filter: Option<&str>| {
        db.count(provisio_host::model::CountRequest {
            class: "account".into(),
            filter: filter.map(str::to_owned),
        })
    };
    assert_eq!(count(None).await.unwrap(), 5000);
    assert_eq!(count(Some(r#"department eq "Even""#)).await.unwrap(), 2500);
    assert_eq!(
        count(Some(r#"department eq "Even' OR '1'='1""#))
            .await
            .unwrap(),
        0,
        "values are bound, never spliced"
    );
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in key order, each once");

    let mut even = 0;
    let mut cookie = None;
    loop {
        let page = db
            .search(search(Some(r#"department eq "even""#), 999, cookie))
            .await
            .unwrap();
        even += page.objects.len();
        match page.cookie {
            Some(c) => cookie = Some(c),
            None => break,
        }
    }
    assert_eq!(even, 2500);

    // Sync: from the beginning every row is a create, in batches.
    let mut token = None;
    let mut reported = 0;
    loop {
        let batch = db
            .sync(SyncRequest {
                class: "account".into(),
                token: token.clone(),
                max_deltas: 2000,
            })
            .await
            .unwrap();
        assert!(batch.deltas.iter().all(|d| d.kind == DeltaKind::Create));
        reported += batch.deltas.len();
        token = Some(batch.token);
        if !batch.has_more {
            break;
        }
    }
    assert_eq!(reported, 5000);
    let latest = db.latest_sync_token("account").await.unwrap();
    assert_eq!(Some(&latest), token.as_ref());

    // Changes made now are reported once they are a second old, each once.
    db.create("account", account("new1", "newcomer"))
        .await
        .unwrap();
    db.update(
        "account",
        "u00042",
        vec![AttributeChange::Replace(text("department", "Moved"))],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let batch = db
        .sync(SyncRequest {
            class: "account".into(),
            token: Some(latest.clone()),
            max_deltas: 100,
        })
        .await
        .unwrap();
    let changed: Vec<&str> = batch.deltas.iter().map(|d| d.uid.as_str()).collect();
    assert_eq!(changed, ["new1", "u00042"], "{}", backend.name());
    let moved = batch.deltas[1].object.as_ref().unwrap();
    assert_eq!(values(moved, "department"), [Value::Text("Moved".into())]);
    let again = db
        .sync(SyncRequest {
            class: "account".into(),
            token: Some(batch.token.clone()),
            max_deltas: 100,
        })
        .await
        .unwrap();
    assert!(again.deltas.is_empty() && !again.has_more);
    assert_eq!(again.token, batch.token);

    // Deletes, by another application and through the connector, are
    // reported from the tombstone table the trigger fills, before rows.
    backend
        .run("DELETE FROM accounts WHERE id IN ('u00007', 'u00008')")
        .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    db.delete("account", "u00009").await.unwrap();
    db.update(
        "account",
        "u00010",
        vec![AttributeChange::Replace(text("department", "Kept"))],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let sync = |token: String, max_deltas: u32| {
        db.sync(SyncRequest {
            class: "account".into(),
            token: Some(token),
            max_deltas,
        })
    };
    let first = sync(again.token.clone(), 2).await.unwrap();
    let seen: Vec<(DeltaKind, &str)> = first
        .deltas
        .iter()
        .map(|d| (d.kind, d.uid.as_str()))
        .collect();
    assert_eq!(
        seen,
        [(DeltaKind::Delete, "u00007"), (DeltaKind::Delete, "u00008")],
        "{}",
        backend.name()
    );
    assert!(first.has_more && first.deltas.iter().all(|d| d.object.is_none()));
    let rest = sync(first.token.clone(), 100).await.unwrap();
    let seen: Vec<(DeltaKind, &str)> = rest
        .deltas
        .iter()
        .map(|d| (d.kind, d.uid.as_str()))
        .collect();
    assert_eq!(
        seen,
        [(DeltaKind::Delete, "u00009"), (DeltaKind::Update, "u00010")]
    );
    assert!(!rest.has_more);
    let none = sync(rest.token.clone(), 100).await.unwrap();
    assert!(none.deltas.is_empty(), "each change once");
    assert_eq!(db.latest_sync_token("account").await.unwrap(), rest.token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_and_sync_on_postgres() {
    paging_and_sync(Backend::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_and_sync_on_sqlite() {
    paging_and_sync(Backend::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_down_is_retryable_and_heals() {
    let backend = Backend::postgres().await;
    let db = backend.connector(CONFIG);
    db.create("account", account("1", "ada")).await.unwrap();
    let Backend::Postgres(pg) = &backend else {
        unreachable!()
    };
    tokio::task::block_in_place(|| pg.stop());
    let error = db.get("account", "1", vec![]).await.unwrap_err();
    assert_eq!(code(&error), "unavailable", "{error}");
    assert!(
        !error.to_string().contains(&pg.password),
        "no secret in errors"
    );
    let error = db.create("account", account("2", "bob")).await.unwrap_err();
    assert_eq!(code(&error), "unavailable", "{error}");
    tokio::task::block_in_place(|| pg.start());
    let ada = db.get("account", "1", vec![]).await.unwrap();
    assert_eq!(ada.name, "ada");
    db.create("account", account("2", "bob")).await.unwrap();
}

/// A pooled connection used within the last second is lent without a ping
/// (one round trip per statement, not two): each one the server killed in
/// that second fails one statement `unavailable` (the engine retries it)
/// and is replaced. An older connection is pinged first, so its death
/// costs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_killed_is_replaced() {
    let backend = Backend::postgres().await;
    let db = backend.connector(CONFIG);
    db.create("account", account("1", "ada")).await.unwrap();
    let ours = "FROM pg_stat_activity WHERE application_name = 'provisio'";
    // With a timeout, pg_terminate_backend returns once the backends are gone.
    let kill = format!("SELECT pg_terminate_backend(pid, 5000) {ours}");
    // A pool may hold more than one connection even for one caller (sqlx
    // returns a connection to the pool on a task of its own).
    let held: usize = backend
        .scalar(&format!("SELECT count(*) {ours}"))
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(held >= 1);

    backend.run(&kill).await;
    let mut failed = 0;
    loop {
        match db.get("account", "1", vec![]).await {
            Ok(ada) => {
                assert_eq!(ada.name, "ada");
                break;
            }
            Err(error) => {
                assert_eq!(code(&error), "unavailable", "{error}");
                failed += 1;
                assert!(
                    failed <= held,
                    "{failed} failures with {held} connections killed"
                );
            }
        }
    }
    assert!(
        failed >= 1,
        "a killed connection used within the window fails once"
    );

    backend.run(&kill).await;
    tokio::time::sleep(sql::ALIVE_WITHOUT_PING + Duration::from_millis(200)).await;
    assert_eq!(db.get("account", "1", vec![]).await.unwrap().name, "ada");
}

/// A connector built against `provisio:sql@0.1.0` (the `ledger` fixture)
/// on a host that binds 0.1.1: it links, and 0.1.0's `query` still
/// describes each result's columns (the fixture checks their names).
async fn a_connector_built_against_sql_0_1_0_still_runs(backend: Backend) {
    backend
        .run("CREATE TABLE ledger (name text PRIMARY KEY)")
        .await;
    let mut settings = TargetSettings::new(format!("ledger-{}", backend.name()));
    let grants = BTreeMap::from([("main".to_owned(), backend.spec())]);
    settings.grants.sql = Some(Arc::new(
        SqlGrant::connect_lazy(&grants, Duration::from_secs(5)).unwrap(),
    ));
    let bytes = provisio_tests::fixtures::bytes(provisio_tests::fixtures::SQL_0_1_0);
    let ledger = provisio_tests::start(&bytes, settings);
    assert_eq!(ledger.info().name, "ledger");
    ledger.test().await.unwrap();
    let created = ledger
        .create(
            "account",
            vec![Attribute::single("__name__", Value::Text("ada".into()))],
        )
        .await
        .unwrap();
    assert_eq!(created.uid, "ada");
    assert_eq!(
        ledger.get("account", "ada", vec![]).await.unwrap().name,
        "ada"
    );
    let missing = ledger.get("account", "bob", vec![]).await.unwrap_err();
    assert_eq!(code(&missing), "not-found", "{missing}");
    let twice = ledger
        .create(
            "account",
            vec![Attribute::single("__name__", Value::Text("ada".into()))],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&twice), "already-exists", "{twice}");
    assert_eq!(
        backend
            .scalar("SELECT COUNT(*) FROM ledger")
            .await
            .as_deref(),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_built_against_sql_0_1_0_still_runs_on_postgres() {
    a_connector_built_against_sql_0_1_0_still_runs(Backend::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_built_against_sql_0_1_0_still_runs_on_sqlite() {
    a_connector_built_against_sql_0_1_0_still_runs(Backend::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_granted_databases_open() {
    let backend = Backend::sqlite().await;
    let mut config = CONFIG.to_vec();
    config.push(("database", "payroll"));
    let db = backend.connector(&config);
    let error = db.test().await.unwrap_err();
    assert_eq!(code(&error), "permission-denied", "{error}");
    let message = error.to_string();
    assert!(
        message.contains("payroll") && message.contains("granted: main"),
        "{message}"
    );

    // A connector that imports SQL cannot start on a target granting none.
    let component = provisio_tests::runtime()
        .load(provisio_host::bundled::SQL.bytes)
        .unwrap();
    let Err(refused) = component.start(TargetSettings::new("no-sql")) else {
        panic!("a target without SQL started the SQL connector");
    };
    let refused = refused.to_string();
    assert!(
        refused.contains("provisio:sql/client@0.1.1") && refused.contains("does not grant"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_configured_in_provisio_toml_serve_through_the_api() {
    use provisio_tests::host::{TestHost, csv_account};
    let pg = Backend::postgres().await;
    let lite = Backend::sqlite().await;
    let Backend::Postgres(server) = &pg else {
        unreachable!()
    };
    let Backend::Sqlite(lite_dir) = &lite else {
        unreachable!()
    };
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("pg-password");
    std::fs::write(&password_file, format!("{}\n", server.password)).unwrap();
    let config: String = CONFIG
        .iter()
        .map(|(k, v)| format!("{k:?} = {v:?}\n"))
        .collect();
    let targets = format!(
        "[targets.pg]\nconnector = \"bundled:sql\"\n[targets.pg.grants.sql.main]\nurl = {url:?}\npassword = {{ file = {file:?} }}\n[targets.pg.config]\n{config}\n\
         [targets.lite]\nconnector = \"bundled:sql\"\n[targets.lite.grants.sql.main]\nurl = {lite_url:?}\n[targets.lite.config]\n{config}\n",
        url = server.url,
        file = password_file.display().to_string(),
        lite_url = format!("sqlite://{}", lite_dir.path().join("hr.db").display()),
    );
    let host = TestHost::start(&targets, "", &[]).await;
    for (target, backend) in [("pg", &pg), ("lite", &lite)] {
        let mut create = csv_account("emp-1", "e1", "ada");
        create["attributes"] =
            serde_json::json!({"id": "e1", "__name__": "ada", "department": "R&D", "age": 36});
        let done = host.run(target, create).await;
        assert_eq!(done["status"], "succeeded", "{target}: {done}");
        assert_eq!(done["result"]["uid"], "e1");
        assert_eq!(
            backend
                .scalar("SELECT username FROM accounts WHERE id = 'e1'")
                .await
                .as_deref(),
            Some("ada")
        );
        let bad = host
            .run(
                target,
                serde_json::json!({"kind": "update", "identity": "emp-1",
                "changes": [{"op": "replace", "name": "age", "values": "old"}]}),
            )
            .await;
        assert_eq!(bad["status"], "failed", "{target}: {bad}");
        assert!(bad["error"].to_string().contains("age"), "{bad}");
    }
    let listed = host.get("/v1/targets/pg").await;
    assert!(
        !listed.body.to_string().contains(&server.password),
        "no secret in the API"
    );
}

#[test]
fn a_password_in_a_database_url_is_refused_without_repeating_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("provisio.toml");
    std::fs::write(
        &file,
        format!(
            "[[tokens]]\nname = \"ops\"\nrole = \"operator\"\nsha256 = \"{}\"\n\n[targets.hr]\nconnector = \"bundled:sql\"\n[targets.hr.grants.sql.main]\nurl = \"postgres://app:hunter2@127.0.0.1/hr\"\n",
            provisio_host::config::hash_token("t")
        ),
    )
    .unwrap();
    let error = provisio_host::config::Config::load(&file)
        .unwrap_err()
        .to_string();
    assert!(error.contains("grants.sql.main.url"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

/// What `provisio_sdk::testing` replays of SQL is what the host records:
/// the connector run in the host on SQLite, recorded; then the same crate
/// built natively, on a `Fake` granting `main` and replaying that
/// recording, answers the same calls the same way and asks nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_recording_replays_in_the_connectors_native_tests() {
    use crate::util::Replayed;
    use provisio_connector_sql::SqlConnector;
    use provisio_sdk::Connector as _;

    let db = Backend::sqlite().await;
    let recording = tempfile::tempdir().unwrap();
    let tape =
        Arc::new(provisio_host::runtime::recording::Tape::record(recording.path(), []).unwrap());
    let host = db.taped_connector(CONFIG, tape.clone(), true);
    let script = Replayed {
        class: "account",
        create: account("1", "ada"),
        filter: r#"name eq "ada""#,
        change: AttributeChange::Replace(text("givenName", "Augusta")),
        delete: true,
    };
    let recorded = script.on_host(&host).await;
    drop(host);
    drop(tape);

    let dir = recording.path().to_owned();
    let (native, unused) = tokio::task::spawn_blocking(move || {
        let mut fake = provisio_sdk::testing::Fake::new();
        for (key, value) in CONFIG {
            fake = fake.set(key, value);
        }
        let fake = fake
            .database("main", provisio_sdk::sql::Dialect::Sqlite)
            .replay(&dir)
            .unwrap();
        let mut sql = SqlConnector::open(&fake.config()).unwrap();
        (script.natively(&mut sql), fake.unused())
    })
    .await
    .unwrap();
    assert_eq!(native, recorded);
    assert_eq!(
        unused, 0,
        "the native run asked less than the host recorded"
    );
}
