//! A connector that loops, allocates without bound, panics, overflows its
//! stack or returns a huge result fails that one call with an error naming
//! the cause; the instance is discarded; the host and every other call go
//! on, and the very next call succeeds.

use provisio_host::runtime::{CallErrorKind, CallLimits, Connector, TargetSettings};
use provisio_tests::fixtures;
use std::time::Duration;

fn sandbox(limits: CallLimits, max_instances: usize) -> Connector {
    let mut settings = TargetSettings::new("sandbox-test");
    settings.limits = limits;
    settings.max_instances = max_instances;
    provisio_tests::start(&fixtures::bytes(fixtures::SANDBOX), settings)
}

fn limits() -> CallLimits {
    CallLimits {
        timeout: Duration::from_millis(500),
        memory_bytes: 32 << 20,
        max_output_bytes: 1 << 20,
        ..CallLimits::default()
    }
}

/// Calls `get` with a misbehaving uid, checks the error, then checks that
/// a normal call right after works and that exactly one instance was lost.
async fn misbehave_then_recover(connector: &Connector, uid: &str) -> CallErrorKind {
    let before = connector.stats();
    let error = connector
        .get("account", uid, vec![])
        .await
        .expect_err("the misbehaving call fails");
    assert_eq!(error.connector, "sandbox@0.1.0", "{error}");
    assert_eq!(error.target, "sandbox-test");
    assert!(!error.is_retryable(), "{error}");

    let ok = connector
        .get("account", "after", vec!["mail".into()])
        .await
        .expect("a normal call right after succeeds");
    assert_eq!(ok.uid, "after");
    assert_eq!(ok.attributes.len(), 1);

    let after = connector.stats();
    assert_eq!(
        after.discarded,
        before.discarded + 1,
        "the bad instance is dropped"
    );
    error.kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out() {
    let connector = sandbox(limits(), 2);
    // The instance is already discarded when the error arrives, so the epoch
    // deadline stopped the guest (the outer timeout would leave it running).
    let kind = misbehave_then_recover(&connector, "loop").await;
    assert!(
        matches!(kind, CallErrorKind::Timeout(t) if t == Duration::from_millis(500)),
        "{kind}"
    );
    assert!(kind.to_string().contains("timed out after 500ms"), "{kind}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_hits_the_memory_cap() {
    let connector = sandbox(limits(), 2);
    let kind = misbehave_then_recover(&connector, "alloc").await;
    match kind {
        CallErrorKind::MemoryLimit { requested, limit } => {
            assert_eq!(limit, 32 << 20);
            assert!(requested > limit);
        }
        other => panic!("expected a memory limit error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_reported_with_its_message() {
    let connector = sandbox(limits(), 2);
    let kind = misbehave_then_recover(&connector, "panic").await;
    match &kind {
        CallErrorKind::Panic { message } => {
            assert!(
                message.starts_with("boom: the fixture was asked to panic (at "),
                "{message}"
            );
            assert!(message.contains("src/lib.rs"), "{message}");
        }
        other => panic!("expected a panic, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_overflow_is_a_trap() {
    let connector = sandbox(limits(), 2);
    let kind = misbehave_then_recover(&connector, "stack").await;
    match &kind {
        CallErrorKind::Trap { message } => {
            assert!(message.contains("call stack exhausted"), "{message}")
        }
        other => panic!("expected a trap, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output_is_refused() {
    let connector = sandbox(limits(), 2);
    let kind = misbehave_then_recover(&connector, "huge:4000000").await;
    match kind {
        CallErrorKind::OutputTooLarge { size, limit } => {
            assert_eq!(limit, 1 << 20);
            assert!(size >= 4_000_000, "{size}");
        }
        other => panic!("expected an output limit error, got {other}"),
    }
    // Just under the limit is fine.
    let object = connector
        .get("account", "huge:500000", vec![])
        .await
        .unwrap();
    assert_eq!(object.attributes[0].values.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatty_output_is_bounded_and_harmless() {
    // 20,000 lines through WASI streams: slow in an unoptimised host.
    let connector = sandbox(
        CallLimits {
            timeout: Duration::from_secs(30),
            ..limits()
        },
        2,
    );
    let object = connector.get("account", "print", vec![]).await.unwrap();
    assert_eq!(object.uid, "print");
    assert_eq!(connector.stats().discarded, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_errors_keep_the_instance() {
    let connector = sandbox(limits(), 2);
    let error = connector
        .get("account", "fail-unavailable", vec![])
        .await
        .unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(error.connector_error().unwrap().code(), "unavailable");
    assert_eq!(connector.stats().discarded, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_operations_are_refused_without_a_call() {
    let connector = sandbox(limits(), 1);
    let error = connector.delete("account", "x").await.unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::NotSupported), "{error}");
    assert_eq!(
        connector.stats().instantiated,
        0,
        "nothing was instantiated"
    );
}

/// Twenty ordinary calls, each answered with the uid it asked for.
async fn twenty_calls_succeed(connector: &Connector) {
    for i in 0..20 {
        let object = connector
            .get("account", format!("u{i}"), vec![])
            .await
            .unwrap();
        assert_eq!(object.uid, format!("u{i}"));
    }
}

/// A runaway call occupies one instance; calls on the others go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_call_does_not_block_the_others() {
    let connector = sandbox(
        CallLimits {
            timeout: Duration::from_secs(3),
            ..limits()
        },
        2,
    );
    let runaway = tokio::spawn({
        let connector = connector.clone();
        async move { connector.get("account", "loop", vec![]).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    twenty_calls_succeed(&connector).await;
    assert!(
        !runaway.is_finished(),
        "the other calls finished while the runaway one ran"
    );
    let error = runaway.await.unwrap().unwrap_err();
    assert!(matches!(error.kind, CallErrorKind::Timeout(_)), "{error}");
}

/// Runaway guests yield their thread at every epoch tick: on a runtime of
/// one thread, two of them spinning still leave room for other calls, which
/// end long before the runaways' deadline.
#[tokio::test(flavor = "current_thread")]
async fn runaway_calls_yield_the_only_thread() {
    let connector = sandbox(
        CallLimits {
            timeout: Duration::from_secs(3),
            ..limits()
        },
        3,
    );
    let runaways: Vec<_> = (0..2)
        .map(|_| {
            let connector = connector.clone();
            tokio::spawn(async move { connector.get("account", "loop", vec![]).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    twenty_calls_succeed(&connector).await;
    assert!(
        runaways.iter().all(|r| !r.is_finished()),
        "the runaways ended first: they held the thread until their deadline"
    );
    for runaway in runaways {
        let error = runaway.await.unwrap().unwrap_err();
        assert!(matches!(error.kind, CallErrorKind::Timeout(_)), "{error}");
    }
}

/// Every instance misbehaving at once still leaves a working host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_failures_in_parallel() {
    let connector = sandbox(limits(), 4);
    let mut calls = Vec::new();
    for uid in [
        "loop", "alloc", "panic", "stack", "loop", "alloc", "panic", "stack",
    ] {
        let connector = connector.clone();
        calls.push(tokio::spawn(async move {
            connector.get("account", uid, vec![]).await
        }));
    }
    for call in calls {
        assert!(call.await.unwrap().is_err());
    }
    assert_eq!(connector.stats().discarded, 8);
    let object = connector.get("account", "fine", vec![]).await.unwrap();
    assert_eq!(object.uid, "fine");
}
