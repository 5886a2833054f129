//! Operation requests as callers submit them, their validation, and the
//! work they become.

use crate::model::{Attribute, AttributeChange, ObjectSchema, names};
pub use crate::store::OperationKind;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// Attributes as a JSON object (see the model's JSON shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(#[serde(with = "crate::model::json_attributes")] pub Vec<Attribute>);

/// A submitted operation, as JSON.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationRequest {
    pub kind: OperationKind,
    /// The caller's key for the account (an employee number, a username):
    /// Provisio links it to the account's uid on the target.
    pub identity: String,
    /// The object class; the target's default class when absent.
    #[serde(default)]
    pub class: Option<String>,
    /// For `create`: the account's attributes.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Attributes>,
    /// For `update`: `[{"op": "replace"|"add"|"remove", "name": …, "values": …}]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub changes: Option<Vec<AttributeChange>>,
    /// For `add-member` and `remove-member`: the group's uid on the target.
    #[serde(default)]
    pub group: Option<String>,
    /// For `set-password`. Stored encrypted until the operation ends, never
    /// shown.
    #[serde(default)]
    pub password: Option<String>,
    /// A repeated submission with the same key returns the first operation.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// A request that cannot be accepted, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: String,
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError {
        field: field.into(),
        message: message.into(),
    }
}

/// The work an operation does, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    Create(Vec<Attribute>),
    Update(Vec<AttributeChange>),
    Delete,
    Enable,
    Disable,
    SetPassword(String),
    AddMember(String),
    RemoveMember(String),
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct Validated {
    pub kind: OperationKind,
    pub identity: String,
    pub class: String,
    /// The payload with the password shown as `***`: what is stored in clear.
    pub redacted: Json,
    /// The password, when the operation sets one: sealed at rest.
    pub secret: Option<String>,
    pub idempotency_key: Option<String>,
}

const WELL_KNOWN: [&str; 4] = [names::NAME, names::ENABLE, names::PASSWORD, names::GROUPS];

/// What a target checks a request against.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The class an operation addresses when it names none.
    pub default_class: &'a str,
    /// The connector's schema, when it reports one.
    pub schema: Option<&'a ObjectSchema>,
    /// Attributes (or changes) one operation may carry.
    pub max_attributes: usize,
}

impl Rules<'_> {
    /// `class` as the target spells it: class names compare ignoring case
    /// (as the schema check always did), so every record of one class
    /// carries one spelling and the link checks see them all. The schema's
    /// spelling when it lists the class, the default class's when it is
    /// that one, else lower case.
    pub fn class_name(&self, class: &str) -> String {
        if let Some(listed) = self.schema.and_then(|s| {
            s.classes
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(class))
        }) {
            return listed.name.clone();
        }
        if class.eq_ignore_ascii_case(self.default_class) {
            return self.default_class.to_owned();
        }
        class.to_ascii_lowercase()
    }
}

