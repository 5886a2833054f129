//! The bundled LDAP connector through the real host runtime and its `ldap`
//! capability, against a real OpenLDAP slapd on loopback (memberOf, refint,
//! ppolicy, accesslog and sssvlv overlays; a service account held to a size
//! limit of 500).

use crate::util::{code, text, values};
use provisio_host::model::{
    Attribute, AttributeChange, DeltaKind, PageRequest, SearchRequest, SyncRequest, Value,
};
use provisio_host::runtime::capabilities::ldap::{LdapGrant, LdapSpec};
use provisio_host::runtime::{Connector, TargetSettings};
use provisio_tests::slapd::Slapd;
use std::sync::Arc;
use std::time::Duration;

const PEOPLE: &str = "ou=people,dc=example,dc=com";
const GROUPS: &str = "ou=groups,dc=example,dc=com";

fn setup(slapd: &Slapd) {
    slapd.admin(
        "ldapadd",
        &[],
        &format!(
            "dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n\
             dn: ou=disabled,dc=example,dc=com\nobjectClass: organizationalUnit\nou: disabled\n"
        ),
    );
}

fn config(slapd: &Slapd, url: &str) -> Vec<(String, String)> {
    let nobody = format!("cn=nobody,{}", slapd.base);
    [
        ("url", url),
        ("group.empty_member", nobody.as_str()),
        ("base_dn", slapd.base.as_str()),
        ("account.base", PEOPLE),
        ("group.base", GROUPS),
        ("account.attribute.givenName", "givenName"),
        ("account.attribute.familyName", "sn"),
        ("account.attribute.displayName", "cn"),
        ("sync.accesslog_base", "cn=accesslog"),
        ("page_size", "100"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn settings_with(spec: &LdapSpec, config: &[(String, String)]) -> TargetSettings {
    let mut settings = TargetSettings::new("ldap-test");
    settings.limits.timeout = Duration::from_secs(15);
    for (k, v) in config {
        settings.grants.config.values.insert(k.clone(), v.clone());
    }
    settings.grants.ldap = Some(Arc::new(LdapGrant::new("ldap-test", spec).unwrap()));
    settings
}

fn connector_with(spec: &LdapSpec, config: &[(String, String)]) -> Connector {
    provisio_tests::start(
        provisio_host::bundled::LDAP.bytes,
        settings_with(spec, config),
    )
}

pub(crate) fn connector(slapd: &Slapd) -> Connector {
    connector_with(&slapd.spec(), &config(slapd, &slapd.url))
}

/// [`connector`] with `extra` configuration over the usual.
pub(crate) fn connector_with_extra(slapd: &Slapd, extra: &[(&str, &str)]) -> Connector {
    let mut config = config(slapd, &slapd.url);
    config.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    connector_with(&slapd.spec(), &config)
}

/// The connector of [`connector`], its exchanges recorded on or answered
/// from `tape`.
pub(crate) fn taped_connector(
    slapd: &Slapd,
    tape: Arc<provisio_host::runtime::recording::Tape>,
) -> Connector {
    taped_connector_with(slapd, tape, &[])
}

/// [`taped_connector`] with `extra` configuration over the usual.
pub(crate) fn taped_connector_with(
    slapd: &Slapd,
    tape: Arc<provisio_host::runtime::recording::Tape>,
    extra: &[(&str, &str)],
) -> Connector {
    let mut config = config(slapd, &slapd.url);
    config.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut settings = settings_with(&slapd.spec(), &config);
    settings.grants = settings.grants.taped(tape).unwrap();
    provisio_tests::start(provisio_host::bundled::LDAP.bytes, settings)
}

pub(crate) async fn up() -> Slapd {
    let slapd = tokio::task::spawn_blocking(Slapd::up).await.unwrap();
    setup(&slapd);
    slapd
}

fn person(name: &str, given: &str, family: &str) -> Vec<Attribute> {
    vec![
        text("__name__", name),
        text("givenName", given),
        text("familyName", family),
        text("displayName", &format!("{given} {family}")),
    ]
}

fn search(class: &str, filter: Option<&str>, size: u32, cookie: Option<String>) -> SearchRequest {
    SearchRequest {
        class: class.into(),
        filter: filter.map(Into::into),
        page: PageRequest { size, cookie },
        attributes: vec![],
    }
}

async fn names(ldap: &Connector, filter: &str) -> Vec<String> {
    let page = ldap
        .search(search("account", Some(filter), 500, None))
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let mut names: Vec<String> = page.objects.into_iter().map(|o| o.name).collect();
    names.sort();
    names
}

fn reference_uids(object: &provisio_host::model::ConnectorObject, name: &str) -> Vec<String> {
    values(object, name)
        .into_iter()
        .map(|v| match v {
            Value::Reference(s) | Value::Text(s) => s,
            other => panic!("{name}: {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_groups_through_their_life() {
    let slapd = up().await;
    let ldap = connector(&slapd);
    ldap.test().await.expect("the base DN is there");

    // Create with a password: the server hashes it, and the account binds.
    let mut ada = person("ada", "Ada", "Lovelace");
    ada.push(text("mail", "ada@example.com"));
    ada.push(text("__password__", "correct horse"));
    let created = ldap.create("account", ada).await.unwrap();
    assert_eq!(created.name, "ada");
    assert_eq!(created.uid.len(), 36, "an entryUUID: {}", created.uid);
    assert_eq!(values(&created, "givenName"), [Value::Text("Ada".into())]);
    assert_eq!(
        values(&created, "familyName"),
        [Value::Text("Lovelace".into())]
    );
    assert_eq!(values(&created, "__enable__"), [Value::Boolean(true)]);
    assert!(created.attribute("__password__").is_none());
    assert!(created.attribute("userPassword").is_none());
    let ada_dn = format!("uid=ada,{PEOPLE}");
    assert!(slapd.can_bind(&ada_dn, "correct horse"));
    assert!(!slapd.can_bind(&ada_dn, "wrong"));
    let stored = slapd.admin("ldapsearch", &["-LLL", "-b", &ada_dn, "userPassword"], "");
    assert!(
        !stored.contains("correct horse"),
        "hashed by the server: {stored}"
    );

    let duplicate = ldap
        .create("account", person("ada", "Other", "Ada"))
        .await
        .unwrap_err();
    assert_eq!(code(&duplicate), "already-exists", "{duplicate}");
    let missing_sn = ldap
        .create(
            "account",
            vec![text("__name__", "nosn"), text("displayName", "x")],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&missing_sn), "invalid", "{missing_sn}");
    assert!(missing_sn.to_string().contains("sn"), "{missing_sn}");

    // A group with ada in it: memberOf shows on ada as __groups__.
    let group = ldap
        .create(
            "group",
            vec![
                text("__name__", "engineers"),
                Attribute::single("members", Value::Reference(created.uid.clone())),
            ],
        )
        .await
        .unwrap();
    assert_eq!(reference_uids(&group, "members"), [created.uid.as_str()]);
    let ada_now = ldap.get("account", &created.uid, vec![]).await.unwrap();
    assert_eq!(reference_uids(&ada_now, "__groups__"), [group.uid.as_str()]);
    let member_of = slapd.admin("ldapsearch", &["-LLL", "-b", &ada_dn, "memberOf"], "");
    assert!(
        member_of.contains(&format!("memberOf: cn=engineers,{GROUPS}")),
        "{member_of}"
    );

    // A second account joins through __groups__ on the account.
    let grace = ldap
        .create("account", person("grace", "Grace", "Hopper"))
        .await
        .unwrap();
    let joined = ldap
        .update(
            "account",
            &grace.uid,
            vec![AttributeChange::AddValues(Attribute::single(
                "__groups__",
                Value::Reference(group.uid.clone()),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(reference_uids(&joined, "__groups__"), [group.uid.as_str()]);
    // A membership change answers the account as the directory then holds
    // it, groups it did not touch included, without reading it back.
    let second = ldap
        .create(
            "group",
            vec![
                text("__name__", "reviewers"),
                Attribute::single("members", Value::Reference(created.uid.clone())),
            ],
        )
        .await
        .unwrap();
    let joined_both = ldap
        .update(
            "account",
            &grace.uid,
            vec![AttributeChange::AddValues(Attribute::single(
                "__groups__",
                Value::Reference(second.uid.clone()),
            ))],
        )
        .await
        .unwrap();
    let read = ldap.get("account", &grace.uid, vec![]).await.unwrap();
    let sorted = |object: &provisio_host::model::ConnectorObject| {
        let mut uids = reference_uids(object, "__groups__");
        uids.sort();
        uids
    };
    let mut both = vec![group.uid.clone(), second.uid.clone()];
    both.sort();
    assert_eq!(sorted(&joined_both), both);
    assert_eq!(sorted(&read), both);
    assert_eq!(values(&joined_both, "sn"), values(&read, "sn"));
    let left = ldap
        .update(
            "account",
            &grace.uid,
            vec![AttributeChange::RemoveValues(Attribute::single(
                "__groups__",
                Value::Reference(second.uid.clone()),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(reference_uids(&left, "__groups__"), [group.uid.as_str()]);
    let read = ldap.get("account", &grace.uid, vec![]).await.unwrap();
    assert_eq!(reference_uids(&read, "__groups__"), [group.uid.as_str()]);
    ldap.delete("group", &second.uid).await.unwrap();
    let group_now = ldap.get("group", &group.uid, vec![]).await.unwrap();
    let mut members = reference_uids(&group_now, "members");
    members.sort();
    let mut expected = vec![created.uid.clone(), grace.uid.clone()];
    expected.sort();
    assert_eq!(members, expected);

    // Remove ada from the group through the group.
    ldap.update(
        "group",
        &group.uid,
        vec![AttributeChange::RemoveValues(Attribute::single(
            "members",
            Value::Reference(created.uid.clone()),
        ))],
    )
    .await
    .unwrap();
    let ada_now = ldap.get("account", &created.uid, vec![]).await.unwrap();
    assert!(reference_uids(&ada_now, "__groups__").is_empty());

    // Update: replace, add values, remove values.
    let updated = ldap
        .update(
            "account",
            &created.uid,
            vec![
                AttributeChange::Replace(text("mail", "ada.lovelace@example.com")),
                AttributeChange::AddValues(Attribute::new(
                    "telephoneNumber",
                    vec![Value::Text("+44 1".into()), Value::Text("+44 2".into())],
                )),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        values(&updated, "mail"),
        [Value::Text("ada.lovelace@example.com".into())]
    );
    assert_eq!(values(&updated, "telephoneNumber").len(), 2);
    let updated = ldap
        .update(
            "account",
            &created.uid,
            vec![AttributeChange::RemoveValues(text(
                "telephoneNumber",
                "+44 1",
            ))],
        )
        .await
        .unwrap();
    assert_eq!(
        values(&updated, "telephoneNumber"),
        [Value::Text("+44 2".into())]
    );
    let bad = ldap
        .update(
            "account",
            &created.uid,
            vec![AttributeChange::Replace(text("noSuchAttributeType", "x"))],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "invalid", "{bad}");

    // Disable locks the account (ppolicy), enable unlocks it.
    let disabled = ldap
        .update(
            "account",
            &created.uid,
            vec![AttributeChange::Replace(Attribute::single(
                "__enable__",
                Value::Boolean(false),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(values(&disabled, "__enable__"), [Value::Boolean(false)]);
    assert!(
        !slapd.can_bind(&ada_dn, "correct horse"),
        "a disabled account cannot bind"
    );
    let enabled = ldap
        .update(
            "account",
            &created.uid,
            vec![AttributeChange::Replace(Attribute::single(
                "__enable__",
                Value::Boolean(true),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(values(&enabled, "__enable__"), [Value::Boolean(true)]);
    assert!(slapd.can_bind(&ada_dn, "correct horse"));

    // A new password replaces the old one.
    ldap.update(
        "account",
        &created.uid,
        vec![AttributeChange::Replace(text(
            "__password__",
            "new secret 2",
        ))],
    )
    .await
    .unwrap();
    assert!(slapd.can_bind(&ada_dn, "new secret 2"));
    assert!(!slapd.can_bind(&ada_dn, "correct horse"));

    // Rename keeps the uid and the group membership (refint follows).
    ldap.update(
        "account",
        &grace.uid,
        vec![AttributeChange::Replace(text("__name__", "ghopper"))],
    )
    .await
    .unwrap();
    let renamed = ldap.get("account", &grace.uid, vec![]).await.unwrap();
    assert_eq!(renamed.name, "ghopper");
    assert_eq!(reference_uids(&renamed, "__groups__"), [group.uid.as_str()]);

    // Asking for some attributes returns those.
    let some = ldap
        .get("account", &created.uid, vec!["mail".to_owned()])
        .await
        .unwrap();
    let names: Vec<&str> = some.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["mail"]);

    // Delete, then it is gone.
    ldap.delete("account", &created.uid).await.unwrap();
    let gone = ldap.get("account", &created.uid, vec![]).await.unwrap_err();
    assert_eq!(code(&gone), "not-found", "{gone}");
    let again = ldap.delete("account", &created.uid).await.unwrap_err();
    assert_eq!(code(&again), "not-found", "{again}");
    ldap.delete("group", &group.uid).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_by_moving_to_a_disabled_base() {
    let slapd = up().await;
    let mut config = config(&slapd, &slapd.url);
    config.push(("account.disable".into(), "move".into()));
    config.push((
        "account.disabled_base".into(),
        "ou=disabled,dc=example,dc=com".into(),
    ));
    let ldap = connector_with(&slapd.spec(), &config);
    let alan = ldap
        .create("account", person("alan", "Alan", "Turing"))
        .await
        .unwrap();
    ldap.update(
        "account",
        &alan.uid,
        vec![AttributeChange::Replace(Attribute::single(
            "__enable__",
            Value::Boolean(false),
        ))],
    )
    .await
    .unwrap();
    let moved = slapd.admin(
        "ldapsearch",
        &[
            "-LLL",
            "-b",
            "ou=disabled,dc=example,dc=com",
            "(uid=alan)",
            "dn",
        ],
        "",
    );
    assert!(
        moved.contains("uid=alan,ou=disabled,dc=example,dc=com"),
        "{moved}"
    );
    // Found by uid although the disabled base is outside account.base.
    let disabled = ldap.get("account", &alan.uid, vec![]).await.unwrap();
    assert_eq!(values(&disabled, "__enable__"), [Value::Boolean(false)]);
    let back = ldap
        .update(
            "account",
            &alan.uid,
            vec![AttributeChange::Replace(Attribute::single(
                "__enable__",
                Value::Boolean(true),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(values(&back, "__enable__"), [Value::Boolean(true)]);
    let home = slapd.admin(
        "ldapsearch",
        &["-LLL", "-b", PEOPLE, "(uid=alan)", "dn"],
        "",
    );
    assert!(home.contains(&format!("uid=alan,{PEOPLE}")), "{home}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_with_tricky_values_match_exactly() {
    let slapd = up().await;
    let ldap = connector(&slapd);
    // Names chosen so a missing escape would match more (or fail).
    let tricky = [
        ("star", "a*b"),
        ("star-look-alike", "axxb"),
        ("paren", "x(y)z"),
        ("backslash", r"back\slash"),
        ("accent", "José Müller"),
        ("plain", "plain"),
    ];
    for (name, cn) in tricky {
        ldap.create("account", {
            let mut a = person(name, "T", "Tricky");
            a.retain(|a| a.name != "displayName");
            a.push(text("displayName", cn));
            a
        })
        .await
        .unwrap();
    }
    assert_eq!(names(&ldap, r#"displayName eq "a*b""#).await, ["star"]);
    assert_eq!(
        names(&ldap, r#"displayName eq "*""#).await,
        Vec::<String>::new()
    );
    assert_eq!(names(&ldap, r#"displayName eq "x(y)z""#).await, ["paren"]);
    assert_eq!(
        names(&ldap, r#"displayName eq "back\\slash""#).await,
        ["backslash"]
    );
    assert_eq!(
        names(&ldap, r#"displayName eq "José Müller""#).await,
        ["accent"]
    );
    assert_eq!(
        names(&ldap, r#"displayName eq "jOSÉ mÜLLER""#).await,
        ["accent"]
    );
    assert_eq!(names(&ldap, r#"displayName co "*""#).await, ["star"]);
    assert_eq!(names(&ldap, r#"displayName sw "x(""#).await, ["paren"]);
    assert_eq!(
        names(&ldap, r#"displayName eq "a\u0000b""#).await,
        Vec::<String>::new()
    );
    // An injection attempt is a literal value, not a filter.
    assert_eq!(
        names(&ldap, r#"displayName eq "plain)(uid=*""#).await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(&ldap, r#"displayName eq "plain" or name eq "star""#).await,
        ["plain", "star"]
    );
    assert_eq!(
        names(&ldap, r#"familyName eq "Tricky" and not (name sw "s")"#).await,
        ["accent", "backslash", "paren", "plain"]
    );
    let all = names(&ldap, r#"familyName eq "Tricky""#).await;
    assert_eq!(all.len(), tricky.len());
    let unmappable = ldap
        .search(search("account", Some("__groups__ eq \"x\""), 10, None))
        .await
        .unwrap_err();
    assert_eq!(code(&unmappable), "invalid", "{unmappable}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_reads_past_the_size_limit() {
    let slapd = up().await;
    let mut ldif = String::new();
    for i in 0..2500 {
        ldif.push_str(&format!(
            "dn: uid=user{i:04},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: user{i:04}\ncn: User {i}\nsn: Bulk\n\n"
        ));
    }
    slapd.admin("ldapadd", &["-c"], &ldif);
    // The service account's limit is real: an unpaged search stops at 500.
    let unpaged = slapd.tool(
        "ldapsearch",
        &[
            "-D",
            &slapd.bind_dn,
            "-w",
            &slapd.bind_password,
            "-b",
            PEOPLE,
            "(sn=Bulk)",
            "1.1",
        ],
        "",
    );
    assert_eq!(
        unpaged.status.code(),
        Some(4),
        "sizeLimitExceeded without paging"
    );

    let ldap = connector(&slapd);
    let mut seen = std::collections::BTreeSet::new();
    let mut cookie = None;
    let mut pages = 0;
    loop {
        let page = ldap
            .search(search(
                "account",
                Some(r#"familyName eq "Bulk""#),
                100,
                cookie,
            ))
            .await
            .unwrap();
        assert!(page.objects.len() <= 100);
        pages += 1;
        for object in page.objects {
            assert!(seen.insert(object.name), "no entry twice");
        }
        cookie = page.cookie;
        if cookie.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 2500);
    assert!(pages >= 25, "{pages} pages");
    let damaged = ldap
        .search(search("account", None, 100, Some("zz".into())))
        .await
        .unwrap_err();
    assert_eq!(code(&damaged), "invalid", "{damaged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reports_creates_updates_and_deletes() {
    let slapd = up().await;
    let ldap = connector(&slapd);
    let before = ldap
        .create("account", person("before", "B", "Sync"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let token = ldap.latest_sync_token("account").await.unwrap();

    let one = ldap
        .create("account", person("one", "O", "Sync"))
        .await
        .unwrap();
    // Same second: both are reported.
    let two = ldap
        .create("account", person("two", "T", "Sync"))
        .await
        .unwrap();
    ldap.update(
        "account",
        &before.uid,
        vec![AttributeChange::Replace(text("mail", "before@example.com"))],
    )
    .await
    .unwrap();
    ldap.delete("account", &two.uid).await.unwrap();
    // Changes are reported once they are more than a second old.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let mut deltas = Vec::new();
    let mut token = Some(token);
    loop {
        let batch = ldap
            .sync(SyncRequest {
                class: "account".into(),
                token: token.clone(),
                max_deltas: 2,
            })
            .await
            .unwrap();
        deltas.extend(batch.deltas);
        token = Some(batch.token);
        if !batch.has_more {
            break;
        }
    }
    let seen: Vec<(DeltaKind, String)> = deltas.iter().map(|d| (d.kind, d.uid.clone())).collect();
    assert_eq!(
        seen,
        [
            (DeltaKind::Create, one.uid.clone()),
            (DeltaKind::Update, before.uid.clone()),
            (DeltaKind::Delete, two.uid.clone()),
        ],
        "the create of `two` is not reported: it was deleted before the sync read it"
    );
    let update = deltas.iter().find(|d| d.kind == DeltaKind::Update).unwrap();
    assert_eq!(
        values(update.object.as_ref().unwrap(), "mail"),
        [Value::Text("before@example.com".into())]
    );

    // Nothing new: nothing reported, and the token holds.
    let quiet = ldap
        .sync(SyncRequest {
            class: "account".into(),
            token: token.clone(),
            max_deltas: 10,
        })
        .await
        .unwrap();
    assert!(quiet.deltas.is_empty(), "{:?}", quiet.deltas);
    // A group's delete is not an account's.
    let group = ldap
        .create(
            "group",
            vec![
                text("__name__", "ephemeral"),
                Attribute::single("members", Value::Reference(one.uid.clone())),
            ],
        )
        .await
        .unwrap();
    ldap.delete("group", &group.uid).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let after_group = ldap
        .sync(SyncRequest {
            class: "account".into(),
            token: Some(quiet.token),
            max_deltas: 10,
        })
        .await
        .unwrap();
    assert!(
        after_group.deltas.iter().all(|d| d.uid != group.uid),
        "{:?}",
        after_group.deltas
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_is_down_is_retryable_and_comes_back() {
    let slapd = up().await;
    let ldap = connector(&slapd);
    let ada = ldap
        .create("account", person("ada", "Ada", "Lovelace"))
        .await
        .unwrap();
    slapd.stop();
    let down = ldap.get("account", &ada.uid, vec![]).await.unwrap_err();
    assert_eq!(code(&down), "unavailable", "{down}");
    assert!(down.is_retryable(), "{down}");
    slapd.start();
    let back = ldap.get("account", &ada.uid, vec![]).await.unwrap();
    assert_eq!(back.name, "ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_and_credentials_are_the_operators() {
    let slapd = up().await;
    // A URL the target was not granted.
    let other = format!("ldap://127.0.0.1:{}", provisio_tests::slapd::free_port());
    let ldap = connector_with(&slapd.spec(), &config(&slapd, &other));
    let refused = ldap.test().await.unwrap_err();
    assert_eq!(code(&refused), "permission-denied", "{refused}");
    assert!(refused.to_string().contains("not granted"), "{refused}");
    assert!(refused.to_string().contains(&other), "{refused}");

    // Wrong bind credentials: refused, and the password is not in the error.
    let mut spec = slapd.spec();
    spec.bind.as_mut().unwrap().password = provisio_host::runtime::Secret::new("not-the-password");
    let ldap = connector_with(&spec, &config(&slapd, &slapd.url));
    let denied = ldap.test().await.unwrap_err();
    assert_eq!(code(&denied), "permission-denied", "{denied}");
    assert!(!denied.to_string().contains("not-the-password"), "{denied}");

    // LDAPS verified against the operator's CA works…
    let ldap = connector_with(&slapd.spec(), &config(&slapd, &slapd.ldaps_url));
    ldap.test().await.expect("LDAPS with the right CA");
    let made = ldap
        .create("account", person("secure", "S", "Tls"))
        .await
        .unwrap();
    assert_eq!(made.name, "secure");
    // …and so does StartTLS on the plain port.
    let mut start_tls = config(&slapd, &slapd.url);
    start_tls.push(("start_tls".into(), "true".into()));
    connector_with(&slapd.spec(), &start_tls)
        .test()
        .await
        .expect("StartTLS with the right CA");

    // …but not against another CA.
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ])
        .arg("-keyout")
        .arg(dir.path().join("other.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(status.status.success());
    let mut spec = slapd.spec();
    spec.ca_file = Some(other_ca);
    let ldap = connector_with(&spec, &config(&slapd, &slapd.ldaps_url));
    let untrusted = ldap.test().await.unwrap_err();
    assert!(untrusted.to_string().contains("TLS"), "{untrusted}");
    assert!(
        !untrusted.is_retryable(),
        "a certificate problem is not retried: {untrusted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_comes_from_the_subschema_entry() {
    let slapd = up().await;
    let ldap = connector(&slapd);
    let schema = ldap.schema().await.unwrap();
    let account = schema.classes.iter().find(|c| c.name == "account").unwrap();
    let find = |name: &str| {
        account
            .attributes
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", account.attributes))
    };
    assert!(find("familyName").required, "sn is MUST of person");
    assert!(!find("mail").required);
    assert!(find("mail").multi_valued);
    assert!(!find("employeeNumber").multi_valued, "SINGLE-VALUE");
    assert_eq!(
        find("jpegPhoto").value_type,
        provisio_host::model::ValueType::Binary
    );
    assert!(find("__password__").creatable && !find("__password__").readable);
    let group = schema.classes.iter().find(|c| c.name == "group").unwrap();
    assert!(group.attributes.iter().any(|a| a.name == "members"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_through_the_engine_and_a_config_file() {
    let slapd = up().await;
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("bind.pw");
    std::fs::write(&password_file, &slapd.bind_password).unwrap();
    let targets = format!(
        "[targets.dir]\nconnector = \"bundled:ldap\"\n\
         [targets.dir.grants.ldap]\nurls = [{ldaps:?}]\nbind_dn = {dn:?}\npassword = {{ file = {pw:?} }}\nca_file = {ca:?}\n\
         [targets.dir.config]\nurl = {ldaps:?}\nbase_dn = {base:?}\n\"account.base\" = {people:?}\n\"group.base\" = {groups:?}\n",
        ldaps = slapd.ldaps_url,
        dn = slapd.bind_dn,
        pw = password_file.display().to_string(),
        ca = slapd.ca_file.display().to_string(),
        base = slapd.base,
        people = PEOPLE,
        groups = GROUPS,
    );
    let host = provisio_tests::host::TestHost::start(&targets, "", &[]).await;
    let done = host
        .run(
            "dir",
            serde_json::json!({"kind": "create", "identity": "emp-1", "attributes": {
                "__name__": "ada", "sn": "Lovelace", "cn": "Ada Lovelace",
                "__password__": "engine secret 1"}}),
        )
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(slapd.can_bind(&format!("uid=ada,{PEOPLE}"), "engine secret 1"));
    let audit = host.audit_of(done["id"].as_str().unwrap()).await;
    let trail = serde_json::to_string(&audit).unwrap();
    assert!(!trail.contains("engine secret 1"), "{trail}");
    assert!(!trail.contains(&slapd.bind_password), "{trail}");

    let deleted = host
        .run(
            "dir",
            serde_json::json!({"kind": "delete", "identity": "emp-1"}),
        )
        .await;
    assert_eq!(deleted["status"], "succeeded", "{deleted}");
    let left = slapd.admin("ldapsearch", &["-LLL", "-b", PEOPLE, "(uid=ada)", "dn"], "");
    assert!(!left.contains("uid=ada"), "{left}");
}

/// The host sends the bind password only over LDAPS or StartTLS, unless
/// the operator allowed plain binds for the grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_password_never_crosses_a_plain_connection_unless_allowed() {
    let slapd = up().await;
    let mut strict = slapd.spec();
    strict.allow_plaintext_bind = false;
    let plain = connector_with(&strict, &config(&slapd, &slapd.url));
    let refused = plain.test().await.unwrap_err();
    assert_eq!(code(&refused), "permission-denied", "{refused}");
    assert!(
        refused.to_string().contains("allow_plaintext_bind"),
        "names the setting: {refused}"
    );
    let mut start_tls = config(&slapd, &slapd.url);
    start_tls.push(("start_tls".into(), "true".into()));
    connector_with(&strict, &start_tls)
        .test()
        .await
        .expect("StartTLS on the same port binds");
    connector_with(&strict, &config(&slapd, &slapd.ldaps_url))
        .test()
        .await
        .expect("LDAPS binds");
}

/// How a hostile directory server answers the first request it reads.
#[derive(Clone, Copy)]
enum Hostility {
    /// An LDAPMessage nested 100,000 levels deep (600 KB).
    Deep,
    /// An LDAPMessage announcing 2 GiB, then bytes until the peer leaves.
    Endless,
}

/// A server on loopback that speaks just enough LDAP to be hostile; it
/// reports how many bytes of its answer the host took before leaving.
fn hostile_directory(hostility: Hostility) -> (String, std::sync::mpsc::Receiver<usize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ldap://{}", listener.local_addr().unwrap());
    let (sent, taken) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let sent = sent.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                if stream.read(&mut request).unwrap_or(0) == 0 {
                    return;
                }
                let mut written = 0usize;
                match hostility {
                    Hostility::Deep => {
                        let depth = 100_000;
                        let mut body: Vec<u8> = vec![0x02, 0x01, 0x01];
                        body.extend((0..depth).rev().flat_map(|inside: u32| {
                            let mut header = vec![0x61, 0x84];
                            header.extend_from_slice(&(6 * inside).to_be_bytes());
                            header
                        }));
                        let mut message = vec![0x30, 0x84];
                        message.extend_from_slice(&(body.len() as u32).to_be_bytes());
                        message.extend_from_slice(&body);
                        if stream.write_all(&message).is_ok() {
                            written = message.len();
                        }
                        // Stay until the host hangs up: its error is its own.
                        let _ = stream.read_to_end(&mut Vec::new());
                    }
                    Hostility::Endless => {
                        let header = [0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01];
                        let _ = stream.write_all(&header);
                        let chunk = vec![0u8; 64 << 10];
                        // Stop at 256 MiB: an unbounded reader would take it all.
                        while written < 256 << 20 && stream.write_all(&chunk).is_ok() {
                            written += chunk.len();
                        }
                    }
                }
                let _ = sent.send(written);
            });
        }
    });
    (url, taken)
}

/// The host decodes what a directory answers (the `ldap` capability is
/// host code): an answer nested deep enough to overflow the decoding
/// thread's stack, or one that announces gigabytes, fails the call with an
/// error and leaves the host serving, holding at most the BER parser's
/// bound (vendor/lber: 64 levels, 64 MiB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_directory_server_cannot_crash_or_fill_the_host() {
    for hostility in [Hostility::Deep, Hostility::Endless] {
        let (url, taken) = hostile_directory(hostility);
        let spec = LdapSpec {
            urls: vec![url.clone()],
            bind: Some(
                provisio_host::runtime::capabilities::ldap::BindCredentials {
                    dn: "cn=admin,dc=example,dc=com".into(),
                    password: provisio_host::runtime::Secret::new(String::from("secret")),
                },
            ),
            ca_file: None,
            tls_verify: true,
            allow_plaintext_bind: true,
            timeout: Duration::from_secs(5),
        };
        let config: Vec<(String, String)> = [
            ("url", url.as_str()),
            ("base_dn", "dc=example,dc=com"),
            ("account.base", PEOPLE),
            ("group.base", GROUPS),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let connector = connector_with(&spec, &config);
        for attempt in 0..2 {
            let error = connector.test().await.unwrap_err();
            assert_eq!(code(&error), "unavailable", "attempt {attempt}: {error}");
            let written = taken.recv_timeout(Duration::from_secs(20)).unwrap();
            assert!(
                written < 64 << 20,
                "the host took {written} bytes of an endless answer"
            );
        }
    }
}

/// The service account has the rights docs/connectors/ldap.md asks for
/// and no more: it provisions below its bases, but an entry elsewhere is
/// `permission-denied`, and it cannot read the passwords it sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_account_writes_where_it_is_granted_and_reads_no_password() {
    let slapd = up().await;
    let mut outside = config(&slapd, &slapd.url);
    outside.retain(|(k, _)| k != "account.base");
    outside.push(("account.base".into(), slapd.base.clone()));
    let ldap = connector_with(&slapd.spec(), &outside);
    let refused = ldap
        .create("account", person("eve", "Eve", "Outside"))
        .await
        .unwrap_err();
    assert_eq!(code(&refused), "permission-denied", "{refused}");

    let ldap = connector(&slapd);
    let mut ada = person("ada", "Ada", "Lovelace");
    ada.push(text("__password__", "correct horse"));
    let ada = ldap.create("account", ada).await.unwrap();
    let disabled = ldap
        .update(
            "account",
            &ada.uid,
            vec![AttributeChange::Replace(Attribute::single(
                "__enable__",
                Value::Boolean(false),
            ))],
        )
        .await
        .unwrap();
    assert_eq!(values(&disabled, "__enable__"), [Value::Boolean(false)]);
    let dn = format!("uid=ada,{PEOPLE}");
    assert!(
        !slapd.can_bind(&dn, "correct horse"),
        "locked with write, not manage"
    );
    let seen = slapd.tool(
        "ldapsearch",
        &[
            "-D",
            &slapd.bind_dn,
            "-w",
            &slapd.bind_password,
            "-LLL",
            "-b",
            &dn,
            "userPassword",
        ],
        "",
    );
    assert!(seen.status.success(), "{seen:?}");
    let seen = String::from_utf8_lossy(&seen.stdout);
    assert!(
        seen.contains(&dn) && !seen.contains("userPassword"),
        "{seen}"
    );
}

/// `groupOfNames` requires a member (RFC 4519): with `group.empty_member`
/// a group created empty holds the placeholder, the last member leaving
/// (from the account's side or the group's) leaves it behind, and it is
/// never reported as a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_left_empty_keeps_its_placeholder_member() {
    let slapd = up().await;
    let ldap = connector(&slapd);
    let nobody = format!("cn=nobody,{}", slapd.base);
    let members_in_directory = |cn: &str| {
        slapd.admin(
            "ldapsearch",
            &["-LLL", "-b", &format!("cn={cn},{GROUPS}"), "member"],
            "",
        )
    };
    let empty = ldap
        .create("group", vec![text("__name__", "empty")])
        .await
        .expect("an empty groupOfNames is created with the placeholder");
    assert!(values(&empty, "members").is_empty(), "{empty:?}");
    assert!(members_in_directory("empty").contains(&nobody));

    let ada = ldap
        .create("account", person("ada", "Ada", "Lovelace"))
        .await
        .unwrap();
    let member = |uid: &str| Attribute::single("members", Value::Reference(uid.into()));
    let joined = ldap
        .update(
            "group",
            &empty.uid,
            vec![AttributeChange::AddValues(member(&ada.uid))],
        )
        .await
        .unwrap();
    // Adding members answers the group without them (reading a large
    // group's members back would cost more than the change).
    assert_eq!(joined.uid, empty.uid);
    assert!(
        joined.attributes.iter().all(|a| a.name != "members"),
        "{joined:?}"
    );
    let joined = ldap.get("group", &empty.uid, vec![]).await.unwrap();
    assert_eq!(
        values(&joined, "members"),
        [Value::Reference(ada.uid.clone())]
    );
    // Added again, with a new member beside it: no change for ada, and
    // the new member added (an RFC 4511 server refuses the whole modify).
    let grace = ldap
        .create("account", person("grace", "Grace", "Hopper"))
        .await
        .unwrap();
    ldap.update(
        "group",
        &empty.uid,
        vec![AttributeChange::AddValues(Attribute::new(
            "members",
            vec![
                Value::Reference(ada.uid.clone()),
                Value::Reference(grace.uid.clone()),
            ],
        ))],
    )
    .await
    .expect("adding a member already there is no change");
    let both = ldap.get("group", &empty.uid, vec![]).await.unwrap();
    let mut got = values(&both, "members");
    got.sort_by_key(|v| format!("{v:?}"));
    let mut want = vec![
        Value::Reference(ada.uid.clone()),
        Value::Reference(grace.uid.clone()),
    ];
    want.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(got, want);
    // Removed with one who is not a member: grace leaves, no error.
    let linus = ldap
        .create("account", person("linus", "Linus", "Torvalds"))
        .await
        .unwrap();
    ldap.update(
        "group",
        &empty.uid,
        vec![AttributeChange::RemoveValues(Attribute::new(
            "members",
            vec![
                Value::Reference(grace.uid.clone()),
                Value::Reference(linus.uid.clone()),
            ],
        ))],
    )
    .await
    .expect("removing one who is not a member is no change");
    let one = ldap.get("group", &empty.uid, vec![]).await.unwrap();
    assert_eq!(values(&one, "members"), [Value::Reference(ada.uid.clone())]);
    // The group's side: the last member removed.
    let left = ldap
        .update(
            "group",
            &empty.uid,
            vec![AttributeChange::RemoveValues(member(&ada.uid))],
        )
        .await
        .expect("the last member leaves");
    assert!(values(&left, "members").is_empty(), "{left:?}");
    assert!(members_in_directory("empty").contains(&nobody));

    // The account's side: a group with ada alone, then ada leaves it.
    let crew = ldap
        .create("group", vec![text("__name__", "crew"), member(&ada.uid)])
        .await
        .unwrap();
    assert!(!members_in_directory("crew").contains(&nobody));
    let groups = |uids: Vec<&str>| {
        Attribute::new(
            "__groups__",
            uids.into_iter()
                .map(|u| Value::Reference(u.into()))
                .collect(),
        )
    };
    ldap.update(
        "account",
        &ada.uid,
        vec![AttributeChange::Replace(groups(vec![]))],
    )
    .await
    .expect("leaving the last group a member is in");
    let crew = ldap.get("group", &crew.uid, vec![]).await.unwrap();
    assert!(values(&crew, "members").is_empty(), "{crew:?}");
    assert!(members_in_directory("crew").contains(&nobody));
}

/// What `provisio_sdk::testing` replays of LDAP is what the host records:
/// the connector run in the host against slapd, recorded; then the same
/// crate built natively, on a `Fake` replaying that recording with slapd
/// stopped, answers the same calls the same way, asks nothing else, and
/// fails naming an LDAP call the recording does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_recording_replays_in_the_connectors_native_tests() {
    use crate::util::Replayed;
    use provisio_connector_ldap::LdapConnector;
    use provisio_sdk::Connector as _;

    let slapd = up().await;
    let recording = tempfile::tempdir().unwrap();
    let secrets = [slapd.bind_password.clone()];
    let tape = Arc::new(
        provisio_host::runtime::recording::Tape::record(
            recording.path(),
            secrets.iter().map(String::as_str),
        )
        .unwrap(),
    );
    let mut settings = settings_with(&slapd.spec(), &config(&slapd, &slapd.url));
    // One instance: it reads the root DSE and the schema once, as the
    // native connector below does.
    settings.max_instances = 1;
    settings.grants = settings.grants.taped(tape).unwrap();
    let host = provisio_tests::start(provisio_host::bundled::LDAP.bytes, settings);
    let script = Replayed {
        class: "account",
        create: person("replayed", "Ada", "Lovelace"),
        filter: r#"familyName eq "Lovelace""#,
        change: AttributeChange::Replace(text("givenName", "Augusta")),
        delete: true,
    };
    let recorded = script.on_host(&host).await;
    drop(host);
    slapd.stop();

    let dir = recording.path().to_owned();
    let config = config(&slapd, &slapd.url);
    let (native, unasked, unused) = tokio::task::spawn_blocking(move || {
        let mut fake = provisio_sdk::testing::Fake::new();
        for (key, value) in &config {
            fake = fake.set(key, value);
        }
        let fake = fake.replay(&dir).unwrap();
        let mut ldap = LdapConnector::open(&fake.config()).unwrap();
        let native = script.natively(&mut ldap);
        let unasked = ldap.get("account", "no-such-uid", &[]).unwrap_err();
        (native, format!("{unasked:?}"), fake.unused())
    })
    .await
    .unwrap();
    assert_eq!(native, recorded);
    assert!(
        unasked.contains("replay: the fake holds no ldap search"),
        "{unasked}"
    );
    assert_eq!(
        unused, 0,
        "the native run asked less than the host recorded"
    );
}

/// Membership changes of one group submitted together ride shared modifies
/// (group-attribute membership), each operation still its own: every one
/// ends, the group holds each member once (one was a member already), the
/// audit shows calls several shared, and a member whose account was
/// deleted behind the host's back fails alone, naming its uid, while the
/// others of its call succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_groups_membership_changes_ride_shared_modifies() {
    const N: usize = 40;
    let slapd = up().await;
    slapd.admin(
        "ldapadd",
        &[],
        &format!(
            "dn: cn=big,{GROUPS}\nobjectClass: groupOfNames\ncn: big\nmember: cn=nobody,{}\n",
            slapd.base
        ),
    );
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secrets.path().join("bind.pw");
    std::fs::write(&password_file, &slapd.bind_password).unwrap();
    let targets = format!(
        "[targets.dir]\nconnector = \"bundled:ldap\"\nconcurrency = 8\n\
         membership = {{ mode = \"group-attribute\", group_class = \"group\", attribute = \"members\" }}\n\
         [targets.dir.grants.ldap]\nurls = [{ldaps:?}]\nbind_dn = {dn:?}\npassword = {{ file = {pw:?} }}\nca_file = {ca:?}\n\
         [targets.dir.config]\nurl = {ldaps:?}\nbase_dn = {base:?}\n\"account.base\" = {people:?}\n\"group.base\" = {groups:?}\n\"group.empty_member\" = \"cn=nobody,{base}\"\n",
        ldaps = slapd.ldaps_url,
        dn = slapd.bind_dn,
        pw = password_file.display().to_string(),
        ca = slapd.ca_file.display().to_string(),
        base = slapd.base,
        people = PEOPLE,
        groups = GROUPS,
    );
    let host = provisio_tests::host::TestHost::start(&targets, "", &[]).await;
    for i in 0..N {
        let made = host
            .run(
                "dir",
                serde_json::json!({"kind": "create", "identity": format!("emp-{i}"), "attributes": {
                    "__name__": format!("u{i}"), "sn": "Member", "cn": format!("Member {i}")}}),
            )
            .await;
        assert_eq!(made["status"], "succeeded", "{made}");
    }
    let gone = N - 1;
    slapd.admin(
        "ldapmodify",
        &[],
        &format!("dn: cn=big,{GROUPS}\nchangetype: modify\nadd: member\nmember: uid=u0,{PEOPLE}\n"),
    );
    slapd.admin("ldapdelete", &[&format!("uid=u{gone},{PEOPLE}")], "");

    let submitted = futures_util::future::join_all((0..N).map(|i| {
        host.submit(
            "dir",
            serde_json::json!({"kind": "add-member", "identity": format!("emp-{i}"), "group": "big"}),
        )
    }))
    .await;
    for (i, id) in submitted.iter().enumerate() {
        let done = host.wait(id).await;
        if i == gone {
            assert_eq!(done["status"], "failed", "{done}");
            assert_eq!(done["error"]["code"], "invalid", "{done}");
        } else {
            assert_eq!(done["status"], "succeeded", "member {i}: {done}");
        }
    }
    let members = slapd.admin(
        "ldapsearch",
        &[
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-b",
            &format!("cn=big,{GROUPS}"),
            "member",
        ],
        "",
    );
    for i in 0..N {
        let times = members
            .lines()
            .filter(|l| l.eq_ignore_ascii_case(&format!("member: uid=u{i},{PEOPLE}")))
            .count();
        assert_eq!(times, usize::from(i != gone), "member u{i}:\n{members}");
    }
    let shared: Vec<u64> = host
        .audit_of_target("dir")
        .await
        .iter()
        .filter(|row| row["event"] == "call" && row["detail"]["operation"] == "update")
        .filter_map(|row| row["detail"]["shared_by"].as_u64())
        .collect();
    assert!(
        shared.iter().any(|&n| n > 1),
        "no membership call was shared: {shared:?}"
    );
}
