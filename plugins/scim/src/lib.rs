//! # The SCIM 2.0 connector
//!
//! Users and Groups of a SCIM 2.0 service provider (RFC 7643/7644) over
//! the host's outgoing HTTP, which only reaches the origins the operator
//! grants (`[targets.<t>.grants.http] allow = [...]`). Credentials are
//! target secrets. See [`settings`] for the configuration.
//!
//! - `account` is `/Users`: `__name__` is `userName`, `__enable__` is
//!   `active` (disable is `active = false`), `__password__` is `password`;
//!   other attributes map to SCIM paths, the enterprise extension included.
//! - `group` is `/Groups`: `__name__` is `displayName`, `members` holds
//!   member ids; membership changes are PATCHes on the group.
//! - Updates are PATCH (RFC 7644 §3.5.2) when `/ServiceProviderConfig` says
//!   the service supports it, else GET + PUT with `If-Match` when it
//!   supports ETags.
//! - Search translates the filter's attribute names to SCIM paths and pages
//!   with cursors (RFC 9865) when the service offers them, otherwise with
//!   `startIndex`/`count`.

mod client;
mod listing;
mod mapping;
mod patch;
mod schema;
pub mod settings;

use client::Method;
use client::Scim;
use listing::{CURSOR_COOKIE, Features, Listed, Paging};
use mapping::{Path, encode_query};
use provisio_sdk::filter::Filter;
use provisio_sdk::{
    Attribute, AttributeChange, AttributeInfo, Capabilities, ClassInfo, Config, Connector,
    ConnectorInfo, ConnectorObject, DeltaKind, Error, ObjectSchema, Page, Query, SyncBatch,
    SyncDelta, SyncRequest, Value, ValueType, export_connector, names,
};
use serde_json::{Value as Json, json};
use settings::Settings;
use std::collections::BTreeMap;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Class {
    name: &'static str,
    endpoint: &'static str,
    schema: &'static str,
    naming: &'static str,
}

const ACCOUNT: Class = Class {
    name: "account",
    endpoint: "/Users",
    schema: USER_SCHEMA,
    naming: "userName",
};
const GROUP: Class = Class {
    name: "group",
    endpoint: "/Groups",
    schema: GROUP_SCHEMA,
    naming: "displayName",
};

pub struct ScimConnector {
    settings: Settings,
    scim: Scim,
    features: Option<Features>,
}

fn class(name: &str) -> Result<&'static Class, Error> {
    match name.to_ascii_lowercase().as_str() {
        "account" => Ok(&ACCOUNT),
        "group" => Ok(&GROUP),
        other => Err(Error::invalid(format!(
            "unknown object class {other:?} (this target serves: account, group)"
        ))),
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Text(t) | Value::Reference(t) => json!(t),
        Value::Integer(i) => json!(i),
        Value::Boolean(b) => json!(b),
        Value::Binary(b) => json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
    }
}

fn from_json(json: &Json) -> Option<Value> {
    match json {
        Json::String(s) => Some(Value::Text(s.clone())),
        Json::Bool(b) => Some(Value::Boolean(*b)),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Integer)
            .or_else(|| Some(Value::Text(n.to_string()))),
        Json::Null => None,
        other => Some(Value::Text(other.to_string())),
    }
}

fn single(attribute: &Attribute) -> Result<Option<&Value>, Error> {
    match attribute.values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(Error::invalid_attribute(&attribute.name, "takes one value")),
    }
}

impl ScimConnector {
    fn mapping(&self, class: &Class) -> &BTreeMap<String, String> {
        if class.name == "group" {
            &self.settings.group_mapping
        } else {
            &self.settings.user_mapping
        }
    }