impl OperationRequest {
    /// Checks the request against the target's rules: its default class,
    /// its schema when the connector reports one, its limits.
    pub fn validate(self, rules: &Rules<'_>) -> Result<Validated, RequestError> {
        let schema = rules.schema;
        let identity = self.identity.trim().to_owned();
        if identity.is_empty() || identity.len() > 256 {
            return Err(bad("identity", "must be 1 to 256 characters"));
        }
        let class = rules.class_name(self.class.as_deref().unwrap_or(rules.default_class));
        let carried = match (&self.attributes, &self.changes) {
            (Some(a), _) => a.0.len(),
            (None, Some(c)) => c.len(),
            (None, None) => 0,
        };
        if carried > rules.max_attributes {
            let field = if self.attributes.is_some() {
                "attributes"
            } else {
                "changes"
            };
            return Err(bad(
                field,
                format!(
                    "{carried} is more than the {} one operation may carry on this target (max_attributes)",
                    rules.max_attributes
                ),
            ));
        }
        if let Some(key) = &self.idempotency_key
            && (key.is_empty() || key.len() > 200)
        {
            return Err(bad("idempotency_key", "must be 1 to 200 characters"));
        }
        let class_info = match schema {
            Some(schema) => Some(
                schema
                    .classes
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(&class))
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            schema.classes.iter().map(|c| c.name.as_str()).collect();
                        bad(
                            "class",
                            format!(
                                "unknown class `{class}` (the target has: {})",
                                known.join(", ")
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        let kind = self.kind;
        let only = |field: &str, present: bool, wanted: &[OperationKind]| {
            if present && !wanted.contains(&kind) {
                let names: Vec<&str> = wanted.iter().map(OperationKind::as_str).collect();
                return Err(bad(field, format!("is only for {}", names.join(" and "))));
            }
            Ok(())
        };
        only(
            "attributes",
            self.attributes.is_some(),
            &[OperationKind::Create],
        )?;
        only("changes", self.changes.is_some(), &[OperationKind::Update])?;
        only(
            "password",
            self.password.is_some(),
            &[OperationKind::SetPassword],
        )?;
        only(
            "group",
            self.group.is_some(),
            &[OperationKind::AddMember, OperationKind::RemoveMember],
        )?;

        let check_name = |field: &str, name: &str, for_create: bool| -> Result<(), RequestError> {
            if name.trim().is_empty() {
                return Err(bad(field, "an attribute name is empty"));
            }
            if WELL_KNOWN.iter().any(|w| w.eq_ignore_ascii_case(name)) {
                return Ok(());
            }
            let Some(info) = class_info else {
                return Ok(());
            };
            let Some(attribute) = info
                .attributes
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
            else {
                let known: Vec<&str> = info.attributes.iter().map(|a| a.name.as_str()).collect();
                return Err(bad(
                    format!("{field}.{name}"),
                    format!(
                        "unknown attribute of class {} (attributes: {})",
                        info.name,
                        known.join(", ")
                    ),
                ));
            };
            let writable = if for_create {
                attribute.creatable
            } else {
                attribute.updatable
            };
            if !writable {
                return Err(bad(
                    format!("{field}.{name}"),
                    if for_create {
                        "cannot be set"
                    } else {
                        "cannot be changed"
                    },
                ));
            }
            Ok(())
        };

        let (redacted, secret) = match kind {
            OperationKind::Create => {
                let attributes = self
                    .attributes
                    .ok_or_else(|| bad("attributes", "create needs attributes"))?;
                if attributes.0.is_empty() {
                    return Err(bad("attributes", "create needs at least one attribute"));
                }
                for a in &attributes.0 {
                    check_name("attributes", &a.name, true)?;
                }
                let secret = password_of(attributes.0.iter(), "attributes")?;
                (json!({ "attributes": attributes }), secret)
            }
            OperationKind::Update => {
                let changes = self
                    .changes
                    .ok_or_else(|| bad("changes", "update needs changes"))?;
                if changes.is_empty() {
                    return Err(bad("changes", "update needs at least one change"));
                }
                for c in &changes {
                    check_name("changes", &c.attribute().name, false)?;
                }
                let secret =
                    password_of(changes.iter().map(AttributeChange::attribute), "changes")?;
                (json!({ "changes": changes }), secret)
            }
            OperationKind::SetPassword => {
                let password = self
                    .password
                    .ok_or_else(|| bad("password", "set-password needs a password"))?;
                if password.is_empty() {
                    return Err(bad("password", "must not be empty"));
                }
                (json!({ "password": "***" }), Some(password))
            }
            OperationKind::AddMember | OperationKind::RemoveMember => {
                let group = self
                    .group
                    .ok_or_else(|| bad("group", format!("{kind} needs a group")))?;
                if group.trim().is_empty() {
                    return Err(bad("group", "must not be empty"));
                }
                (json!({ "group": group }), None)
            }
            OperationKind::Delete | OperationKind::Enable | OperationKind::Disable => {
                (json!({}), None)
            }
        };
        Ok(Validated {
            kind,
            identity,
            class,
            redacted,
            secret,
            idempotency_key: self.idempotency_key,
        })
    }
}

/// The one text value of `__password__` among `attributes`, if any.
fn password_of<'a>(
    mut attributes: impl Iterator<Item = &'a Attribute>,
    field: &str,
) -> Result<Option<String>, RequestError> {
    let Some(attribute) = attributes.find(|a| a.is_secret()) else {
        return Ok(None);
    };
    match attribute.values.as_slice() {
        [crate::model::Value::Text(password)] if !password.is_empty() => Ok(Some(password.clone())),
        _ => Err(bad(
            format!("{field}.{}", names::PASSWORD),
            "must be exactly one non-empty text value",
        )),
    }
}

/// Whether a stored operation carries a password (sealed while it is open,
/// erased once it ends): read from its kind and the structure of its
/// redacted payload, matching `__password__` as every other check does.
pub fn carries_password(kind: OperationKind, payload: &Json) -> bool {
    let secret_in = |field: &str| {
        let Some(value) = payload.get(field) else {
            return false;
        };
        match kind {
            OperationKind::Create => serde_json::from_value::<Attributes>(value.clone())
                .map(|a| a.0.iter().any(Attribute::is_secret))
                .unwrap_or(true),
            _ => serde_json::from_value::<Vec<AttributeChange>>(value.clone())
                .map(|changes| changes.iter().any(|c| c.attribute().is_secret()))
                .unwrap_or(true),
        }
    };
    match kind {
        OperationKind::SetPassword => true,
        OperationKind::Create => secret_in("attributes"),
        OperationKind::Update => secret_in("changes"),
        _ => false,
    }
}

impl Work {
    /// The password this work sends, if it sends one.
    pub fn password(&self) -> Option<&str> {
        fn text_of<'a>(mut attributes: impl Iterator<Item = &'a Attribute>) -> Option<&'a str> {
            attributes
                .find(|a| a.is_secret())
                .and_then(|a| a.values.first())
                .and_then(|v| match v {
                    crate::model::Value::Text(t) => Some(t.as_str()),
                    _ => None,
                })
        }
        match self {
            Work::SetPassword(password) => Some(password),
            Work::Create(attributes) => text_of(attributes.iter()),
            Work::Update(changes) => text_of(changes.iter().map(AttributeChange::attribute)),
            _ => None,
        }
    }

