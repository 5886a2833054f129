//! `provisio_sdk::testing`: the host faked for a connector's native unit
//! tests — configuration, secrets, logs, and HTTP answered from a recording
//! or from scripted answers.

use provisio_sdk::http::{Request, Response};
use provisio_sdk::log::Level;
use provisio_sdk::testing::{Fake, ReplayError};
use provisio_sdk::{Error, info};

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn configuration_secrets_and_logs_are_the_fakes() {
    let fake = Fake::new()
        .set("base_url", "http://127.0.0.1:9")
        .set("page_size", "50")
        .secret("token", "t0ken-value");
    let config = fake.config();
    assert_eq!(
        config.get("base_url").as_deref(),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(config.parse_or("page_size", 10u32).unwrap(), 50);
    assert_eq!(config.keys(), ["base_url", "page_size"]);
    assert_eq!(
        config.require_secret("token").unwrap().expose(),
        "t0ken-value"
    );
    let missing = config.require("nope").unwrap_err();
    assert!(matches!(missing, Error::Invalid(_)), "{missing:?}");

    info!("opened {}", config.get("base_url").unwrap());
    provisio_sdk::warn!("slow");
    let logs = fake.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].level, Level::Info);
    assert_eq!(logs[0].message, "opened http://127.0.0.1:9");
    assert_eq!(logs[1].level, Level::Warn);
}

