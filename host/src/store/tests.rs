use super::*;
use crate::keys::HostKey;
use serde_json::json;
use std::sync::Arc;

async fn open(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(&dir.join("provisio.db"), HostKey::from_master(&[3; 32]))
        .await
        .unwrap()
}

fn new_op(id: &str, identity: &str, key: Option<&str>) -> NewOperation {
    NewOperation {
        id: id.into(),
        target: "hr".into(),
        class: "account".into(),
        identity: identity.into(),
        kind: OperationKind::Create,
        payload: json!({"attributes": {"userName": identity}}),
        sealed_secret: Some(vec![1, 2, 3]),
        status: Status::Queued,
        max_attempts: 3,
        idempotency_key: key.map(Into::into),
        request_digest: None,
        submitted_by: "tester".into(),
        created_at: now_ms(),
        started_by: None,
    }
}

fn event(op: &str, name: &str) -> AuditEvent {
    AuditEvent {
        actor: "tester".into(),
        target: Some("hr".into()),
        operation_id: Some(op.into()),
        event: name.into(),
        detail: json!({"n": name}),
    }
}

#[tokio::test]
async fn operations_round_trip_and_changes_are_conditional() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let Submitted::Created(op) = store
        .submit(new_op("o1", "ada", None), vec![event("o1", "submitted")])
        .await
        .unwrap()
    else {
        panic!("created")
    };
    assert_eq!(store.operation("o1").await.unwrap().unwrap(), op);

    let running = store
        .apply(Change {
            id: "o1".into(),
            expected: vec![Status::Queued],
            status: Some(Status::Running),
            attempts: Some(1),
            mark_started: true,
            audit: vec![event("o1", "status:running")],
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(running.status, Status::Running);
    assert!(running.started_at.is_some());

    let conflict = store
        .apply(Change {
            id: "o1".into(),
            expected: vec![Status::PendingApproval],
            status: Some(Status::Queued),
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            conflict,
            StoreError::Conflict {
                current: Status::Running,
                ..
            }
        ),
        "{conflict}"
    );

    let link = Link {
        target: "hr".into(),
        class: "account".into(),
        identity: "ada".into(),
        uid: "1001".into(),
        created_by_provisio: true,
        operation_id: Some("o1".into()),
        linked_at: now_ms(),
    };
    let done = store
        .apply(Change {
            id: "o1".into(),
            expected: vec![Status::Running],
            status: Some(Status::Succeeded),
            result: Some(json!({"uid": "1001"})),
            erase_secret: true,
            link: Some(LinkChange::Put(link.clone())),
            audit: vec![event("o1", "status:succeeded")],
            ..Change::default()
        })
        .await
        .unwrap();
    assert!(done.finished_at.is_some());
    assert_eq!(
        store.sealed_secret("o1").await.unwrap(),
        None,
        "the secret is erased when final"
    );
    assert_eq!(
        store.link("hr", "account", "ada").await.unwrap(),
        Some(link.clone())
    );
    assert!(store.open_operations().await.unwrap().is_empty());

    // Another identity cannot take the same account.
    let mut stolen = link.clone();
    stolen.identity = "mallory".into();
    let e = store
        .put_link(stolen, event("-", "link"))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::AlreadyLinked { .. }), "{e}");
}

#[tokio::test]
async fn idempotency_keys_return_the_first_operation() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let first = store
        .submit(
            new_op("o1", "ada", Some("k1")),
            vec![event("o1", "submitted")],
        )
        .await
        .unwrap();
    let again = store
        .submit(
            new_op("o2", "ada", Some("k1")),
            vec![event("o2", "submitted")],
        )
        .await
        .unwrap();
    let (Submitted::Created(a), Submitted::Existing(b)) = (first, again) else {
        panic!("the second submission returns the first")
    };
    assert_eq!(a.id, b.id);
    assert!(
        store.operation("o2").await.unwrap().is_none(),
        "nothing new stored"
    );
    // The rejected submission's audit event was rolled back with it.
    assert_eq!(
        store
            .audit(&AuditQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn concurrent_writes_commit_together_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()).await);
    let mut tasks = Vec::new();
    for i in 0..500 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("o{i}");
            store
                .submit(
                    new_op(&id, &format!("u{i}"), None),
                    vec![event(&id, "submitted")],
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.open_operations().await.unwrap().len(), 500);
    let report = store.verify_audit().await.unwrap();
    assert_eq!(
        report,
        AuditReport {
            rows: 500,
            ok: true,
            problem: None
        }
    );
}

