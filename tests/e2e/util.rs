//! Small helpers the connector tests share.

use provisio_host::model::{
    Attribute, AttributeChange, ConnectorError, ConnectorObject, PageRequest, SearchRequest, Value,
};
use provisio_host::runtime::{CallError, Connector};

/// A single-valued text attribute.
pub fn text(name: &str, value: &str) -> Attribute {
    Attribute::single(name, Value::Text(value.into()))
}

/// The values of an attribute, none when it is absent.
pub fn values(object: &ConnectorObject, name: &str) -> Vec<Value> {
    object
        .attribute(name)
        .map(|a| a.values.clone())
        .unwrap_or_default()
}

/// The connector error's code, or a marker when the call failed otherwise.
pub fn code(error: &CallError) -> &'static str {
    error
        .connector_error()
        .map_or("(not a connector error)", ConnectorError::code)
}

/// A host object as uid, name and sorted `name=values` lines: what a
/// connector run natively (`provisio_sdk::testing`) must answer alike.
pub fn seen_host(object: &ConnectorObject) -> Seen {
    let mut attributes: Vec<String> = object
        .attributes
        .iter()
        .map(|a| format!("{}={:?}", a.name, a.values))
        .collect();
    attributes.sort();
    (object.uid.clone(), object.name.clone(), attributes)
}

/// [`seen_host`] of an object a connector answered natively.
pub fn seen_native(object: &provisio_sdk::ConnectorObject) -> Seen {
    let mut attributes: Vec<String> = object
        .attributes
        .iter()
        .map(|a| {
            let values: Vec<Value> = a
                .values
                .iter()
                .map(|v| match v {
                    provisio_sdk::Value::Text(t) => Value::Text(t.clone()),
                    provisio_sdk::Value::Reference(r) => Value::Reference(r.clone()),
                    provisio_sdk::Value::Integer(i) => Value::Integer(*i),
                    provisio_sdk::Value::Boolean(b) => Value::Boolean(*b),
                    provisio_sdk::Value::Binary(b) => Value::Binary(b.clone()),
                })
                .collect();
            format!("{}={values:?}", a.name)
        })
        .collect();
    attributes.sort();
    (object.uid.clone(), object.name.clone(), attributes)
}

/// Host attributes as the SDK's, for a connector called natively.
pub fn native_attributes(attributes: Vec<Attribute>) -> Vec<provisio_sdk::Attribute> {
    attributes
        .into_iter()
        .map(|a| provisio_sdk::Attribute {
            name: a.name,
            values: a
                .values
                .into_iter()
                .map(|v| match v {
                    Value::Text(t) => provisio_sdk::Value::Text(t),
                    Value::Reference(r) => provisio_sdk::Value::Reference(r),
                    Value::Integer(i) => provisio_sdk::Value::Integer(i),
                    Value::Boolean(b) => provisio_sdk::Value::Boolean(b),
                    Value::Binary(b) => provisio_sdk::Value::Binary(b),
                })
                .collect(),
        })
        .collect()
}

/// The calls a host recording is made of and a connector's native unit
/// test replays (`provisio_sdk::testing`): create, read back, search,
/// update, and optionally delete, of one object.
pub struct Replayed {
    pub class: &'static str,
    pub create: Vec<Attribute>,
    /// An RFC 7644 filter that finds the created object.
    pub filter: &'static str,
    pub change: AttributeChange,
    pub delete: bool,
}

/// What each call of a [`Replayed`] answered, as [`seen_host`] shows it.
#[derive(Debug, PartialEq)]
pub struct Answers {
    pub created: Seen,
    pub read: Seen,
    pub found: Vec<Seen>,
    pub updated: Seen,
}

/// uid, name and sorted `name=values` lines.
pub type Seen = (String, String, Vec<String>);

impl Replayed {
    /// Runs the calls through the host (the recording is made here).
    pub async fn on_host(&self, connector: &Connector) -> Answers {
        let created = connector
            .create(self.class, self.create.clone())
            .await
            .unwrap();
        let read = connector
            .get(self.class, &created.uid, vec![])
            .await
            .unwrap();
        let found = connector
            .search(SearchRequest {
                class: self.class.into(),
                filter: Some(self.filter.into()),
                page: PageRequest {
                    size: 10,
                    cookie: None,
                },
                attributes: vec![],
            })
            .await
            .unwrap();
        let updated = connector
            .update(self.class, &created.uid, vec![self.change.clone()])
            .await
            .unwrap();
        if self.delete {
            connector.delete(self.class, &created.uid).await.unwrap();
        }
        Answers {
            created: seen_host(&created),
            read: seen_host(&read),
            found: found.objects.iter().map(seen_host).collect(),
            updated: seen_host(&updated),
        }
    }

    /// Runs the same calls on a connector built natively, opened on a
    /// `provisio_sdk::testing::Fake` that replays the recording.
    pub fn natively(&self, connector: &mut impl provisio_sdk::Connector) -> Answers {
        let created = connector
            .create(self.class, native_attributes(self.create.clone()))
            .unwrap();
        let read = connector.get(self.class, &created.uid, &[]).unwrap();
        let found = connector
            .search(provisio_sdk::Query {
                class: self.class.into(),
                filter: Some(provisio_sdk::filter::parse(self.filter).unwrap()),
                page: provisio_sdk::PageRequest {
                    size: 10,
                    cookie: None,
                },
                attributes: vec![],
            })
            .unwrap();
        let native = |a: &Attribute| native_attributes(vec![a.clone()]).remove(0);
        let change = match &self.change {
            AttributeChange::Replace(a) => provisio_sdk::AttributeChange::Replace(native(a)),
            AttributeChange::AddValues(a) => provisio_sdk::AttributeChange::AddValues(native(a)),
            AttributeChange::RemoveValues(a) => {
                provisio_sdk::AttributeChange::RemoveValues(native(a))
            }
        };
        let updated = connector
            .update(self.class, &created.uid, vec![change])
            .unwrap();
        if self.delete {
            connector.delete(self.class, &created.uid).unwrap();
        }
        Answers {
            created: seen_native(&created),
            read: seen_native(&read),
            found: found.objects.iter().map(seen_native).collect(),
            updated: seen_native(&updated),
        }
    }
}
