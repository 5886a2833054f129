//! The bundled CSV connector against real files in a temporary directory,
//! through the real host runtime.

use crate::util::{code, text, values};
use provisio_host::model::{
    Attribute, AttributeChange, ConnectorError, DeltaKind, PageRequest, SearchRequest, SyncRequest,
    Value,
};
use provisio_host::runtime::{CallError, Connector, DirectoryGrant, TargetSettings};
use provisio_tests::csv_target;
use std::collections::BTreeSet;

const CONFIG: &[(&str, &str)] = &[
    ("account.key", "id"),
    ("account.name", "userName"),
    ("account.enable", "active"),
    ("account.multivalued", "mail,roles"),
    (
        "account.columns",
        "id,userName,givenName,mail,roles,active,note",
    ),
    ("group.key", "id"),
    ("group.name", "name"),
    ("group.references", "members"),
    ("group.columns", "id,name,members"),
];

fn account(id: &str, user: &str) -> Vec<Attribute> {
    vec![
        text("id", id),
        text("__name__", user),
        text("givenName", &format!("Given {id}")),
        Attribute::new(
            "mail",
            vec![
                Value::Text(format!("{user}@example.com")),
                Value::Text(format!("{user}@example.org")),
            ],
        ),
        Attribute::single("__enable__", Value::Boolean(true)),
    ]
}

fn invalid_attribute(error: &CallError) -> Option<&str> {
    match error.connector_error() {
        Some(ConnectorError::Invalid { attribute, .. }) => attribute.as_deref(),
        _ => None,
    }
}

fn search(class: &str, filter: Option<&str>, size: u32, cookie: Option<String>) -> SearchRequest {
    SearchRequest {
        class: class.into(),
        filter: filter.map(Into::into),
        page: PageRequest { size, cookie },
        attributes: vec![],
    }
}