async fn raw(dir: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.join("provisio.db").display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_edits_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..5 {
        store
            .append_audit(vec![event("o1", &format!("e{i}"))])
            .await
            .unwrap();
    }
    assert!(store.verify_audit().await.unwrap().ok);

    let mut conn = raw(dir.path()).await;
    let refused = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");

    // Someone with file access drops the trigger and edits a row.
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.problem.as_deref(), Some("row 3 was altered"));
}

#[tokio::test]
async fn deleted_audit_rows_are_detected_even_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..5 {
        store
            .append_audit(vec![event("o1", &format!("e{i}"))])
            .await
            .unwrap();
    }
    let mut conn = raw(dir.path()).await;
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 5")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert_eq!(
        report.problem.as_deref(),
        Some("the log ends at row 4 but its head says row 5: rows were deleted")
    );
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert_eq!(report.problem.as_deref(), Some("rows 2 to 2 are missing"));
}

/// Someone who can write the database but not the key keeps an old head
/// row, truncates the log and puts the old head back: its MAC is right,
/// but the anchor outside the database names a later row.
#[tokio::test]
async fn truncation_behind_a_restored_head_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    for i in 0..3 {
        store
            .append_audit(vec![event("o1", &format!("e{i}"))])
            .await
            .unwrap();
    }
    let mut conn = raw(dir.path()).await;
    let (seq, mac, head_mac): (i64, String, String) =
        sqlx::query_as("SELECT seq, mac, head_mac FROM audit_head WHERE id = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    for i in 3..5 {
        store
            .append_audit(vec![event("o1", &format!("e{i}"))])
            .await
            .unwrap();
    }
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq > 3")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET seq = ?, mac = ?, head_mac = ? WHERE id = 1")
        .bind(seq)
        .bind(&mac)
        .bind(&head_mac)
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert!(!report.ok);
    assert_eq!(
        report.problem.as_deref(),
        Some(
            "the log ends at row 3 but the anchor outside the database says row 5: rows were deleted"
        )
    );
}

/// An emptied log (rows and head gone) is not a clean one: the anchor
/// names rows, and without the anchor the operations tell.
#[tokio::test]
async fn an_emptied_audit_log_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store
        .submit(new_op("o1", "ada", None), vec![event("o1", "submitted")])
        .await
        .unwrap();
    let mut conn = raw(dir.path()).await;
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_head")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert!(!report.ok);
    assert!(
        report
            .problem
            .as_deref()
            .unwrap()
            .contains("anchor outside the database says row 1"),
        "{report:?}"
    );
    std::fs::remove_file(dir.path().join("provisio.db.anchor")).unwrap();
    let report = store.verify_audit().await.unwrap();
    assert_eq!(
        report.problem.as_deref(),
        Some("the audit log is empty, but the store holds 1 operations: it was deleted")
    );
}

/// One host per store: a second open is refused, naming the holder.
#[tokio::test]
async fn a_second_host_on_one_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provisio.db");
    let first = open(dir.path()).await;
    let second = SqliteStore::open_waiting(
        &path,
        HostKey::from_master(&[3; 32]),
        std::time::Duration::from_millis(200),
    )
    .await;
    let Err(refused) = second else {
        panic!("a second store opened beside the first")
    };
    let message = refused.to_string();
    assert!(
        message.contains("in use by another Provisio host")
            && message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
    drop(first);
    SqliteStore::open_waiting(
        &path,
        HostKey::from_master(&[3; 32]),
        std::time::Duration::from_secs(5),
    )
    .await
    .expect("the store opens once the first host let go");
}