#[test]
fn scripted_answers_are_given_once_each_in_order() {
    let fake = Fake::new()
        .respond(
            "GET",
            "http://svc/Users/7",
            response(429, &[("retry-after", "3")], "slow down"),
        )
        .respond(
            "get",
            "http://svc/Users/7",
            response(200, &[], r#"{"id":"7"}"#),
        );
    let first = Request::get("http://svc/Users/7").send().unwrap();
    assert_eq!(first.status, 429);
    match first.error_for_status("GET /Users/7") {
        Err(Error::RateLimited(limit)) => assert_eq!(limit.retry_after_ms, 3000),
        other => panic!("{other:?}"),
    }
    let second = Request::get("http://svc/Users/7").send().unwrap();
    assert_eq!(second.json().unwrap()["id"], "7");
    assert_eq!(fake.unused(), 0);
    let third = Request::get("http://svc/Users/7").send().unwrap_err();
    assert!(
        matches!(&third, Error::Failed(m) if m.contains("GET http://svc/Users/7")),
        "{third:?}"
    );
    assert_eq!(fake.requests().len(), 3, "every request is kept");
}

/// A recording as the host writes it (`provisio invoke --record`): the
/// request with secrets as `***` and passwords as `<redacted>`, the whole
/// answer, binary bytes in base64; other capabilities' lines skipped.
#[test]
fn a_recording_answers_the_requests_it_holds() {
    let dir = std::env::temp_dir().join(format!("provisio-sdk-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lines = [
        r#"{"capability":"clock","call":"now","request":null,"response":{"seconds":1,"nanoseconds":0}}"#,
        r#"{"capability":"http","call":"send","request":{"method":"POST","uri":"http://svc/Users?key=***","headers":[["authorization","<redacted>"]],"body":"{\"userName\":\"ada\",\"password\":\"<redacted>\"}"},"response":{"response":{"status":201,"headers":[["content-type","application/json"]],"body":"{\"id\":\"1\"}"}}}"#,
        r#"{"capability":"http","call":"send","request":{"method":"GET","uri":"http://svc/Photos/1","headers":[],"body":""},"response":{"response":{"status":200,"headers":[],"body":{"base64":"/wAQ"}}}}"#,
        r#"{"capability":"http","call":"send","request":{"method":"GET","uri":"http://svc/down","headers":[],"body":""},"response":{"failed":{"kind":"connection-refused","message":"refused"}}}"#,
    ];
    std::fs::write(dir.join("exchanges.jsonl"), lines.join("\n")).unwrap();

    let fake = Fake::new()
        .secret("key", "api-key-123")
        .replay(&dir)
        .unwrap();
    assert_eq!(fake.unused(), 3);
    let created = Request::post("http://svc/Users?key=api-key-123")
        .header("authorization", "Bearer api-key-123")
        .json(&serde_json::json!({"password": "Secret-1", "userName": "ada"}))
        .send()
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.header("content-type"), Some("application/json"));
    let photo = Request::get("http://svc/Photos/1").send().unwrap();
    assert_eq!(photo.body, [0xff, 0x00, 0x10]);
    let down = Request::get("http://svc/down").send().unwrap_err();
    assert!(matches!(down, Error::Unavailable(_)), "{down:?}");
    assert_eq!(fake.unused(), 0);

    // Another body is another request.
    let fake = Fake::new()
        .secret("key", "api-key-123")
        .replay(&dir)
        .unwrap();
    let other = Request::post("http://svc/Users?key=api-key-123")
        .json(&serde_json::json!({"userName": "bob"}))
        .send()
        .unwrap_err();
    assert!(
        matches!(&other, Error::Failed(m) if m.contains("replay")),
        "{other:?}"
    );
    assert_eq!(fake.unused(), 3);

    std::fs::write(
        dir.join("exchanges.jsonl"),
        "{\"capability\":\"http\",\"call\":\"send\"}\n",
    )
    .unwrap();
    let broken = Fake::new()
        .replay(&dir)
        .err()
        .expect("a broken line is refused");
    assert!(
        matches!(broken, ReplayError::Line { line: 1, .. }),
        "{broken}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let missing = Fake::new()
        .replay(&dir)
        .err()
        .expect("a missing recording is refused");
    assert!(missing.to_string().contains("exchanges.jsonl"), "{missing}");
}

#[test]
fn ldap_says_it_is_not_faked_and_an_undeclared_database_is_not_granted() {
    let _fake = Fake::new();
    let ldap = provisio_sdk::ldap::Connection::open("ldap://127.0.0.1:389", false).err();
    assert!(
        matches!(&ldap, Some(provisio_sdk::ldap::LdapError::Failed(m)) if m.contains("--replay")),
        "{:?}",
        ldap.map(|e| format!("{e:?}"))
    );
    let sql = provisio_sdk::sql::Database::open("app").err();
    assert!(
        matches!(&sql, Some(provisio_sdk::sql::SqlError::NotGranted(m)) if m.contains("Fake::database")),
        "{:?}",
        sql.map(|e| format!("{e:?}"))
    );
}

/// SQL lines as the host records them: statements, a transaction, a
/// cursor, a constraint error; secrets in parameters compared as `***`.
#[test]
fn a_recording_answers_sql_statements_transactions_and_cursors() {
    use provisio_sdk::sql::{ConstraintKind, Database, Dialect, SqlError, Value};
    let dir = std::env::temp_dir().join(format!("provisio-sdk-fake-sql-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lines = [
        r#"{"capability":"sql","call":"query","request":{"database":"main","sql":"SELECT id FROM t WHERE k = ?1","params":[{"text":"***"}],"shape":"values"},"response":{"ok":{"columns":[],"rows":[[{"integer":7}]]}}}"#,
        r#"{"capability":"sql","call":"begin","request":{"database":"main","transaction":1},"response":{"ok":null}}"#,
        r#"{"capability":"sql","call":"tx-execute","request":{"transaction":1,"sql":"INSERT INTO t VALUES (?1, ?2)","params":[{"text":"a"},{"blob":{"base64":"/wA="}}]},"response":{"err":{"constraint":{"kind":"unique","name":"t_pkey","message":"duplicate"}}}}"#,
        r#"{"capability":"sql","call":"rollback","request":{"transaction":1},"response":{"ok":null}}"#,
        r#"{"capability":"sql","call":"cursor","request":{"database":"main","sql":"SELECT k, r FROM t","params":[],"cursor":2},"response":{"ok":null}}"#,
        r#"{"capability":"sql","call":"next","request":{"cursor":2,"max":10},"response":{"ok":{"columns":[["k","TEXT"],["r","REAL"]],"rows":[[{"text":"a"},{"real":"0.1"}],["null",{"real":"inf"}]]}}}"#,
    ];
    std::fs::write(dir.join("exchanges.jsonl"), lines.join("\n")).unwrap();
    let fake = Fake::new()
        .secret("key", "hunter-22")
        .database("main", Dialect::Sqlite)
        .replay(&dir)
        .unwrap();
    let db = Database::open("main").unwrap();
    assert_eq!(db.dialect(), Dialect::Sqlite);
    let ids = db
        .query_values("SELECT id FROM t WHERE k = ?1", &["hunter-22".into()])
        .unwrap();
    assert_eq!(ids, [[Value::Integer(7)]]);
    let tx = db.transaction().unwrap();
    let refused = tx
        .execute(
            "INSERT INTO t VALUES (?1, ?2)",
            &["a".into(), Value::Blob(vec![0xff, 0])],
        )
        .unwrap_err();
    assert!(
        matches!(&refused, SqlError::Constraint(c) if c.kind == ConstraintKind::Unique),
        "{refused:?}"
    );
    tx.rollback().unwrap();
    let mut cursor = db.cursor("SELECT k, r FROM t", &[]).unwrap();
    let batch = cursor.next_batch(10).unwrap();
    assert_eq!(batch.columns[1].type_name, "REAL");
    assert_eq!(batch.rows[0], [Value::Text("a".into()), Value::Real(0.1)]);
    assert_eq!(batch.rows[1], [Value::Null, Value::Real(f64::INFINITY)]);
    assert_eq!(fake.unused(), 0);
    let unrecorded = db.execute("DELETE FROM t", &[]).unwrap_err();
    assert!(
        matches!(&unrecorded, SqlError::Failed(m) if m.contains("replay: the fake holds no sql execute")),
        "{unrecorded:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[should_panic(expected = "provisio_sdk::testing::Fake")]
fn without_a_fake_the_host_is_missing_and_says_so() {
    let _ = provisio_sdk::Config::default().get("base_url");
}

#[test]
fn a_fake_is_gone_when_dropped() {
    drop(Fake::new().set("a", "1"));
    let outcome = std::panic::catch_unwind(|| provisio_sdk::Config::default().get("a"));
    assert!(outcome.is_err(), "the dropped fake still answered");
}
