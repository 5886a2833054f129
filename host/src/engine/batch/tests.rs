use super::*;

fn key(add: bool) -> Key {
    Key {
        class: "group".into(),
        group: "g1".into(),
        attribute: "members".into(),
        add,
    }
}

fn waiting(joined: Joined<'_, u32>) -> oneshot::Receiver<Turn> {
    match joined {
        Joined::Wait(answer) => answer,
        _ => panic!("expected to wait"),
    }
}

#[test]
fn the_first_change_leads_and_the_others_wait_for_its_call() {
    let batches = Batches::<u32>::default();
    let Joined::Lead(leader) = batches.join(&key(true), &1, "a") else {
        panic!("the first change leads");
    };
    let mut b = waiting(batches.join(&key(true), &1, "b"));
    let _c = waiting(batches.join(&key(true), &1, "c"));
    let carried = leader.take();
    assert_eq!(
        carried
            .iter()
            .map(|w| w.member.as_str())
            .collect::<Vec<_>>(),
        ["b", "c"]
    );
    // One arriving during the call goes in the next one.
    let mut d = waiting(batches.join(&key(true), &1, "d"));
    for waiter in carried {
        waiter.tell(Turn::Done {
            members: 3,
            took: Duration::ZERO,
        });
    }
    assert!(matches!(b.try_recv(), Ok(Turn::Done { members: 3, .. })));
    drop(leader);
    assert!(
        matches!(d.try_recv(), Ok(Turn::Lead)),
        "d makes the next call"
    );
    let next = batches.lead(&key(true));
    assert!(next.take().is_empty());
    drop(next);
    assert!(
        matches!(batches.join(&key(true), &1, "e"), Joined::Lead(_)),
        "no call in flight: the next change leads"
    );
}

#[test]
fn adds_and_removes_and_other_versions_do_not_ride_together() {
    let batches = Batches::<u32>::default();
    let _leader = batches.join(&key(true), &1, "a");
    assert!(matches!(
        batches.join(&key(false), &1, "b"),
        Joined::Lead(_)
    ));
    assert!(matches!(batches.join(&key(true), &2, "c"), Joined::Alone));
}

#[test]
fn a_waiter_gone_is_skipped_when_the_lead_is_handed_on() {
    let batches = Batches::<u32>::default();
    let Joined::Lead(leader) = batches.join(&key(true), &1, "a") else {
        panic!("leads");
    };
    drop(waiting(batches.join(&key(true), &1, "b")));
    let mut c = waiting(batches.join(&key(true), &1, "c"));
    drop(leader);
    assert!(matches!(c.try_recv(), Ok(Turn::Lead)));
}

#[test]
fn a_call_carries_at_most_max_members() {
    let batches = Batches::<u32>::default();
    let Joined::Lead(leader) = batches.join(&key(true), &1, "a") else {
        panic!("leads");
    };
    let _answers: Vec<_> = (0..MAX_MEMBERS + 10)
        .map(|i| waiting(batches.join(&key(true), &1, &format!("m{i}"))))
        .collect();
    assert_eq!(leader.take().len(), MAX_MEMBERS - 1);
    assert_eq!(leader.take().len(), 11);
}
