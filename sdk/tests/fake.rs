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
fn an_undeclared_database_is_not_granted() {
    let _fake = Fake::new();
    let sql = provisio_sdk::sql::Database::open("app").err();
    assert!(
        matches!(&sql, Some(provisio_sdk::sql::SqlError::NotGranted(m)) if m.contains("Fake::database")),
        "{:?}",
        sql.map(|e| format!("{e:?}"))
    );
}

/// LDAP lines as the host records them: the connection in every request,
/// a page with a binary value and a cookie, a refusal with its result
/// code, a password change and a password check (values redacted), and a
/// URL normalised as the host normalises it.
#[test]
fn a_recording_answers_ldap_calls() {
    use provisio_sdk::ldap::{
        Attribute, Connection, LdapError, Modification, Scope, SearchRequest,
    };
    let dir = std::env::temp_dir().join(format!("provisio-sdk-fake-ldap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let connection = r#"{"url":"ldap://127.0.0.1:389","security":"StartTls"}"#;
    let lines = [
        format!(
            r#"{{"capability":"ldap","call":"open","request":{connection},"response":{{"Ok":null}}}}"#
        ),
        format!(
            r#"{{"capability":"ldap","call":"search","request":{{"connection":{connection},"base":"ou=people,dc=example","scope":"subtree","filter":"(uid=a*)","attributes":["uid","jpegPhoto"],"page_size":1,"sort":[["uid",false]],"show_deleted":false,"cookie":""}},"response":{{"Ok":{{"entries":[{{"dn":"uid=ada,ou=people,dc=example","attributes":[{{"name":"uid","values":["ada"]}},{{"name":"jpegPhoto","values":[{{"base64":"/wAQ"}}]}}]}}],"cookie":{{"base64":"AAE="}}}}}}}}"#
        ),
        format!(
            r#"{{"capability":"ldap","call":"add","request":{{"connection":{connection},"dn":"uid=ada,ou=people,dc=example","attributes":[{{"name":"uid","values":["ada"]}}],"read_back":[]}},"response":{{"Err":{{"server":{{"code":68,"matched_dn":"","message":"Already exists"}}}}}}}}"#
        ),
        format!(
            r#"{{"capability":"ldap","call":"modify","request":{{"connection":{connection},"dn":"uid=ada,ou=people,dc=example","changes":[{{"kind":"replace","attribute":"userPassword","values":["<redacted>"]}}],"read_back":["uid"]}},"response":{{"Ok":{{"dn":"uid=ada,ou=people,dc=example","attributes":[{{"name":"uid","values":["ada"]}}]}}}}}}"#
        ),
        format!(
            r#"{{"capability":"ldap","call":"check-password","request":{{"connection":{connection},"dn":"uid=ada,ou=people,dc=example","password":"<redacted>"}},"response":{{"Ok":true}}}}"#
        ),
        format!(
            r#"{{"capability":"ldap","call":"delete","request":{{"connection":{connection},"dn":"uid=gone,ou=people,dc=example"}},"response":{{"Err":{{"unavailable":"the directory closed the connection"}}}}}}"#
        ),
    ];
    std::fs::write(dir.join("exchanges.jsonl"), lines.join("\n")).unwrap();
    let fake = Fake::new().replay(&dir).unwrap();
    assert_eq!(fake.unused(), 6);

    let plain = Connection::open("ldap://127.0.0.1", false).err();
    assert!(
        matches!(&plain, Some(LdapError::Failed(m)) if m.contains("replay: the fake holds no ldap open")),
        "another security is another connection: {:?}",
        plain.map(|e| format!("{e:?}"))
    );
    let conn = Connection::open("LDAP://127.0.0.1/", true).unwrap();
    assert!(conn.is_encrypted());
    let request = SearchRequest::new("ou=people,dc=example", Scope::Subtree, "(uid=a*)")
        .attributes(&["uid", "jpegPhoto"])
        .page_size(1)
        .sort_by("uid", false);
    let page = conn.search_page(&request, &[]).unwrap();
    assert_eq!(page.cookie, [0, 1]);
    assert_eq!(page.entries[0].text("uid").as_deref(), Some("ada"));
    assert_eq!(
        page.entries[0].values("jpegphoto"),
        [vec![0xff, 0x00, 0x10]]
    );
    let exists = conn
        .add(
            "uid=ada,ou=people,dc=example",
            &[Attribute::text("uid", &["ada"])],
        )
        .unwrap_err();
    assert!(
        matches!(Error::from(exists), Error::AlreadyExists(_)),
        "result 68 is already-exists"
    );
    let written = conn
        .modify_and_read(
            "uid=ada,ou=people,dc=example",
            &[Modification::replace(
                "userPassword",
                vec![b"S3cret-pass".to_vec()],
            )],
            &["uid"],
        )
        .unwrap()
        .unwrap();
    assert_eq!(written.dn, "uid=ada,ou=people,dc=example");
    assert!(
        conn.check_password("uid=ada,ou=people,dc=example", "any-password")
            .unwrap()
    );
    assert!(
        !conn
            .check_password("uid=ada,ou=people,dc=example", "")
            .unwrap(),
        "an empty password is refused without asking"
    );
    let down = conn.delete("uid=gone,ou=people,dc=example").unwrap_err();
    assert!(matches!(down, LdapError::Unavailable(_)), "{down:?}");
    assert_eq!(fake.unused(), 0);
    let unrecorded = conn.read("uid=bob,ou=people,dc=example", &[]).unwrap_err();
    assert!(
        matches!(&unrecorded, LdapError::Failed(m) if m.contains("replay: the fake holds no ldap search") && m.contains("uid=bob")),
        "{unrecorded:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
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

/// A hand-edited or damaged recording: an entry without its DN, a value
/// that is not base64, a compare answered with a number, an error of no
/// known kind. Each call fails `failed`, naming what does not read;
/// nothing panics and nothing else is answered in its place.
#[test]
fn a_misshapen_ldap_recording_fails_naming_what_does_not_read() {
    use provisio_sdk::ldap::{Connection, LdapError, Scope, SearchRequest};
    let dir =
        std::env::temp_dir().join(format!("provisio-sdk-fake-ldap-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let connection = r#"{"url":"ldap://127.0.0.1:389","security":"Plain"}"#;
    let search = |base: &str, response: &str| {
        format!(
            r#"{{"capability":"ldap","call":"search","request":{{"connection":{connection},"base":"{base}","scope":"base","filter":"(objectClass=*)","attributes":[],"page_size":0,"sort":[],"show_deleted":false,"cookie":""}},"response":{response}}}"#
        )
    };
    let lines = [
        format!(
            r#"{{"capability":"ldap","call":"open","request":{connection},"response":{{"Ok":null}}}}"#
        ),
        search(
            "dc=nodn",
            r#"{"Ok":{"entries":[{"attributes":[]}],"cookie":""}}"#,
        ),
        search(
            "dc=badvalue",
            r#"{"Ok":{"entries":[{"dn":"dc=badvalue","attributes":[{"name":"photo","values":[{"base64":"!!"}]}]}],"cookie":""}}"#,
        ),
        search("dc=oddshape", r#"{"Maybe":1}"#),
        search("dc=odderror", r#"{"Err":{"exploded":"x"}}"#),
        format!(
            r#"{{"capability":"ldap","call":"compare","request":{{"connection":{connection},"dn":"dc=x","attribute":"cn","value":["x"]}},"response":{{"Ok":7}}}}"#
        ),
    ];
    std::fs::write(dir.join("exchanges.jsonl"), lines.join("\n")).unwrap();
    let fake = Fake::new().replay(&dir).unwrap();
    let conn = Connection::open("ldap://127.0.0.1:389", false).unwrap();
    let read = |base: &str| {
        conn.search_page(
            &SearchRequest::new(base, Scope::Base, "(objectClass=*)"),
            &[],
        )
        .err()
        .map(|e| format!("{e:?}"))
        .unwrap_or_else(|| "answered".into())
    };
    for (base, named) in [
        ("dc=nodn", "no dn"),
        ("dc=badvalue", "bad base64"),
        ("dc=oddshape", "no known shape"),
        ("dc=odderror", "exploded"),
    ] {
        let error = read(base);
        assert!(
            error.contains("Failed(") && error.contains(named),
            "{base}: {error}"
        );
    }
    let compared = conn.compare("dc=x", "cn", b"x").unwrap_err();
    assert!(
        matches!(&compared, LdapError::Failed(m) if m.contains("not true or false")),
        "{compared:?}"
    );
    assert_eq!(fake.unused(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