    /// The SCIM path behind an attribute.
    fn path(&self, class: &Class, attribute: &str) -> Result<Path, Error> {
        let lower = attribute.to_ascii_lowercase();
        let special = match lower.as_str() {
            names::NAME => Some(class.naming),
            names::ENABLE if class.name == "account" => Some("active"),
            names::PASSWORD if class.name == "account" => Some("password"),
            _ => None,
        };
        if let Some(p) = special {
            return Ok(Path::parse(p));
        }
        self.mapping(class)
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
            .map(|(_, p)| Path::parse(p))
            .ok_or_else(|| {
                Error::invalid_attribute(
                    attribute,
                    format!(
                        "no SCIM mapping for {attribute:?} on {} (mapped: {})",
                        class.name,
                        self.mapping(class)
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    fn is_members(class: &Class, attribute: &str) -> bool {
        class.name == "group" && attribute.eq_ignore_ascii_case("members")
    }

    fn object(
        &self,
        class: &Class,
        resource: &Json,
        wanted: &[String],
    ) -> Result<ConnectorObject, Error> {
        let uid = resource
            .get("id")
            .and_then(Json::as_str)
            .ok_or_else(|| Error::failed("the service returned a resource without an id"))?;
        let name = resource
            .get(class.naming)
            .and_then(Json::as_str)
            .unwrap_or_default();
        let mut object = ConnectorObject::new(class.name, uid, name);
        let want = |a: &str| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(a));
        for (attribute, path) in self.mapping(class) {
            if !want(attribute) {
                continue;
            }
            if Self::is_members(class, attribute) {
                let members: Vec<Value> = resource
                    .get("members")
                    .and_then(Json::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|m| m.get("value").and_then(Json::as_str))
                            .map(|v| Value::Reference(v.to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                if !members.is_empty() {
                    object
                        .attributes
                        .push(Attribute::multi(attribute.clone(), members));
                }
                continue;
            }
            if let Some(value) = Path::parse(path).get(resource).and_then(from_json) {
                object
                    .attributes
                    .push(Attribute::single(attribute.clone(), value));
            }
        }
        if class.name == "account"
            && want(names::ENABLE)
            && let Some(active) = resource.get("active").and_then(Json::as_bool)
        {
            object
                .attributes
                .push(Attribute::single(names::ENABLE, active));
        }
        Ok(object)
    }
}

impl Connector for ScimConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo::new(
            "scim",
            env!("CARGO_PKG_VERSION"),
            "Users and Groups of a SCIM 2.0 service",
            Capabilities::all(),
        )
    }

    fn open(config: &Config) -> Result<Self, Error> {
        let settings = Settings::from_config(config)?;
        Ok(ScimConnector {
            scim: Scim::new(&settings),
            settings,
            features: None,
        })
    }

    fn test(&mut self) -> Result<(), Error> {
        self.features = None;
        let first = self.first_page()?;
        self.list(&ACCOUNT, None, first, 1, "")?;
        Ok(())
    }

    fn schema(&mut self) -> Result<ObjectSchema, Error> {
        // The resource types the service offers, with their extensions,
        // and their schemas' attribute definitions.
        let types = match self.scim.send(Method::Get, "/ResourceTypes", None, None) {
            Ok(answer) => schema::resources(&answer.body),
            Err(Error::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        // RFC 7644 §4 requires /ResourceTypes; a service without it is
        // taken to offer the standard two.
        if types.is_empty() {
            provisio_sdk::warn!(
                "the service lists no resource types at /ResourceTypes: assuming /Users (with the enterprise extension) and /Groups"
            );
        }
        let schemas = schema::resources(&self.scim.send(Method::Get, "/Schemas", None, None)?.body);
        let mut classes = Vec::new();
        for class in [&ACCOUNT, &GROUP] {
            // A resource type the service does not offer is not a class here.
            let rt = match schema::resource_type(&types, class.schema) {
                Some(rt) => rt,
                None if types.is_empty() => schema::ResourceType {
                    endpoint: class.endpoint.to_owned(),
                    schemas: std::iter::once(class.schema)
                        .chain((class.name == "account").then_some(settings::ENTERPRISE))
                        .map(str::to_owned)
                        .collect(),
                },
                None => continue,
            };
            let mut attributes = vec![AttributeInfo::new(names::NAME, ValueType::Text).required()];
            if class.name == "account" {
                attributes.push(AttributeInfo::new(names::ENABLE, ValueType::Boolean));
                attributes.push(AttributeInfo::new(names::PASSWORD, ValueType::Text).write_only());
            }
            for (attribute, path) in self.mapping(class) {
                let Some(mut info) =
                    schema::attribute_info(&schemas, &rt, attribute, &Path::parse(path))
                else {
                    continue;
                };
                if Self::is_members(class, attribute) {
                    info.value_type = ValueType::Reference;
                    info = info.multi_valued();
                }
                attributes.push(info);
            }
            let mut info = ClassInfo::new(class.name, attributes);
            info.description = Some(format!(
                "SCIM {} ({})",
                if rt.endpoint.is_empty() {
                    class.endpoint
                } else {
                    rt.endpoint.as_str()
                },
                rt.schemas.join(", ")
            ));
            classes.push(info);
        }
        Ok(ObjectSchema { classes })
    }

    fn create(
        &mut self,
        class_name: &str,
        attributes: Vec<Attribute>,
    ) -> Result<ConnectorObject, Error> {
        let class = class(class_name)?;
        let mut resource = json!({"schemas": [class.schema]});
        for attribute in &attributes {
            if Self::is_members(class, &attribute.name) {
                let members: Vec<Json> = attribute
                    .values
                    .iter()
                    .map(|v| json!({"value": to_json(v)}))
                    .collect();
                resource["members"] = json!(members);
                continue;
            }
            let path = self.path(class, &attribute.name)?;
            path.set(&mut resource, single(attribute)?.map(to_json));
        }
        let Some(name) = resource.get(class.naming).and_then(Json::as_str) else {
            return Err(Error::invalid_attribute(
                names::NAME,
                format!("is required ({})", class.naming),
            ));
        };
        // A Group's displayName need not be unique (RFC 7643 §4.2), and
        // many services take a second group of the same name; the
        // contract's name is unique, so the connector asks first.
        if class.name == "group" {
            let filter = format!("{} eq {}", class.naming, json!(name));
            let first = self.first_page()?;
            let taken = self.list(class, Some(filter), first, 1, "")?;
            if taken.total > 0 || !taken.resources.is_empty() {
                return Err(Error::already_exists(format!(
                    "a group named {name:?} exists"
                )));
            }
        }
        let created = self
            .scim
            .send(Method::Post, class.endpoint, Some(&resource), None)?;
        self.object(class, &created.body, &[])
    }

    fn get(
        &mut self,
        class_name: &str,
        uid: &str,
        attributes: &[String],
    ) -> Result<ConnectorObject, Error> {
        let class = class(class_name)?;
        let (resource, _) = self.fetch(class, uid)?;
        self.object(class, &resource, attributes)
    }

    fn update(
        &mut self,
        class_name: &str,
        uid: &str,
        changes: Vec<AttributeChange>,
    ) -> Result<ConnectorObject, Error> {
        let class = class(class_name)?;
        let features = self.features()?;
        if features.patch {
            let paths = changes
                .iter()
                .map(|change| {
                    let name = &change.attribute().name;
                    match Self::is_members(class, name) {
                        true => Ok(None),
                        false => self.path(class, name).map(Some),
                    }
                })
                .collect::<Result<Vec<_>, Error>>()?;
            // A selector path is patched according to what the resource
            // holds (patch.rs); the same read gives the ETag.
            let needs_resource = paths.iter().flatten().any(|p| p.selector.is_some());
            let (mut current, etag) = if needs_resource || features.etag {
                self.fetch(class, uid)?
            } else {
                (json!({}), None)
            };
            let mut operations = Vec::new();
            for (change, path) in changes.iter().zip(&paths) {
                let (op, attribute) = match change {
                    AttributeChange::Replace(a) => ("replace", a),
                    AttributeChange::AddValues(a) => ("add", a),
                    AttributeChange::RemoveValues(a) => ("remove", a),
                };
                let Some(path) = path else {
                    match op {
                        "remove" => operations.extend(attribute.values.iter().map(|v| {
                            json!({"op": "remove", "path": format!("members[value eq {}]", to_json(v))})
                        })),
                        _ => operations.push(json!({"op": op, "path": "members",
                            "value": attribute.values.iter().map(|v| json!({"value": to_json(v)})).collect::<Vec<_>>()})),
                    }
                    continue;
                };
                let change = match (op, single(attribute)?) {
                    ("remove", _) | ("replace", None) => patch::Change::Clear,
                    (_, Some(value)) => patch::Change::Set(to_json(value)),
                    (_, None) => continue,
                };
                operations.extend(patch::operations(path, change, &mut current));
            }
            if !operations.is_empty() {
                let patch = json!({"schemas": [PATCH_SCHEMA], "Operations": operations});
                let answer = self.scim.send(
                    Method::Patch,
                    &format!("{}/{}", class.endpoint, encode_query(uid)),
                    Some(&patch),
                    etag.filter(|_| features.etag).as_deref(),
                )?;
                if answer.status == 200 && answer.body.get("id").is_some() {
                    return self.object(class, &answer.body, &[]);
                }
            }
            return self.get(class_name, uid, &[]);
        }
        // No PATCH: read, change, PUT the whole resource back.
        let (mut resource, etag) = self.fetch(class, uid)?;
        for change in &changes {
            match change {
                AttributeChange::Replace(a) | AttributeChange::AddValues(a) => {
                    self.path(class, &a.name)?
                        .set(&mut resource, single(a)?.map(to_json));
                }
                AttributeChange::RemoveValues(a) => {
                    self.path(class, &a.name)?.set(&mut resource, None)
                }
            }
        }
        let put = self.scim.send(
            Method::Put,
            &format!("{}/{}", class.endpoint, encode_query(uid)),
            Some(&resource),
            etag.filter(|_| features.etag).as_deref(),
        )?;
        self.object(class, &put.body, &[])
    }

    fn delete(&mut self, class_name: &str, uid: &str) -> Result<(), Error> {
        let class = class(class_name)?;
        self.scim.send(
            Method::Delete,
            &format!("{}/{}", class.endpoint, encode_query(uid)),
            None,
            None,
        )?;
        Ok(())
    }

    /// Pages by cursor where offered, else by `startIndex`/`count`.
    fn search(&mut self, query: Query) -> Result<Page, Error> {
        let class = class(&query.class)?;
        let filter = query
            .filter
            .as_ref()
            .map(|f| self.scim_filter(class, f))
            .transpose()?
            .map(|f| f.to_string());
        let cursor_paging = self.features()?.cursor;
        let cookie = query.page.cookie.as_deref();
        if let Some(sealed) = cookie.and_then(|c| c.strip_prefix(CURSOR_COOKIE)) {
            let (count, cursor) = sealed
                .split_once(':')
                .and_then(|(n, c)| Some((n.parse::<u32>().ok()?, c)))
                .ok_or_else(|| Error::invalid(format!("page cookie {sealed:?} is damaged")))?;
            return self.cursor_page(class, filter, Some(cursor), count, &query.attributes);
        }
        if cursor_paging && cookie.is_none() {
            return self.cursor_page(class, filter, None, query.page.size, &query.attributes);
        }
        let start: u64 = match cookie {
            Some(c) => c
                .parse()
                .map_err(|_| Error::invalid(format!("page cookie {c:?} is not a start index")))?,
            None => 1,
        };
        let order = if self.features()?.sort {
            listing::CREATION_ORDER
        } else {
            ""
        };
        let listed = self.list(class, filter, Paging::Index(start), query.page.size, order)?;
        let objects = listed
            .resources
            .iter()
            .map(|r| self.object(class, r, &query.attributes))
            .collect::<Result<Vec<_>, _>>()?;
        let next = start + objects.len() as u64;
        let remaining = listed.total.saturating_sub(next - 1);
        Ok(Page {
            cookie: (remaining > 0 && !objects.is_empty()).then(|| next.to_string()),
            objects,
            remaining: Some(remaining),
        })
    }

    /// `totalResults` of a list asking for no resources.
    fn count(&mut self, class: &str, filter: Option<&Filter>) -> Result<u64, Error> {
        let class = self::class(class)?;
        let filter = filter
            .map(|f| self.scim_filter(class, f))
            .transpose()?
            .map(|f| f.to_string());
        let first = self.first_page()?;
        Ok(self.list(class, filter, first, 0, "")?.total)
    }

    /// Polls `meta.lastModified`: the token is the newest time seen.
    fn sync(&mut self, request: SyncRequest) -> Result<SyncBatch, Error> {
        let class = class(&request.class)?;
        let token = request.token.clone().filter(|t| !t.is_empty());
        let filter = token
            .as_ref()
            .map(|t| format!("meta.lastModified gt {}", json!(t)));
        let first = self.first_page()?;
        let Listed {
            resources, total, ..
        } = self.list(
            class,
            filter,
            first,
            request.max_deltas,
            "&sortBy=meta.lastModified&sortOrder=ascending",
        )?;
        let mut last = token.clone().unwrap_or_default();
        let mut deltas = Vec::new();
        for resource in &resources {
            let object = self.object(class, resource, &[])?;
            if let Some(modified) = resource
                .pointer("/meta/lastModified")
                .and_then(Json::as_str)
            {
                last = modified.to_owned();
            }
            deltas.push(SyncDelta {
                kind: if token.is_none() {
                    DeltaKind::Create
                } else {
                    DeltaKind::Update
                },
                uid: object.uid.clone(),
                object: Some(object),
                token: last.clone(),
            });
        }
        Ok(SyncBatch {
            has_more: total > deltas.len() as u64,
            deltas,
            token: last,
        })
    }

    fn latest_sync_token(&mut self, class_name: &str) -> Result<String, Error> {
        let class = class(class_name)?;
        let first = self.first_page()?;
        let resources = self
            .list(
                class,
                None,
                first,
                1,
                "&sortBy=meta.lastModified&sortOrder=descending",
            )?
            .resources;
        Ok(resources
            .first()
            .and_then(|r| r.pointer("/meta/lastModified"))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned())
    }
}

export_connector!(ScimConnector);