#[tokio::test]
async fn a_reopened_store_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path()).await;
        store
            .append_audit(vec![event("o1", "a"), event("o1", "b")])
            .await
            .unwrap();
    }
    let store = open(dir.path()).await;
    store.append_audit(vec![event("o1", "c")]).await.unwrap();
    let report = store.verify_audit().await.unwrap();
    assert_eq!((report.rows, report.ok), (3, true), "{report:?}");
    let other_key = SqliteStore::verify_file(
        &dir.path().join("provisio.db"),
        HostKey::from_master(&[4; 32]),
    )
    .await
    .unwrap();
    assert!(!other_key.ok, "a different key cannot vouch for the chain");
}

#[tokio::test]
async fn a_failing_write_fails_alone_in_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()).await);
    store
        .submit(
            new_op("taken", "x", None),
            vec![event("taken", "submitted")],
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        // One of them reuses an id: a constraint violation, not a refusal.
        let id = if i == 20 {
            "taken".to_owned()
        } else {
            format!("o{i}")
        };
        tasks.push(tokio::spawn(async move {
            store
                .submit(
                    new_op(&id, &format!("u{i}"), None),
                    vec![event(&id, "submitted")],
                )
                .await
        }));
    }
    let mut failed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Submitted::Created(_)) => {}
            Ok(Submitted::Existing(_)) => panic!("no idempotency key was given"),
            Err(StoreError::Database(_)) => failed += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(failed, 1);
    assert_eq!(
        store.open_operations().await.unwrap().len(),
        40,
        "the other 39 and the first"
    );
    let report = store.verify_audit().await.unwrap();
    assert_eq!((report.rows, report.ok), (40, true), "{report:?}");
}

/// Verification reads the rows and the chain's head as one snapshot: rows
/// committed while it runs must not look like a head that has run ahead
/// of its rows ("rows were deleted").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_while_writes_commit_sees_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()).await);
    let seeds: Vec<AuditEvent> = (0..500)
        .map(|i| event(&format!("seed{i}"), "seeded"))
        .collect();
    store.append_audit(seeds).await.unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, done) = (store.clone(), done.clone());
        tokio::spawn(async move {
            let mut written = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                store
                    .append_audit(vec![event(&format!("w{written}"), "written")])
                    .await
                    .unwrap();
                written += 1;
                tokio::time::sleep(std::time::Duration::from_micros(200)).await;
            }
            written
        })
    };
    let mut verified = Vec::new();
    for _ in 0..5 {
        let report = store.verify_audit().await.unwrap();
        assert!(report.ok, "verification under writes: {report:?}");
        verified.push(report.rows);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0, "the writer ran while verifications did");
    assert!(
        verified.windows(2).any(|w| w[0] < w[1]),
        "rows were committed between verifications: {verified:?}"
    );
    let last = store.verify_audit().await.unwrap();
    assert_eq!((last.rows, last.ok), (500 + written as u64, true));
}

#[tokio::test]
async fn a_removed_version_is_forgotten_with_one_audit_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let version = ConnectorVersion {
        sha256: "ab".repeat(32),
        name: "csv".into(),
        version: "0.9.0".into(),
        contract: "0.2.0".into(),
        size: 10,
        source: "upload".into(),
        added_by: "tester".into(),
        added_at: now_ms(),
    };
    let noted = |name: &str| AuditEvent {
        target: None,
        operation_id: None,
        ..event("-", name)
    };
    assert!(
        store
            .put_connector_version(version.clone(), noted("connector-added"))
            .await
            .unwrap()
    );
    assert!(
        store
            .remove_connector_version(&version.sha256, noted("connector-removed"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.connector_version(&version.sha256).await.unwrap(),
        None
    );
    assert!(store.connector_versions().await.unwrap().is_empty());
    // Removing it again changes nothing and logs nothing.
    assert!(
        !store
            .remove_connector_version(&version.sha256, noted("connector-removed"))
            .await
            .unwrap()
    );
    let events: Vec<String> = store
        .audit(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event.event)
        .collect();
    assert_eq!(events, ["connector-added", "connector-removed"]);
    assert!(store.verify_audit().await.unwrap().ok);
}
