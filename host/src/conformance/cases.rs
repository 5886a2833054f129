//! The cases, in the order they run. Each one checks one rule of the
//! contract (`wit/0.2.0`) and says, when it fails, what the rule expects
//! and what the connector did.

use super::sample;
use super::{
    CaseReport, CaseResult, Suite, Verdict, case_report, error_case, fail, failed_call, is_refusal,
};
use crate::model::names::{NAME, PASSWORD};
use crate::model::{
    Attribute, AttributeChange, ConnectorError, ConnectorObject, CountRequest, DeltaKind,
    PageRequest, SearchRequest, SyncRequest, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// `test` is how an operator learns a configuration does not work: with a
/// wrong one it must fail, with a connector error saying why (not pass,
/// and not crash).
async fn misconfigured(suite: &Suite<'_>) -> CaseResult {
    let Some(wrong) = suite.misconfigured else {
        return Err(Verdict::Skip(
            "no wrong configuration to try (give `--wrong-config KEY=VALUE`; a target with secrets is tried with them spoiled)"
                .to_owned(),
        ));
    };
    match wrong.connector.test().await {
        Ok(()) => Err(fail(
            format!("test to fail with a wrong configuration ({})", wrong.change),
            "it passed",
        )),
        Err(error) if error.connector_error().is_some() => Ok(()),
        Err(error) => Err(fail(
            format!(
                "test to fail with a connector error saying what is wrong ({})",
                wrong.change
            ),
            format!("{error}"),
        )),
    }
}

/// Objects the paging and filter cases search among.
const POPULATION: usize = 12;
/// Sync batches the suite reads at most before it calls a sync endless.
const MAX_SYNC_BATCHES: usize = 2_000;
/// Pages one search may take before the suite calls its cookies endless.
const MAX_PAGES: usize = 10_000;
/// How long a change may take to show in `sync`.
const SYNC_SETTLE: Duration = Duration::from_secs(10);

pub async fn run_all(suite: &Suite<'_>) -> Vec<CaseReport> {
    let caps = suite.info.capabilities;
    let mut out = Vec::new();
    let mut record = |name: &str, result: CaseResult| out.push(case_report(name, result));
    let missing = |what: &str| {
        Err(Verdict::Skip(format!(
            "the connector does not declare `{what}`"
        )))
    };

    record(
        "test.passes",
        if caps.test {
            suite
                .connector
                .test()
                .await
                .map_err(|e| failed_call("test with this configuration", &e))
        } else {
            missing("test")
        },
    );
    record(
        "test.fails-misconfigured",
        if caps.test {
            misconfigured(suite).await
        } else {
            missing("test")
        },
    );
    if !(caps.create && caps.get) {
        record("create.reads-back", missing("create and get"));
        return out;
    }
    let first = match create_reads_back(suite).await {
        Ok(object) => {
            record("create.reads-back", Ok(()));
            Some(object)
        }
        Err(verdict) => {
            record("create.reads-back", Err(verdict));
            None
        }
    };
    record("create.duplicate-is-already-exists", duplicate(suite).await);
    record(
        "create.unknown-attribute-is-invalid",
        unknown_attribute(suite).await,
    );
    record("get.unknown-is-not-found", get_unknown(suite).await);
    record("password.never-returned", password(suite).await);
    match (&first, caps.update) {
        (Some(object), true) => {
            record("update.replace", update_replace(suite, object).await);
            record(
                "update.empty-replace-clears",
                update_clears(suite, object).await,
            );
            record(
                "update.add-and-remove-values",
                update_values(suite, object).await,
            );
            record("update.unknown-is-not-found", update_unknown(suite).await);
        }
        (None, true) => {
            for name in [
                "update.replace",
                "update.empty-replace-clears",
                "update.add-and-remove-values",
                "update.unknown-is-not-found",
            ] {
                record(
                    name,
                    Err(Verdict::Skip("create.reads-back failed".to_owned())),
                );
            }
        }
        (_, false) => record("update.replace", missing("update")),
    }
    if caps.search {
        match population(suite).await {
            Ok(objects) => {
                record(
                    "schema.covers-what-is-returned",
                    schema_covers(suite, &objects),
                );
                for size in [1, 7, 100] {
                    record(
                        &format!("search.pages-every-object-once.size-{size}"),
                        paging(suite, &objects, size).await,
                    );
                }
                record(
                    "search.pages-every-object-once.while-adding",
                    if caps.delete {
                        paging_while_adding(suite, &objects).await
                    } else {
                        // The object it adds would change the population.
                        missing("delete")
                    },
                );
                for (name, result) in filters(suite, &objects).await {
                    record(&name, result);
                }
                record(
                    "count.equals-search",
                    if caps.count {
                        count(suite, &objects).await
                    } else {
                        missing("count")
                    },
                );
            }
            Err(verdict) => record("search.population", Err(verdict)),
        }
    } else {
        record("search.pages-every-object-once", missing("search"));
    }
    if caps.sync {
        record("sync.reports-each-change-once", sync_changes(suite).await);
        record(
            "sync.reports-deletes",
            match (caps.delete, suite.sync_without_deletes) {
                (false, _) => missing("delete"),
                (true, true) => Err(Verdict::Skip(
                    "run with --sync-without-deletes: the connector documents that its sync cannot see deletes"
                        .to_owned(),
                )),
                (true, false) => sync_deletes(suite).await,
            },
        );
        record(
            "sync.from-the-start-reports-objects",
            sync_from_start(suite).await,
        );
    } else {
        record("sync.reports-each-change-once", missing("sync"));
    }
    if caps.delete {
        record("delete.then-get-is-not-found", delete(suite).await);
    } else {
        record("delete.then-get-is-not-found", missing("delete"));
    }
    out
}

fn class(suite: &Suite<'_>) -> String {
    suite.class.name.clone()
}

async fn create(
    suite: &Suite<'_>,
    name: &str,
    extra: Option<&str>,
) -> Result<ConnectorObject, Verdict> {
    create_with(suite, name, suite.object(name, extra)).await
}

async fn create_with(
    suite: &Suite<'_>,
    name: &str,
    attributes: Vec<Attribute>,
) -> Result<ConnectorObject, Verdict> {
    let object = suite
        .connector
        .create(class(suite), attributes)
        .await
        .map_err(|e| suite.failed_create(&format!("create {name}"), &e))?;
    if object.uid.is_empty() {
        return Err(fail("a created object to have a uid", "an empty uid"));
    }
    suite.remember(&object.uid);
    Ok(object)
}

async fn get(suite: &Suite<'_>, uid: &str) -> Result<ConnectorObject, Verdict> {
    suite
        .connector
        .get(class(suite), uid.to_owned(), Vec::new())
        .await
        .map_err(|e| failed_call(&format!("get {uid}"), &e))
}

fn sorted(values: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    out.sort();
    out
}

fn values_of(object: &ConnectorObject, name: &str) -> Vec<Value> {
    object
        .attribute(name)
        .map(|a| a.values.clone())
        .unwrap_or_default()
}

async fn create_reads_back(suite: &Suite<'_>) -> Result<ConnectorObject, Verdict> {
    let name = suite.name("c");
    let extra = format!("{name} first");
    let written = suite.object(&name, Some(&extra));
    let created = create(suite, &name, Some(&extra)).await?;
    let read = get(suite, &created.uid).await?;
    if read.uid != created.uid {
        return Err(fail(
            format!("get {} to answer that uid", created.uid),
            format!("uid {}", read.uid),
        ));
    }
    for attribute in sample::readable_written(&suite.class, &written) {
        let got = values_of(&read, &attribute.name);
        if sorted(&got) != sorted(&attribute.values) {
            return Err(fail(
                format!(
                    "{} read back as written: {:?}",
                    attribute.name, attribute.values
                ),
                format!("{got:?}"),
            ));
        }
    }
    Ok(read)
}

async fn duplicate(suite: &Suite<'_>) -> CaseResult {
    let name = suite.name("d");
    create(suite, &name, None).await?;
    let outcome = suite
        .connector
        .create(class(suite), suite.object(&name, None))
        .await;
    expect_error(
        outcome,
        "already-exists",
        &format!("a second create of {name}"),
        |second| {
            suite.remember(&second.uid);
            format!("created again as uid {}", second.uid)
        },
    )
}

/// An attribute no schema has.
const UNKNOWN_ATTRIBUTE: &str = "pvctNoSuchAttribute";

async fn unknown_attribute(suite: &Suite<'_>) -> CaseResult {
    let name = suite.name("u");
    let mut attributes = suite.object(&name, None);
    attributes.push(Attribute::single(
        UNKNOWN_ATTRIBUTE,
        Value::Text("x".to_owned()),
    ));
    match suite.connector.create(class(suite), attributes).await {
        Ok(created) => {
            suite.remember(&created.uid);
            Err(fail(
                format!("a create with {UNKNOWN_ATTRIBUTE} to be invalid, naming it"),
                format!("created, uid {}", created.uid),
            ))
        }
        Err(e) => match e.connector_error() {
            Some(ConnectorError::Invalid {
                attribute: Some(named),
                ..
            }) if named.eq_ignore_ascii_case(UNKNOWN_ATTRIBUTE) => Ok(()),
            Some(ConnectorError::Invalid { .. }) => Err(fail(
                format!("invalid naming the attribute {UNKNOWN_ATTRIBUTE}"),
                format!("{e}"),
            )),
            _ => Err(fail(
                format!("invalid naming the attribute {UNKNOWN_ATTRIBUTE}"),
                error_case(&e),
            )),
        },
    }
}

/// What `get` and `search` return is in the schema, and nothing the
/// schema says is not returned by default.
fn schema_covers(suite: &Suite<'_>, objects: &[ConnectorObject]) -> CaseResult {
    for object in objects {
        for attribute in &object.attributes {
            let listed = suite
                .class
                .attributes
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(&attribute.name));
            match listed {
                None => {
                    return Err(fail(
                        format!(
                            "every attribute returned to be in the schema of {}",
                            suite.class.name
                        ),
                        format!("{} returned, not listed", attribute.name),
                    ));
                }
                Some(info) if !info.returned_by_default => {
                    return Err(fail(
                        format!("{} not returned unless asked for", info.name),
                        "returned by default".to_owned(),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

async fn get_unknown(suite: &Suite<'_>) -> CaseResult {
    let uid = format!("{}-no-such-object", suite.prefix);
    let outcome = suite
        .connector
        .get(class(suite), uid.clone(), Vec::new())
        .await;
    expect_error(outcome, "not-found", &format!("get {uid}"), |object| {
        format!("an object, uid {}", object.uid)
    })
}

/// The password the suite sets; a complex one, so that directories with a
/// password policy take it.
const SECRET: &str = "Conformance-Secret-1!";

async fn password(suite: &Suite<'_>) -> CaseResult {
    if !sample::accepts_password(&suite.class) {
        return Err(Verdict::Skip(format!(
            "class {} does not list a creatable {PASSWORD}",
            suite.class.name
        )));
    }
    let name = suite.name("secret");
    let mut attributes = suite.object(&name, None);
    attributes.push(Attribute::single(PASSWORD, Value::Text(SECRET.to_owned())));
    let created = suite
        .connector
        .create(class(suite), attributes)
        .await
        .map_err(|e| suite.failed_create("create with a password", &e))?;
    suite.remember(&created.uid);
    let read = get(suite, &created.uid).await?;
    for (what, object) in [("create", &created), ("get", &read)] {
        if object.attribute(PASSWORD).is_some() {
            return Err(fail(
                format!("{what} never to return {PASSWORD}"),
                format!("{what} returned {PASSWORD}"),
            ));
        }
        // Nor under another name (a hash column mapped to an attribute).
        if let Some(leak) = object.attributes.iter().find(|a| {
            a.values
                .iter()
                .any(|v| matches!(v, Value::Text(t) if t.contains(SECRET)))
        }) {
            return Err(fail(
                format!("{what} never to return the password"),
                format!("{what} returned it as {}", leak.name),
            ));
        }
    }
    Ok(())
}

async fn update_replace(suite: &Suite<'_>, object: &ConnectorObject) -> CaseResult {
    let Some(attribute) = suite.single_text() else {
        return Err(Verdict::Skip(
            "the class has no optional single-valued text attribute".to_owned(),
        ));
    };
    let value = Value::Text(format!("{} replaced", suite.prefix));
    let answered = suite
        .connector
        .update(
            class(suite),
            object.uid.clone(),
            vec![AttributeChange::Replace(Attribute::single(
                attribute.name.clone(),
                value.clone(),
            ))],
        )
        .await
        .map_err(|e| failed_call("update replace", &e))?;
    if answered.uid != object.uid {
        return Err(fail(
            format!("the uid to stay {} after an update", object.uid),
            format!("update answered uid {}", answered.uid),
        ));
    }
    let read = get(suite, &object.uid).await?;
    for (what, o) in [("update's answer", &answered), ("get", &read)] {
        let got = values_of(o, &attribute.name);
        if got != [value.clone()] {
            return Err(fail(
                format!("{what}: {} = [{value:?}]", attribute.name),
                format!("{got:?}"),
            ));
        }
    }
    Ok(())
}

async fn update_clears(suite: &Suite<'_>, object: &ConnectorObject) -> CaseResult {
    let Some(attribute) = suite.single_text() else {
        return Err(Verdict::Skip(
            "the class has no optional single-valued text attribute".to_owned(),
        ));
    };
    suite
        .connector
        .update(
            class(suite),
            object.uid.clone(),
            vec![AttributeChange::Replace(Attribute::new(
                attribute.name.clone(),
                Vec::new(),
            ))],
        )
        .await
        .map_err(|e| match e.connector_error() {
            // Some attributes cannot be empty (an RDN): a refusal naming
            // it is the contract's answer, shown as a skip.
            Some(ConnectorError::Invalid {
                attribute: Some(named),
                ..
            }) if named.eq_ignore_ascii_case(&attribute.name) => {
                Verdict::Skip(format!("the connector refuses to clear it: {e}"))
            }
            _ => failed_call("update replacing with no values", &e),
        })?;
    let read = get(suite, &object.uid).await?;
    let got = values_of(&read, &attribute.name);
    let cleared = got.is_empty() || got == [Value::Text(String::new())];
    if !cleared {
        return Err(fail(
            format!("an empty replace to clear {}", attribute.name),
            format!("{got:?}"),
        ));
    }
    Ok(())
}

async fn update_values(suite: &Suite<'_>, object: &ConnectorObject) -> CaseResult {
    let Some(attribute) = suite.multi_text() else {
        return Err(Verdict::Skip(
            "the class has no optional multi-valued text attribute".to_owned(),
        ));
    };
    let (a, b, c) = (
        Value::Text(format!("{} a", suite.prefix)),
        Value::Text(format!("{} b", suite.prefix)),
        Value::Text(format!("{} c", suite.prefix)),
    );
    let change = |values: Vec<Value>, add: bool| {
        let attribute = Attribute::new(attribute.name.clone(), values);
        vec![if add {
            AttributeChange::AddValues(attribute)
        } else {
            AttributeChange::RemoveValues(attribute)
        }]
    };
    let connector = suite.connector;
    for (values, add) in [(vec![a.clone()], true), (vec![b.clone(), c.clone()], true)] {
        connector
            .update(class(suite), object.uid.clone(), change(values, add))
            .await
            .map_err(|e| failed_call("update add-values", &e))?;
    }
    let read = get(suite, &object.uid).await?;
    let expected = sorted(&[a.clone(), b.clone(), c.clone()]);
    let got = sorted(&values_of(&read, &attribute.name));
    if got != expected {
        return Err(fail(
            format!(
                "add-values to add to what is there: {}",
                expected.join(", ")
            ),
            got.join(", "),
        ));
    }
    connector
        .update(
            class(suite),
            object.uid.clone(),
            change(vec![b.clone()], false),
        )
        .await
        .map_err(|e| failed_call("update remove-values", &e))?;
    let read = get(suite, &object.uid).await?;
    let expected = sorted(&[a, c]);
    let got = sorted(&values_of(&read, &attribute.name));
    if got != expected {
        return Err(fail(
            format!(
                "remove-values to remove only what it names: {}",
                expected.join(", ")
            ),
            got.join(", "),
        ));
    }
    Ok(())
}

async fn update_unknown(suite: &Suite<'_>) -> CaseResult {
    let uid = format!("{}-no-such-object", suite.prefix);
    let name = suite
        .single_text()
        .map_or(NAME.to_owned(), |a| a.name.clone());
    let change = AttributeChange::Replace(Attribute::single(name, Value::Text("x".into())));
    let outcome = suite
        .connector
        .update(class(suite), uid.clone(), vec![change])
        .await;
    expect_error(
        outcome,
        "not-found",
        &format!("update of {uid}"),
        |object| format!("an object, uid {}", object.uid),
    )
}

/// The objects paging and filters search among, as `get` reads them.
async fn population(suite: &Suite<'_>) -> Result<Vec<ConnectorObject>, Verdict> {
    let mut objects = Vec::new();
    let words = ["alpha", "beta", "gamma", "delta"];
    let multi = suite.multi_text().map(|a| a.name.clone());
    for i in 0..POPULATION {
        let name = suite.name("p");
        let extra = format!("{} {}", words[i % words.len()], i);
        let extra = (i % 3 != 2).then_some(extra);
        let mut attributes = suite.object(&name, extra.as_deref());
        // Two values where there are two: the value-path filters tell a
        // value matching both conditions from two values matching one each
        // (`alpha 0` on one object; `gamma 10` and `alpha 11` on another).
        if let Some(multi) = &multi
            && i % 3 != 2
        {
            attributes.push(Attribute::new(
                multi.clone(),
                vec![
                    Value::Text(format!("{} {i}", words[i % words.len()])),
                    Value::Text(format!("{} {}", words[(i + 2) % words.len()], i + 1)),
                ],
            ));
        }
        let created = create_with(suite, &name, attributes).await?;
        objects.push(get(suite, &created.uid).await?);
    }
    Ok(objects)
}

/// The filter that selects the run's population.
fn population_filter(suite: &Suite<'_>) -> String {
    format!("name sw \"{}-p\"", suite.prefix)
}

/// Every object `filter` pages out at `size`, in order, and the largest
/// page seen.
async fn page_all(
    suite: &Suite<'_>,
    filter: &str,
    size: u32,
) -> Result<(Vec<ConnectorObject>, usize), crate::runtime::CallError> {
    let mut request = SearchRequest {
        class: class(suite),
        filter: Some(filter.to_owned()),
        page: PageRequest { size, cookie: None },
        attributes: Vec::new(),
    };
    let (mut objects, mut largest) = (Vec::new(), 0);
    for _ in 0..MAX_PAGES {
        let page = suite.connector.search(request.clone()).await?;
        largest = largest.max(page.objects.len());
        objects.extend(page.objects);
        match page.cookie {
            Some(cookie) => request.page.cookie = Some(cookie),
            None => break,
        }
    }
    Ok((objects, largest))
}

fn uids(objects: &[ConnectorObject]) -> Vec<String> {
    objects.iter().map(|o| o.uid.clone()).collect()
}

fn exactly_once(expected: &BTreeSet<String>, got: &[String]) -> Result<(), String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for uid in got {
        *seen.entry(uid).or_default() += 1;
    }
    let twice: Vec<&str> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(u, _)| *u)
        .collect();
    let missing: Vec<&str> = expected
        .iter()
        .filter(|u| !seen.contains_key(u.as_str()))
        .map(String::as_str)
        .collect();
    if twice.is_empty() && missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "missing [{}], more than once [{}]",
        missing.join(", "),
        twice.join(", ")
    ))
}

async fn paging(suite: &Suite<'_>, objects: &[ConnectorObject], size: u32) -> CaseResult {
    let filter = population_filter(suite);
    let (got, largest) = match page_all(suite, &filter, size).await {
        Ok(found) => found,
        Err(e) if is_refusal(&e) => {
            return Err(Verdict::Skip(format!(
                "the connector refused `{filter}`: {e}"
            )));
        }
        Err(e) => return Err(failed_call(&format!("search `{filter}`"), &e)),
    };
    if largest > size as usize {
        return Err(fail(
            format!("pages of at most {size} objects"),
            format!("a page of {largest}"),
        ));
    }
    let expected: BTreeSet<String> = uids(objects).into_iter().collect();
    exactly_once(&expected, &uids(&got)).map_err(|observed| {
        fail(
            format!(
                "each of the {} objects exactly once at page size {size}",
                expected.len()
            ),
            observed,
        )
    })?;
    let extra: Vec<String> = uids(&got)
        .into_iter()
        .filter(|u| !expected.contains(u))
        .collect();
    if !extra.is_empty() {
        return Err(fail(
            format!("only objects matching `{filter}`"),
            format!("also {}", extra.join(", ")),
        ));
    }
    Ok(())
}

async fn paging_while_adding(suite: &Suite<'_>, objects: &[ConnectorObject]) -> CaseResult {
    let filter = population_filter(suite);
    // One object is created after the first page was read; paging then
    // goes on from the first page's cookie.
    let added_name = suite.name("p");
    let mut request = SearchRequest {
        class: class(suite),
        filter: Some(filter.clone()),
        page: PageRequest {
            size: 5,
            cookie: None,
        },
        attributes: Vec::new(),
    };
    let mut got = Vec::new();
    let first = suite
        .connector
        .search(request.clone())
        .await
        .map_err(|e| failed_call(&format!("search `{filter}`"), &e))?;
    got.extend(uids(&first.objects));
    let added = create(suite, &added_name, None).await?;
    let mut cookie = first.cookie;
    let mut pages = 1;
    while let Some(next) = cookie.take() {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(fail("the cookies to end", format!("{MAX_PAGES} pages")));
        }
        request.page.cookie = Some(next);
        let page = suite
            .connector
            .search(request.clone())
            .await
            .map_err(|e| failed_call("the next page", &e))?;
        got.extend(uids(&page.objects));
        cookie = page.cookie;
    }
    got.retain(|u| u != &added.uid);
    // The population the filter cases compare against stays as it was.
    if let Err(e) = suite
        .connector
        .delete(class(suite), added.uid.clone())
        .await
    {
        return Err(failed_call(&format!("delete {}", added.uid), &e));
    }
    suite.forget(&added.uid);
    let expected: BTreeSet<String> = uids(objects).into_iter().collect();
    exactly_once(&expected, &got).map_err(|observed| {
        fail(
            "each object that existed before paging exactly once, though one was added between pages",
            observed,
        )
    })
}

/// Each operator, over the population, against the reference evaluator.
async fn filters(suite: &Suite<'_>, objects: &[ConnectorObject]) -> Vec<(String, CaseResult)> {
    let scope = population_filter(suite);
    let text = suite.single_text().map(|a| a.name.clone());
    let mut cases: Vec<(&str, String)> = Vec::new();
    let name0 = objects.first().map(|o| o.name.clone()).unwrap_or_default();
    cases.push(("eq", format!("name eq \"{name0}\"")));
    cases.push(("ne", format!("name ne \"{name0}\"")));
    if let Some(text) = &text {
        cases.extend([
            ("co", format!("{text} co \"amm\"")),
            ("sw", format!("{text} sw \"beta\"")),
            ("ew", format!("{text} ew \"1\"")),
            ("pr", format!("{text} pr")),
            ("gt", format!("{text} gt \"delta\"")),
            ("ge", format!("{text} ge \"delta\"")),
            ("lt", format!("{text} lt \"beta 9\"")),
            ("le", format!("{text} le \"beta 1\"")),
            ("and", format!("{text} sw \"alpha\" and {text} ew \"4\"")),
            ("or", format!("{text} sw \"alpha\" or {text} sw \"delta\"")),
            ("not", format!("not ({text} sw \"gamma\")")),
        ]);
    }
    let multi = suite.multi_text().map(|a| a.name.clone());
    if let Some(multi) = &multi {
        cases.extend([
            ("value-path", format!("{multi}[value sw \"gamma\"]")),
            (
                "value-path.one-value-both",
                format!("{multi}[value sw \"alpha\" and value ew \"0\"]"),
            ),
        ]);
    }
    let mut out = Vec::new();
    for (operator, expression) in cases {
        let name = format!("filter.{operator}");
        let full = format!("{scope} and ({expression})");
        let Ok(parsed) = provisio_filter::parse(&full) else {
            out.push((name, Err(fail("the suite's filter to parse", full))));
            continue;
        };
        let expected: BTreeSet<String> = objects
            .iter()
            .filter(|o| provisio_filter::matches(&parsed, *o))
            .map(|o| o.uid.clone())
            .collect();
        let result = match page_all(suite, &full, 100).await {
            Ok((got, _)) => {
                let got: BTreeSet<String> = uids(&got).into_iter().collect();
                if got == expected {
                    Ok(())
                } else {
                    Err(fail(
                        format!(
                            "`{expression}` to match {} of the objects: [{}]",
                            expected.len(),
                            names(objects, &expected)
                        ),
                        format!("[{}]", names(objects, &got)),
                    ))
                }
            }
            Err(e) if is_refusal(&e) => Err(Verdict::Skip(format!("refused: {e}"))),
            Err(e) => Err(failed_call(&format!("search `{full}`"), &e)),
        };
        out.push((name, result));
    }
    if text.is_none() {
        out.push((
            "filter.text-operators".to_owned(),
            Err(Verdict::Skip(
                "the class has no optional single-valued text attribute".to_owned(),
            )),
        ));
    }
    if multi.is_none() {
        out.push((
            "filter.value-path".to_owned(),
            Err(Verdict::Skip(
                "the class has no optional multi-valued text attribute".to_owned(),
            )),
        ));
    }
    out
}

fn names(objects: &[ConnectorObject], uids: &BTreeSet<String>) -> String {
    let mut out: Vec<String> = uids
        .iter()
        .map(|u| {
            objects
                .iter()
                .find(|o| &o.uid == u)
                .map_or_else(|| u.clone(), |o| o.name.clone())
        })
        .collect();
    out.sort();
    out.join(", ")
}

async fn count(suite: &Suite<'_>, objects: &[ConnectorObject]) -> CaseResult {
    let filter = population_filter(suite);
    let counted = suite
        .connector
        .count(CountRequest {
            class: class(suite),
            filter: Some(filter.clone()),
        })
        .await
        .map_err(|e| failed_call(&format!("count `{filter}`"), &e))?;
    let (paged, _) = page_all(suite, &filter, 100)
        .await
        .map_err(|e| failed_call(&format!("search `{filter}`"), &e))?;
    if counted as usize != paged.len() || paged.len() < objects.len() {
        return Err(fail(
            format!(
                "count `{filter}` to be what search pages out ({})",
                paged.len()
            ),
            format!("{counted}"),
        ));
    }
    Ok(())
}

/// Sync depends on configuration (a change-timestamp column, a change
/// log): a connector that declares it and says clearly that this target
/// cannot is skipped with its reason, not failed.
fn declared_but_unsupported(error: &crate::runtime::CallError) -> Option<Verdict> {
    matches!(
        error.connector_error(),
        Some(ConnectorError::Unsupported { .. })
    )
    .then(|| Verdict::Skip(format!("declared, but this target cannot: {error}")))
}

/// Every delta after `token`, following `has_more`.
async fn deltas_after(
    suite: &Suite<'_>,
    token: Option<String>,
) -> Result<(Vec<crate::model::SyncDelta>, String), Verdict> {
    let mut token = token;
    let mut deltas = Vec::new();
    for _ in 0..MAX_SYNC_BATCHES {
        let batch = suite
            .connector
            .sync(SyncRequest {
                class: class(suite),
                token: token.clone(),
                max_deltas: 500,
            })
            .await
            .map_err(|e| declared_but_unsupported(&e).unwrap_or_else(|| failed_call("sync", &e)))?;
        deltas.extend(batch.deltas);
        token = Some(batch.token.clone());
        if !batch.has_more {
            return Ok((deltas, batch.token));
        }
    }
    Err(fail(
        "sync to reach the end",
        format!("{MAX_SYNC_BATCHES} batches with has-more"),
    ))
}

/// Deltas after `token` until one concerns `uid` or [`SYNC_SETTLE`]
/// passes: a connector may hold back changes younger than a settling time
/// (the SQL connector's is a second), so that a slow transaction is not
/// skipped.
async fn deltas_concerning(
    suite: &Suite<'_>,
    token: Option<String>,
    uid: &str,
) -> Result<(Vec<crate::model::SyncDelta>, String), Verdict> {
    let deadline = Instant::now() + SYNC_SETTLE;
    loop {
        let (deltas, next) = deltas_after(suite, token.clone()).await?;
        if deltas.iter().any(|d| d.uid == uid) || Instant::now() >= deadline {
            return Ok((deltas, next));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A change, then the deltas since the token before it: exactly one for
/// the object, of an accepted kind. Each step is read on its own, so a
/// connector that compares snapshots (and cannot see a create and delete
/// between two reads) is held to what it can know.
async fn sync_step(
    suite: &Suite<'_>,
    token: String,
    uid: &str,
    what: &str,
    accepted: &[DeltaKind],
) -> Result<String, Verdict> {
    let (deltas, next) = deltas_concerning(suite, Some(token), uid).await?;
    let kinds: Vec<DeltaKind> = deltas
        .iter()
        .filter(|d| d.uid == uid)
        .map(|d| d.kind)
        .collect();
    if kinds.len() != 1 || !accepted.contains(&kinds[0]) {
        return Err(fail(
            format!(
                "one delta ({accepted:?}) for {uid} after {what}, within {} s",
                SYNC_SETTLE.as_secs()
            ),
            format!("{kinds:?}"),
        ));
    }
    if deltas.iter().any(|d| d.token.is_empty()) {
        return Err(fail("every delta to carry a token", "an empty token"));
    }
    Ok(next)
}

/// The token now, having checked that it skips what exists.
async fn fresh_token(suite: &Suite<'_>) -> Result<String, Verdict> {
    let start = suite
        .connector
        .latest_sync_token(class(suite))
        .await
        .map_err(|e| {
            declared_but_unsupported(&e).unwrap_or_else(|| failed_call("latest-sync-token", &e))
        })?;
    let (before, token) = deltas_after(suite, Some(start)).await?;
    if before.iter().any(|d| d.uid.starts_with(&suite.prefix)) {
        return Err(fail(
            "latest-sync-token to skip what existed",
            "changes made before the token were reported",
        ));
    }
    Ok(token)
}

async fn sync_changes(suite: &Suite<'_>) -> CaseResult {
    let token = fresh_token(suite).await?;
    let name = suite.name("s");
    let created = create(suite, &name, Some("synced")).await?;
    // A create may be reported as an update of an object new to the reader.
    let token = sync_step(
        suite,
        token,
        &created.uid,
        "a create",
        &[DeltaKind::Create, DeltaKind::Update],
    )
    .await?;
    let (after, token) = deltas_after(suite, Some(token)).await?;
    if after.iter().any(|d| d.uid == created.uid) {
        return Err(fail(
            format!("a change to {} reported once", created.uid),
            "reported again from the token after it",
        ));
    }
    if let (Some(attribute), true) = (suite.single_text(), suite.info.capabilities.update) {
        suite
            .connector
            .update(
                class(suite),
                created.uid.clone(),
                vec![AttributeChange::Replace(Attribute::single(
                    attribute.name.clone(),
                    Value::Text("synced again".into()),
                ))],
            )
            .await
            .map_err(|e| failed_call("update", &e))?;
        sync_step(
            suite,
            token,
            &created.uid,
            "an update",
            &[DeltaKind::Update],
        )
        .await?;
    }
    Ok(())
}

async fn sync_deletes(suite: &Suite<'_>) -> CaseResult {
    let token = fresh_token(suite).await?;
    let name = suite.name("s");
    let created = create(suite, &name, None).await?;
    // Read past the create first (once it shows), so that only the
    // delete follows the token.
    let (_, token) = deltas_concerning(suite, Some(token), &created.uid).await?;
    suite
        .connector
        .delete(class(suite), created.uid.clone())
        .await
        .map_err(|e| failed_call("delete", &e))?;
    suite.forget(&created.uid);
    sync_step(suite, token, &created.uid, "a delete", &[DeltaKind::Delete]).await?;
    Ok(())
}

async fn sync_from_start(suite: &Suite<'_>) -> CaseResult {
    let name = suite.name("s");
    let created = create(suite, &name, None).await?;
    let (deltas, _) = deltas_concerning(suite, None, &created.uid).await?;
    let reported = deltas
        .iter()
        .any(|d| d.uid == created.uid && d.kind != DeltaKind::Delete);
    if !reported {
        return Err(fail(
            format!(
                "sync from no token to report {} (it exists), within {} s",
                created.uid,
                SYNC_SETTLE.as_secs()
            ),
            format!("{} deltas, none for it", deltas.len()),
        ));
    }
    Ok(())
}

async fn delete(suite: &Suite<'_>) -> CaseResult {
    let name = suite.name("x");
    let created = create(suite, &name, None).await?;
    suite
        .connector
        .delete(class(suite), created.uid.clone())
        .await
        .map_err(|e| failed_call("delete", &e))?;
    suite.forget(&created.uid);
    let read = suite
        .connector
        .get(class(suite), created.uid.clone(), Vec::new())
        .await;
    expect_error(read, "not-found", "get after delete", |_| {
        "the object".to_owned()
    })?;
    let again = suite
        .connector
        .delete(class(suite), created.uid.clone())
        .await;
    expect_error(again, "not-found", "a second delete", |()| {
        "it succeeded".to_owned()
    })
}

/// A call that must fail with the contract's `code` (`not-found`,
/// `already-exists`): passing when it does, failing with what it did
/// instead (`succeeded` says what a success brought).
fn expect_error<T>(
    outcome: Result<T, crate::runtime::CallError>,
    code: &str,
    what: &str,
    succeeded: impl FnOnce(T) -> String,
) -> CaseResult {
    match outcome {
        Ok(value) => Err(fail(format!("{what} to be {code}"), succeeded(value))),
        Err(e) if error_case(&e) == code => Ok(()),
        Err(e) => Err(fail(format!("{what} to be {code}"), error_case(&e))),
    }
}