async fn uids(connector: &Connector, filter: &str) -> Vec<String> {
    let page = connector
        .search(search("account", Some(filter), 1000, None))
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    page.objects.into_iter().map(|o| o.uid).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    csv.test()
        .await
        .expect("a target whose files will be created passes its test");

    let created = csv.create("account", account("1", "ada")).await.unwrap();
    assert_eq!(
        (
            created.uid.as_str(),
            created.name.as_str(),
            created.class.as_str()
        ),
        ("1", "ada", "account")
    );
    assert_eq!(values(&created, "__enable__"), [Value::Boolean(true)]);
    assert_eq!(values(&created, "mail").len(), 2);
    assert!(dir.path().join("accounts.csv").is_file());

    let fetched = csv.get("account", "1", vec![]).await.unwrap();
    assert_eq!(fetched, created);
    let partial = csv
        .get("account", "1", vec!["givenName".into()])
        .await
        .unwrap();
    assert_eq!(partial.attributes, [text("givenName", "Given 1")]);

    let changes = vec![
        AttributeChange::Replace(text("givenName", "Augusta Ada")),
        AttributeChange::AddValues(Attribute::new(
            "roles",
            vec![Value::Text("admin".into()), Value::Text("dev".into())],
        )),
        AttributeChange::RemoveValues(text("mail", "ada@example.org")),
        AttributeChange::Replace(Attribute::single("__enable__", Value::Boolean(false))),
        AttributeChange::Replace(text("__name__", "ada.lovelace")),
        AttributeChange::Replace(Attribute::single("note", Value::Integer(42))),
    ];
    let updated = csv.update("account", "1", changes).await.unwrap();
    assert_eq!(updated.name, "ada.lovelace");
    assert_eq!(
        values(&updated, "givenName"),
        [Value::Text("Augusta Ada".into())]
    );
    assert_eq!(
        values(&updated, "roles"),
        [Value::Text("admin".into()), Value::Text("dev".into())]
    );
    assert_eq!(
        values(&updated, "mail"),
        [Value::Text("ada@example.com".into())]
    );
    assert_eq!(values(&updated, "__enable__"), [Value::Boolean(false)]);
    assert_eq!(values(&updated, "note"), [Value::Text("42".into())]);
    assert_eq!(csv.get("account", "1", vec![]).await.unwrap(), updated);

    let group = csv
        .create(
            "group",
            vec![
                text("id", "g1"),
                text("name", "Admins"),
                Attribute::single("members", Value::Reference("1".into())),
            ],
        )
        .await
        .unwrap();
    assert_eq!(values(&group, "members"), [Value::Reference("1".into())]);

    csv.delete("account", "1").await.unwrap();
    let gone = csv.get("account", "1", vec![]).await.unwrap_err();
    assert_eq!(code(&gone), "not-found", "{gone}");
    let again = csv.delete("account", "1").await.unwrap_err();
    assert_eq!(code(&again), "not-found", "{again}");

    let schema = csv.schema().await.unwrap();
    let accounts = schema.classes.iter().find(|c| c.name == "account").unwrap();
    let names: Vec<&str> = accounts
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "userName",
            "givenName",
            "mail",
            "roles",
            "__enable__",
            "note"
        ]
    );
    let id = &accounts.attributes[0];
    assert!(id.required && !id.updatable);
    assert!(accounts.attributes[3].multi_valued);
    let groups = schema.classes.iter().find(|c| c.name == "group").unwrap();
    assert_eq!(
        groups.attributes[2].value_type,
        provisio_host::model::ValueType::Reference
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    csv.create("account", account("1", "ada")).await.unwrap();
    let before = std::fs::read(dir.path().join("accounts.csv")).unwrap();

    let dup_key = csv
        .create("account", account("1", "other"))
        .await
        .unwrap_err();
    assert_eq!(code(&dup_key), "already-exists", "{dup_key}");
    let dup_name = csv
        .create("account", account("2", "ada"))
        .await
        .unwrap_err();
    assert_eq!(code(&dup_name), "already-exists", "{dup_name}");

    let mut unknown = account("3", "bob");
    unknown.push(text("shoeSize", "44"));
    let e = csv.create("account", unknown).await.unwrap_err();
    assert_eq!(invalid_attribute(&e), Some("shoeSize"), "{e}");
    assert!(
        e.to_string().contains(
            "no such column (columns: id, userName, givenName, mail, roles, active, note)"
        ),
        "{e}"
    );

    let mut two_names = account("3", "bob");
    two_names.push(Attribute::new(
        "givenName",
        vec![Value::Text("a".into()), Value::Text("b".into())],
    ));
    let e = csv.create("account", two_names).await.unwrap_err();
    assert_eq!(invalid_attribute(&e), Some("givenName"), "{e}");
    assert!(
        e.to_string().contains("single-valued but got 2 values"),
        "{e}"
    );

    let mut binary = account("3", "bob");
    binary.push(Attribute::single("note", Value::Binary(vec![0, 1])));
    assert_eq!(
        invalid_attribute(&csv.create("account", binary).await.unwrap_err()),
        Some("note")
    );

    let mut password = account("3", "bob");
    password.push(text("__password__", "hunter2"));
    let e = csv.create("account", password).await.unwrap_err();
    assert_eq!(invalid_attribute(&e), Some("__password__"));
    assert!(!e.to_string().contains("hunter2"), "{e}");

    let e = csv
        .create("account", vec![text("__name__", "nokey")])
        .await
        .unwrap_err();
    assert_eq!(invalid_attribute(&e), Some("id"), "{e}");

    let separator = vec![text("id", "4"), text("__name__", "x"), text("mail", "a|b")];
    assert_eq!(
        invalid_attribute(&csv.create("account", separator).await.unwrap_err()),
        Some("mail")
    );

    let rename_key = csv
        .update(
            "account",
            "1",
            vec![AttributeChange::Replace(text("id", "9"))],
        )
        .await
        .unwrap_err();
    assert!(
        rename_key
            .to_string()
            .contains("is the uid and cannot change"),
        "{rename_key}"
    );

    let e = csv.get("printer", "1", vec![]).await.unwrap_err();
    assert_eq!(code(&e), "not-found");
    assert!(
        e.to_string().contains("this target has: account, group"),
        "{e}"
    );

    assert_eq!(
        std::fs::read(dir.path().join("accounts.csv")).unwrap(),
        before,
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_cover_every_object_once() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    for i in 0..250 {
        csv.create("account", account(&format!("{i:04}"), &format!("user{i}")))
            .await
            .unwrap();
    }

    let mut seen = Vec::new();
    let mut cookie = None;
    let mut remaining = Vec::new();
    loop {
        let page = csv
            .search(search("account", None, 100, cookie.take()))
            .await
            .unwrap();
        assert!(page.objects.len() <= 100);
        seen.extend(page.objects.iter().map(|o| o.uid.clone()));
        remaining.push(page.remaining.unwrap());
        match page.cookie {
            Some(c) => cookie = Some(c),
            None => break,
        }
    }
    assert_eq!(remaining, [150, 50, 0]);
    let expected: Vec<String> = (0..250).map(|i| format!("{i:04}")).collect();
    assert_eq!(seen, expected, "every object once, in key order");

    // Keyset paging holds while rows are added and removed between pages.
    let first = csv
        .search(search("account", None, 100, None))
        .await
        .unwrap();
    csv.delete("account", "0050").await.unwrap();
    csv.create("account", account("0000a", "early"))
        .await
        .unwrap();
    let second = csv
        .search(search("account", None, 100, first.cookie.clone()))
        .await
        .unwrap();
    assert_eq!(second.objects.first().unwrap().uid, "0100");

    // A filter that matches across pages.
    let mut matched = BTreeSet::new();
    let mut cookie = None;
    loop {
        let page = csv
            .search(search(
                "account",
                Some(r#"userName sw "user1""#),
                7,
                cookie.take(),
            ))
            .await
            .unwrap();
        for o in &page.objects {
            assert!(matched.insert(o.uid.clone()), "{} twice", o.uid);
        }
        match page.cookie {
            Some(c) => cookie = Some(c),
            None => break,
        }
    }
    // user1, user10..user19, user100..user199
    assert_eq!(matched.len(), 1 + 10 + 100);
}

/// Reads keep the file they parsed while its bytes are the same: a change
/// that keeps the size and the modification time is still seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_behind_the_connector_is_read_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    for i in 0..3 {
        csv.create("account", account(&format!("{i:04}"), &format!("user{i}")))
            .await
            .unwrap();
    }
    let given = |object: &provisio_host::model::ConnectorObject| match values(object, "givenName")
        .first()
    {
        Some(Value::Text(given)) => Some(given.clone()),
        _ => None,
    };
    let first = csv.get("account", "0001", vec![]).await.unwrap();
    assert_eq!(given(&first).as_deref(), Some("Given 0001"));
    csv.search(search("account", None, 2, None)).await.unwrap();

    let path = dir.path().join("accounts.csv");
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let before = std::fs::read_to_string(&path).unwrap();
    let after = before.replace("Given 0001", "Given 000X");
    assert_eq!(before.len(), after.len());
    std::fs::write(&path, &after).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );

    let read = csv.get("account", "0001", vec![]).await.unwrap();
    assert_eq!(
        given(&read).as_deref(),
        Some("Given 000X"),
        "get sees the change"
    );
    let page = csv.search(search("account", None, 2, None)).await.unwrap();
    let uids: Vec<&str> = page.objects.iter().map(|o| o.uid.as_str()).collect();
    assert_eq!(uids, ["0000", "0001"]);
    assert_eq!(
        given(&page.objects[1]).as_deref(),
        Some("Given 000X"),
        "search sees it"
    );

    // A row made invalid behind its back is refused, not served from what
    // was read before.
    std::fs::write(&path, after.replace("\n0002,", "\n0001,")).unwrap();
    let refused = csv.get("account", "0000", vec![]).await.unwrap_err();
    assert!(
        refused.to_string().contains("already appears on line"),
        "{refused}"
    );
    assert!(
        csv.get("account", "0404", vec![]).await.is_err(),
        "an unknown key is not found in a file that does not read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_exactly_the_right_objects() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    let people = [("1", "ada"), ("2", "grace"), ("3", "alan"), ("4", "Zoë")];
    for (id, user) in people {
        csv.create("account", account(id, user)).await.unwrap();
    }
    csv.update(
        "account",
        "3",
        vec![AttributeChange::Replace(Attribute::single(
            "__enable__",
            Value::Boolean(false),
        ))],
    )
    .await
    .unwrap();
    csv.update(
        "account",
        "2",
        vec![AttributeChange::AddValues(text("roles", "admin"))],
    )
    .await
    .unwrap();

    let cases: &[(&str, &[&str])] = &[
        (r#"userName eq "ada""#, &["1"]),
        (r#"USERNAME EQ "ADA""#, &["1"]),
        (r#"userName ne "ada""#, &["2", "3", "4"]),
        (r#"userName co "a""#, &["1", "2", "3"]),
        (r#"userName sw "a""#, &["1", "3"]),
        (r#"userName ew "e""#, &["2"]),
        (r#"userName eq "zoë""#, &["4"]),
        ("roles pr", &["2"]),
        ("not (roles pr)", &["1", "3", "4"]),
        (r#"userName gt "b" and userName lt "z""#, &["2"]),
        (r#"userName eq "ada" or userName eq "alan""#, &["1", "3"]),
        (
            r#"(userName sw "a" or roles pr) and enable eq true"#,
            &["1", "2"],
        ),
        ("enable eq false", &["3"]),
        (r#"mail[value ew "@example.org" and value sw "gr"]"#, &["2"]),
        (r#"mail eq "alan@example.com""#, &["3"]),
        (r#"uid eq "4""#, &["4"]),
        (r#"note eq null"#, &["1", "2", "3", "4"]),
        (r#"userName eq "nobody""#, &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(uids(&csv, filter).await, *expected, "{filter}");
    }

    let bad = csv
        .search(search("account", Some("userName eq"), 10, None))
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "invalid", "{bad}");
    assert!(
        bad.to_string()
            .contains("invalid SCIM filter \"userName eq\""),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_every_change_since_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    for i in 1..=3 {
        csv.create("account", account(&i.to_string(), &format!("u{i}")))
            .await
            .unwrap();
    }
    let full = csv
        .sync(SyncRequest {
            class: "account".into(),
            token: None,
            max_deltas: 100,
        })
        .await
        .unwrap();
    assert_eq!(
        full.deltas.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DeltaKind::Create; 3]
    );
    assert!(!full.has_more);

    let token = csv.latest_sync_token("account").await.unwrap();
    assert_eq!(token, full.token, "nothing changed since the full sync");
    let none = csv
        .sync(SyncRequest {
            class: "account".into(),
            token: Some(token.clone()),
            max_deltas: 100,
        })
        .await
        .unwrap();
    assert!(none.deltas.is_empty());
    assert_eq!(none.token, token);

    csv.create("account", account("4", "u4")).await.unwrap();
    csv.update(
        "account",
        "2",
        vec![AttributeChange::Replace(text("givenName", "Changed"))],
    )
    .await
    .unwrap();
    csv.delete("account", "3").await.unwrap();

    let batch = csv
        .sync(SyncRequest {
            class: "account".into(),
            token: Some(token.clone()),
            max_deltas: 100,
        })
        .await
        .unwrap();
    let seen: Vec<(DeltaKind, &str)> = batch
        .deltas
        .iter()
        .map(|d| (d.kind, d.uid.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (DeltaKind::Update, "2"),
            (DeltaKind::Create, "4"),
            (DeltaKind::Delete, "3")
        ]
    );
    assert_eq!(
        values(batch.deltas[0].object.as_ref().unwrap(), "givenName"),
        [Value::Text("Changed".into())]
    );
    assert!(batch.deltas[2].object.is_none());
    assert_eq!(batch.deltas.last().unwrap().token, batch.token);

    // The same changes one at a time: nothing lost, nothing repeated.
    let mut one_by_one = Vec::new();
    let mut at = Some(token);
    loop {
        let b = csv
            .sync(SyncRequest {
                class: "account".into(),
                token: at.clone(),
                max_deltas: 1,
            })
            .await
            .unwrap();
        one_by_one.extend(b.deltas.iter().map(|d| (d.kind, d.uid.clone())));
        at = Some(b.token);
        if !b.has_more {
            break;
        }
    }
    let expected: Vec<(DeltaKind, String)> =
        seen.iter().map(|(k, u)| (*k, u.to_string())).collect();
    assert_eq!(one_by_one, expected);

    let e = csv
        .sync(SyncRequest {
            class: "account".into(),
            token: Some("999".into()),
            max_deltas: 10,
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), "invalid");
    assert!(e.to_string().contains("has expired"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoting_newlines_and_utf8_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    let notes = [
        "plain",
        "with \"double quotes\" inside",
        "comma, semicolon; tab\there",
        "first line\nsecond line\r\nthird line",
        "  leading and trailing spaces  ",
        "Zoë Ødegård 日本語 🎉",
        "\"",
        ",",
    ];
    for (i, note) in notes.iter().enumerate() {
        let mut attributes = account(&format!("q{i}"), &format!("quote{i}"));
        attributes.push(text("note", note));
        csv.create("account", attributes).await.unwrap();
    }
    for (i, note) in notes.iter().enumerate() {
        let object = csv.get("account", format!("q{i}"), vec![]).await.unwrap();
        assert_eq!(
            values(&object, "note"),
            [Value::Text((*note).into())],
            "note {i}"
        );
    }
    // An independent CSV parser reads the same file back.
    let mut reader = csv::Reader::from_path(dir.path().join("accounts.csv")).unwrap();
    let read: Vec<String> = reader.records().map(|r| r.unwrap()[6].to_owned()).collect();
    assert_eq!(read, notes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_bad_rows_is_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    let csv = csv_target(dir.path(), CONFIG);
    let header = "id,userName,givenName,mail,roles,active,note\n";

    std::fs::write(
        &file,
        format!("{header}1,ada,,,,true,\n2,grace,,,,true,\n3,alan\n"),
    )
    .unwrap();
    let e = csv.get("account", "1", vec![]).await.unwrap_err();
    assert_eq!(code(&e), "failed");
    assert!(
        e.to_string()
            .contains("accounts.csv line 4: the row has 2 fields but the header has 7"),
        "{e}"
    );

    std::fs::write(
        &file,
        format!("{header}1,ada,,,,true,\n2,grace,\"multi\nline\",,,true,\n1,again,,,,true,\n"),
    )
    .unwrap();
    let e = csv
        .search(search("account", None, 10, None))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("accounts.csv line 5: key \"1\" already appears on line 2"),
        "{e}"
    );

    std::fs::write(&file, format!("{header}1,ada,,,,maybe,\n")).unwrap();
    let e = csv.get("account", "1", vec![]).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("accounts.csv line 2: column `active` holds \"maybe\""),
        "{e}"
    );

    let mut bytes = header.as_bytes().to_vec();
    bytes.extend_from_slice(b"1,ad\xffa,,,,true,\n");
    std::fs::write(&file, bytes).unwrap();
    let e = csv.test().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("accounts.csv line 2: not valid UTF-8"),
        "{e}"
    );

    std::fs::write(&file, "name,mail\nada,a@x\n").unwrap();
    let e = csv.test().await.unwrap_err();
    assert!(
        e.to_string().contains(
            "column `id` (from `account.key`) is not in the header (columns: name, mail)"
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TargetSettings::new("csv-concurrent");
    settings.grants.directory = Some(DirectoryGrant::read_write(dir.path()));
    settings.max_instances = 4;
    for (k, v) in CONFIG {
        settings
            .grants
            .config
            .values
            .insert((*k).into(), (*v).into());
    }
    let csv = provisio_tests::start(provisio_host::bundled::CSV.bytes, settings);
    csv.create("group", vec![text("id", "all"), text("name", "All")])
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..40 {
        let csv = csv.clone();
        tasks.push(tokio::spawn(async move {
            csv.create("account", account(&format!("c{i:02}"), &format!("c{i}")))
                .await?;
            let member = Attribute::single("members", Value::Reference(format!("c{i:02}")));
            csv.update("group", "all", vec![AttributeChange::AddValues(member)])
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert!(
        csv.stats().instantiated > 1,
        "the calls ran on several instances"
    );

    let page = csv
        .search(search("account", None, 1000, None))
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 40);
    let group = csv.get("group", "all", vec![]).await.unwrap();
    assert_eq!(
        values(&group, "members").len(),
        40,
        "every concurrent add survived"
    );

    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock") || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_left_by_a_dead_writer_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_target(dir.path(), CONFIG);
    csv.create("account", account("1", "ada")).await.unwrap();
    let lock = dir.path().join(".accounts.csv.lock");
    let file = std::fs::File::create(&lock).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(600))
        .unwrap();
    drop(file);
    csv.create("account", account("2", "grace")).await.unwrap();
    assert!(!lock.exists());
    // A crash between writing the temporary file and renaming it leaves
    // the real file whole; the next write replaces the leftover.
    std::fs::write(dir.path().join(".accounts.csv.tmp"), "half a fi").unwrap();
    assert_eq!(
        csv.search(search("account", None, 10, None))
            .await
            .unwrap()
            .objects
            .len(),
        2
    );
    csv.create("account", account("3", "alan")).await.unwrap();
    assert!(!dir.path().join(".accounts.csv.tmp").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_sees_only_its_directory() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.csv"), "id,userName\n1,root\n").unwrap();
    let dir = tempfile::tempdir().unwrap();

    let escaping = csv_target(
        dir.path(),
        &[("classes", "account"), ("account.file", "../secret.csv")],
    );
    let e = escaping.test().await.unwrap_err();
    assert_eq!(code(&e), "invalid", "{e}");

    std::os::unix::fs::symlink(
        outside.path().join("secret.csv"),
        dir.path().join("accounts.csv"),
    )
    .unwrap();
    let linked = csv_target(dir.path(), &[("classes", "account")]);
    let e = linked.get("account", "1", vec![]).await.unwrap_err();
    assert!(
        e.to_string().contains("cannot read accounts.csv"),
        "a symlink out of the grant is not followed: {e}"
    );

    let ungranted = provisio_tests::start(
        provisio_host::bundled::CSV.bytes,
        TargetSettings::new("no-grant"),
    );
    let e = ungranted.test().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("does not exist in the granted directory"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_grant_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("accounts.csv"), "id,userName\n1,ada\n").unwrap();
    let mut settings = TargetSettings::new("csv-ro");
    settings.grants.directory = Some(DirectoryGrant {
        host_path: dir.path().to_path_buf(),
        read_only: true,
    });
    settings
        .grants
        .config
        .values
        .insert("classes".into(), "account".into());
    settings
        .grants
        .config
        .values
        .insert("account.name".into(), "userName".into());
    let csv = provisio_tests::start(provisio_host::bundled::CSV.bytes, settings);
    assert_eq!(csv.get("account", "1", vec![]).await.unwrap().name, "ada");
    let e = csv
        .create("account", vec![text("id", "2"), text("userName", "bob")])
        .await
        .unwrap_err();
    assert_eq!(code(&e), "permission-denied", "{e}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("accounts.csv")).unwrap(),
        "id,userName\n1,ada\n"
    );
}

/// Several writers meet the lock of a writer that died: exactly one breaks
/// it, and no write is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_break_a_stale_lock_safely() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TargetSettings::new("csv-stale");
    settings.grants.directory = Some(DirectoryGrant::read_write(dir.path()));
    settings.max_instances = 4;
    for (k, v) in CONFIG {
        settings
            .grants
            .config
            .values
            .insert((*k).into(), (*v).into());
    }
    let csv = provisio_tests::start(provisio_host::bundled::CSV.bytes, settings);
    csv.create("account", account("0", "first")).await.unwrap();
    let lock = dir.path().join(".accounts.csv.lock");
    std::fs::write(&lock, "nonce-of-a-dead-writer").unwrap();
    let file = std::fs::File::options().write(true).open(&lock).unwrap();
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(600))
        .unwrap();
    drop(file);

    let mut tasks = Vec::new();
    for i in 1..=24 {
        let csv = csv.clone();
        tasks.push(tokio::spawn(async move {
            csv.create("account", account(&format!("{i:02}"), &format!("u{i}")))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let page = csv
        .search(search("account", None, 100, None))
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 25, "every write survived");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".lock") || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