    /// Rebuilds the work from a stored (redacted) payload and the unsealed
    /// password, when the operation has one.
    pub fn from_payload(
        kind: OperationKind,
        payload: &Json,
        password: Option<&str>,
    ) -> Result<Work, String> {
        let field = |name: &str| {
            payload
                .get(name)
                .cloned()
                .ok_or_else(|| format!("payload has no `{name}`"))
        };
        let parse = |e: serde_json::Error| format!("payload: {e}");
        // A stored payload holds `***` where the password was: it is put
        // back from the sealed secret, and never sent as it is.
        let reveal = |attribute: &mut Attribute| -> Result<(), String> {
            if attribute.is_secret() {
                let password = password.ok_or("the sealed password is missing")?;
                attribute.values = vec![crate::model::Value::Text(password.to_owned())];
            }
            Ok(())
        };
        Ok(match kind {
            OperationKind::Create => {
                let mut attributes = serde_json::from_value::<Attributes>(field("attributes")?)
                    .map_err(parse)?
                    .0;
                attributes.iter_mut().try_for_each(reveal)?;
                Work::Create(attributes)
            }
            OperationKind::Update => {
                let mut changes: Vec<AttributeChange> =
                    serde_json::from_value(field("changes")?).map_err(parse)?;
                for change in &mut changes {
                    match change {
                        AttributeChange::Replace(a)
                        | AttributeChange::AddValues(a)
                        | AttributeChange::RemoveValues(a) => reveal(a)?,
                    }
                }
                Work::Update(changes)
            }
            OperationKind::Delete => Work::Delete,
            OperationKind::Enable => Work::Enable,
            OperationKind::Disable => Work::Disable,
            OperationKind::SetPassword => {
                Work::SetPassword(password.ok_or("the sealed password is missing")?.to_owned())
            }
            OperationKind::AddMember => {
                Work::AddMember(serde_json::from_value(field("group")?).map_err(parse)?)
            }
            OperationKind::RemoveMember => {
                Work::RemoveMember(serde_json::from_value(field("group")?).map_err(parse)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttributeInfo, ClassInfo, Value, ValueType};

    pub(super) fn schema() -> ObjectSchema {
        let attribute = |name: &str, updatable: bool| AttributeInfo {
            name: name.into(),
            value_type: ValueType::Text,
            multi_valued: false,
            required: false,
            readable: true,
            creatable: true,
            updatable,
            returned_by_default: true,
            description: None,
        };
        ObjectSchema {
            classes: vec![ClassInfo {
                name: "account".into(),
                attributes: vec![
                    attribute("id", false),
                    attribute("userName", true),
                    attribute("mail", true),
                ],
                description: None,
            }],
        }
    }

    fn request(json: Json) -> Result<Validated, RequestError> {
        let schema = schema();
        serde_json::from_value::<OperationRequest>(json)
            .unwrap()
            .validate(&Rules {
                default_class: "account",
                schema: Some(&schema),
                max_attributes: 3,
            })
    }

    #[test]
    fn a_redacted_password_is_never_sent() {
        let v = request(json!({"kind": "create", "identity": "e1",
            "attributes": {"id": "1", "__Password__": "s3cret"}}))
        .unwrap();
        assert!(
            carries_password(v.kind, &v.redacted),
            "found whatever its case"
        );
        let e = Work::from_payload(v.kind, &v.redacted, None).unwrap_err();
        assert!(e.contains("sealed password is missing"), "{e}");
        let work = Work::from_payload(v.kind, &v.redacted, Some("s3cret")).unwrap();
        assert!(
            matches!(work, Work::Create(a) if a.iter().any(|a| a.values == vec![Value::Text("s3cret".into())]))
        );
        let update = request(json!({"kind": "update", "identity": "e1",
            "changes": [{"op": "replace", "name": "__PASSWORD__", "values": "x"}]}))
        .unwrap();
        assert!(carries_password(update.kind, &update.redacted));
        assert!(Work::from_payload(update.kind, &update.redacted, None).is_err());
    }

    #[test]
    fn class_names_take_the_targets_spelling() {
        let v = request(json!({"kind": "delete", "identity": "e1", "class": "ACCOUNT"})).unwrap();
        assert_eq!(v.class, "account");
        let rules = Rules {
            default_class: "User",
            schema: None,
            max_attributes: 3,
        };
        assert_eq!(rules.class_name("USER"), "User");
        assert_eq!(rules.class_name("Group"), "group");
    }

    #[test]
    fn an_operation_carries_a_bounded_number_of_attributes() {
        let e = request(json!({"kind": "create", "identity": "e1",
            "attributes": {"id": "1", "userName": "a", "mail": "m", "__enable__": true}}))
        .unwrap_err();
        assert_eq!(e.field, "attributes");
        assert!(e.message.contains("more than the 3"), "{e}");
        let changes: Vec<Json> = (0..4)
            .map(|_| json!({"op": "replace", "name": "mail", "values": "x"}))
            .collect();
        let e =
            request(json!({"kind": "update", "identity": "e1", "changes": changes})).unwrap_err();
        assert_eq!(e.field, "changes");
    }

    #[test]
    fn passwords_are_redacted_and_kept_apart() {
        let v = request(json!({"kind": "create", "identity": " e1 ",
            "attributes": {"id": "1", "__password__": "Secr3t!", "mail": "a@x"}}))
        .unwrap();
        assert_eq!(v.identity, "e1");
        assert_eq!(v.secret.as_deref(), Some("Secr3t!"));
        assert!(
            !v.redacted.to_string().contains("Secr3t!"),
            "{}",
            v.redacted
        );
        let Work::Create(attributes) =
            Work::from_payload(v.kind, &v.redacted, v.secret.as_deref()).unwrap()
        else {
            panic!()
        };
        assert_eq!(attributes[1].values, [Value::Text("Secr3t!".into())]);
    }

    #[test]
    fn bad_requests_name_the_field() {
        let e =
            request(json!({"kind": "create", "identity": "e1", "attributes": {"shoeSize": "44"}}))
                .unwrap_err();
        assert_eq!(e.field, "attributes.shoeSize");
        assert!(
            e.message
                .contains("unknown attribute of class account (attributes: id, userName, mail)")
        );
        let e = request(json!({"kind": "update", "identity": "e1",
            "changes": [{"op": "replace", "name": "id", "values": "2"}]}))
        .unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("changes.id", "cannot be changed")
        );
        let e = request(json!({"kind": "delete", "identity": "e1", "attributes": {"id": "1"}}))
            .unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("attributes", "is only for create")
        );
        let e = request(json!({"kind": "create", "identity": "", "attributes": {"id": "1"}}))
            .unwrap_err();
        assert_eq!(e.field, "identity");
        let e = request(json!({"kind": "create", "identity": "e", "class": "printer", "attributes": {"id": "1"}}))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "class: unknown class `printer` (the target has: account)"
        );
        let e = request(json!({"kind": "set-password", "identity": "e"})).unwrap_err();
        assert_eq!(e.field, "password");
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let e = serde_json::from_value::<OperationRequest>(
            json!({"kind": "create", "identity": "e", "colour": 1}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        let e =
            serde_json::from_value::<OperationRequest>(json!({"kind": "explode", "identity": "e"}))
                .unwrap_err();
        assert!(e.to_string().contains("unknown variant `explode`"), "{e}");
    }
}

/// Property tests: an operation body is untrusted JSON. Whatever it holds,
/// it is refused naming a field or accepted; an accepted one never shows
/// its password in what is stored in clear, and rebuilds from that to the
/// work it asked for.
#[cfg(test)]
mod fuzz {
    use super::tests::schema;
    use super::*;
    use proptest::prelude::*;
    use serde_json::Map;

    /// Passwords are drawn from a shape no other generated text has, so
    /// finding the shape in a stored payload means a password leaked.
    const PASSWORDS: &str = "P4-[0-9]{6}-SECRET";
    const KINDS: [&str; 9] = [
        "create",
        "update",
        "delete",
        "enable",
        "disable",
        "set-password",
        "add-member",
        "remove-member",
        "rename",
    ];
    const NAMES: [&str; 9] = [
        "id",
        "userName",
        "mail",
        "__password__",
        "__PASSWORD__",
        "__enable__",
        "__name__",
        "",
        " ",
    ];

    fn leaf() -> impl Strategy<Value = Json> {
        prop_oneof![
            1 => Just(Json::Null),
            1 => any::<bool>().prop_map(Json::Bool),
            2 => any::<i64>().prop_map(Json::from),
            1 => any::<f64>().prop_map(Json::from),
            6 => "[a-z ]{0,8}".prop_map(Json::String),
            2 => "\\PC{0,4}".prop_map(Json::String),
            1 => "([A-Za-z0-9+/]{4}){0,2}".prop_map(|s| json!({ "binary": s })),
            1 => "[a-z]{0,4}".prop_map(|s| json!({ "reference": s })),
            1 => any_shape().prop_map(|s| json!({ "binary": s })),
        ]
    }

    /// JSON of any shape (no passwords).
    fn any_shape() -> impl Strategy<Value = Json> {
        let scalar = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            "\\PC{0,6}".prop_map(Json::String),
        ];
        scalar.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    fn values() -> impl Strategy<Value = Json> {
        prop_oneof![
            6 => leaf(),
            2 => prop::collection::vec(leaf(), 0..3).prop_map(Json::Array),
        ]
    }

    /// An attribute name and its values; a password name mostly gets one
    /// password.
    fn attribute() -> impl Strategy<Value = (String, Json)> {
        (
            prop::sample::select(NAMES.to_vec()),
            values(),
            PASSWORDS,
            0..8u8,
        )
            .prop_map(|(name, values, password, odd)| {
                let values = match (name.eq_ignore_ascii_case("__password__"), odd) {
                    (true, 0) => json!([password, password]),
                    (true, _) => Json::String(password),
                    (false, _) => values,
                };
                (name.to_owned(), values)
            })
    }

    fn attributes() -> impl Strategy<Value = Json> {
        prop::collection::vec(attribute(), 0..4)
            .prop_map(|pairs| Json::Object(pairs.into_iter().collect::<Map<_, _>>()))
    }

    fn changes() -> impl Strategy<Value = Json> {
        let op = prop_oneof![
            8 => prop::sample::select(vec!["replace", "add", "remove"]),
            1 => Just("merge"),
        ];
        let change = (op, attribute())
            .prop_map(|(op, (name, values))| json!({ "op": op, "name": name, "values": values }));
        prop::collection::vec(change, 0..4).prop_map(Json::Array)
    }

    /// A request-shaped object: the fields its kind takes, mostly well
    /// typed, now and then a stray field or one of any shape.
    fn requests() -> impl Strategy<Value = Json> {
        let kind = prop_oneof![
            12 => prop::sample::select(KINDS[..8].to_vec()),
            1 => Just(KINDS[8]),
        ];
        let identity = prop_oneof![
            8 => "[a-z0-9]{1,8}",
            1 => " [a-z0-9 ]{0,4}",
            1 => "x{250,260}",
        ];
        let class = prop::option::weighted(
            0.3,
            prop::sample::select(vec!["account", "ACCOUNT", "group"]),
        );
        let payload = prop_oneof![
            Just(None),
            attributes().prop_map(|a| Some(("attributes", a))),
            changes().prop_map(|c| Some(("changes", c))),
            "[a-z ]{0,6}".prop_map(|g| Some(("group", Json::String(g)))),
            PASSWORDS.prop_map(|p| Some(("password", Json::String(p)))),
        ];
        let stray = prop::option::weighted(
            0.1,
            (
                prop::sample::select(vec!["attributes", "changes", "group", "password", "extra"]),
                any_shape(),
            ),
        );
        let key = prop::option::weighted(0.2, "[a-z]{0,3}");
        (kind, identity, class, payload.clone(), payload, stray, key).prop_map(
            |(kind, identity, class, first, second, stray, key)| {
                let mut object = Map::new();
                object.insert("kind".into(), kind.into());
                object.insert("identity".into(), identity.into());
                if let Some(class) = class {
                    object.insert("class".into(), class.into());
                }
                // The kind's own payload first; a second one for another kind.
                let wanted = match kind {
                    "create" => "attributes",
                    "update" => "changes",
                    "set-password" => "password",
                    "add-member" | "remove-member" => "group",
                    _ => "",
                };
                for (name, value) in [first, second].into_iter().flatten() {
                    if name == wanted || !object.contains_key(wanted) || wanted.is_empty() {
                        object.insert(name.into(), value);
                    }
                }
                if let Some(key) = key {
                    object.insert("idempotency_key".into(), key.into());
                }
                if let Some((name, value)) = stray {
                    object.insert(name.into(), value);
                }
                Json::Object(object)
            },
        )
    }

    /// Cases per property: bounded so the test command stays quick; set
    /// `PROVISIO_FUZZ_CASES` for a longer run.
    fn cases(default: u32) -> u32 {
        std::env::var("PROVISIO_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(2048)))]

        #[test]
        fn a_request_is_refused_naming_a_field_or_accepted_without_its_password(
            body in requests(),
            with_schema in any::<bool>(),
            max_attributes in 1usize..6,
        ) {
            let schema = schema();
            let rules = Rules {
                default_class: "account",
                schema: with_schema.then_some(&schema),
                max_attributes,
            };
            let Ok(request) = serde_json::from_value::<OperationRequest>(body.clone()) else {
                return Ok(());
            };
            let validated = match request.validate(&rules) {
                Ok(validated) => validated,
                Err(error) => {
                    prop_assert!(!error.field.is_empty() && !error.message.is_empty());
                    return Ok(());
                }
            };
            prop_assert_eq!(validated.identity.trim(), validated.identity.as_str());
            prop_assert!((1..=256).contains(&validated.identity.len()));
            let stored = validated.redacted.to_string();
            prop_assert!(!stored.contains("-SECRET"), "{} stored {}", body, stored);
            prop_assert_eq!(
                carries_password(validated.kind, &validated.redacted),
                validated.secret.is_some()
            );
            let work = Work::from_payload(
                validated.kind,
                &validated.redacted,
                validated.secret.as_deref(),
            );
            let work = work.map_err(TestCaseError::fail)?;
            prop_assert_eq!(work.password(), validated.secret.as_deref());
        }

        #[test]
        fn any_bytes_parse_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = serde_json::from_slice::<OperationRequest>(&bytes);
        }

        #[test]
        fn a_damaged_body_parses_or_is_refused(
            body in requests(),
            cut in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = body.to_string().into_bytes();
            let at = cut.index(bytes.len());
            bytes[at] = byte;
            let _ = serde_json::from_slice::<OperationRequest>(&bytes);
            let _ = serde_json::from_slice::<OperationRequest>(&bytes[..at]);
        }
    }
}
