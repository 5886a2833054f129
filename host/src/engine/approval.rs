//! Which operations wait for an operator: a target's `approval` kinds and
//! filter, evaluated on the operation as submitted.

use super::request::Validated;
use crate::config::Approval;
use crate::store::OperationKind;
use provisio_filter::{Filter, FilterSubject, ValueRef};
use serde_json::Value as Json;

/// A target's approval rule, its filter parsed once.
#[derive(Debug, Default)]
pub struct ApprovalRule {
    required: bool,
    kinds: Vec<OperationKind>,
    filter: Option<Filter>,
}

impl ApprovalRule {
    pub fn new(approval: &Approval) -> Self {
        ApprovalRule {
            required: approval.required,
            kinds: approval.kinds.clone(),
            filter: approval
                .filter
                .as_deref()
                .map(|f| provisio_filter::parse(f).expect("the configuration checked the filter")),
        }
    }

    /// Whether any operation of the target may wait for approval.
    pub fn is_on(&self) -> bool {
        self.required
    }

    /// Whether this operation waits for an operator.
    pub fn applies(&self, operation: &Validated) -> bool {
        self.required
            && (self.kinds.is_empty() || self.kinds.contains(&operation.kind))
            && self
                .filter
                .as_ref()
                .is_none_or(|f| provisio_filter::matches(f, &Submitted(operation)))
    }
}

/// An operation as an approval filter sees it.
struct Submitted<'a>(&'a Validated);

impl FilterSubject for Submitted<'_> {
    fn uid(&self) -> &str {
        &self.0.identity
    }

    fn name(&self) -> &str {
        self.0
            .redacted
            .get("attributes")
            .and_then(|a| attribute(a, "__name__"))
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    fn values(&self, name: &str) -> Option<Vec<ValueRef<'_>>> {
        let operation = self.0;
        if name.eq_ignore_ascii_case("kind") {
            return text(operation.kind.as_str());
        }
        if name.eq_ignore_ascii_case("identity") {
            return text(&operation.identity);
        }
        if name.eq_ignore_ascii_case("class") {
            return text(&operation.class);
        }
        let payload = &operation.redacted;
        if name.eq_ignore_ascii_case("group") {
            return payload.get("group").and_then(Json::as_str).and_then(text);
        }
        if let Some(attributes) = payload.get("attributes") {
            return attribute(attributes, name).map(values);
        }
        // An update: every value any change of the attribute names.
        let changes = payload.get("changes")?.as_array()?;
        let named: Vec<ValueRef<'_>> = changes
            .iter()
            .filter(|c| {
                c.get("name")
                    .and_then(Json::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .filter_map(|c| c.get("values"))
            .flat_map(values)
            .collect();
        (!named.is_empty()).then_some(named)
    }
}

fn text(value: &str) -> Option<Vec<ValueRef<'_>>> {
    Some(vec![ValueRef::Text(value)])
}

fn attribute<'a>(attributes: &'a Json, name: &str) -> Option<&'a Json> {
    attributes
        .as_object()?
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The values of an attribute in the model's JSON shape.
fn values(json: &Json) -> Vec<ValueRef<'_>> {
    match json {
        Json::Array(items) => items.iter().flat_map(values).collect(),
        Json::String(t) => vec![ValueRef::Text(t)],
        Json::Bool(b) => vec![ValueRef::Boolean(*b)],
        Json::Number(n) => n.as_i64().map(ValueRef::Integer).into_iter().collect(),
        Json::Object(tagged) => match tagged.get("reference") {
            Some(Json::String(uid)) => vec![ValueRef::Reference(uid)],
            _ => Vec::new(),
        },
        Json::Null => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::request::{OperationRequest, Rules};
    use serde_json::json;

    fn validated(request: Json) -> Validated {
        serde_json::from_value::<OperationRequest>(request)
            .unwrap()
            .validate(&Rules {
                default_class: "account",
                schema: None,
                max_attributes: 100,
            })
            .unwrap()
    }

    fn rule(kinds: &[OperationKind], filter: Option<&str>) -> ApprovalRule {
        ApprovalRule::new(&Approval {
            required: true,
            distinct_approver: true,
            kinds: kinds.to_vec(),
            filter: filter.map(Into::into),
        })
    }

    #[test]
    fn only_the_listed_kinds_wait() {
        let rule = rule(&[OperationKind::Delete, OperationKind::Disable], None);
        assert!(rule.applies(&validated(json!({"kind": "delete", "identity": "e1"}))));
        assert!(rule.applies(&validated(json!({"kind": "disable", "identity": "e1"}))));
        assert!(!rule.applies(&validated(json!({"kind": "enable", "identity": "e1"}))));
        assert!(
            !ApprovalRule::default()
                .applies(&validated(json!({"kind": "delete", "identity": "e1"})))
        );
    }

    #[test]
    fn the_filter_sees_the_operation_and_what_it_writes() {
        let by_group = rule(&[], Some(r#"group sw "admin" or department eq "Finance""#));
        let admins = json!({"kind": "add-member", "identity": "e1", "group": "admins"});
        let staff = json!({"kind": "add-member", "identity": "e1", "group": "staff"});
        assert!(by_group.applies(&validated(admins)));
        assert!(!by_group.applies(&validated(staff)));
        let finance = json!({"kind": "create", "identity": "e2",
            "attributes": {"__name__": "ada", "Department": "finance"}});
        assert!(by_group.applies(&validated(finance)));
        let moved = json!({"kind": "update", "identity": "e2",
            "changes": [{"op": "replace", "name": "department", "values": ["Finance"]}]});
        assert!(by_group.applies(&validated(moved)));
        let other = json!({"kind": "update", "identity": "e2",
            "changes": [{"op": "replace", "name": "title", "values": "Finance"}]});
        assert!(!by_group.applies(&validated(other)));
        let by_kind = rule(&[], Some(r#"kind eq "delete" and identity sw "x""#));
        assert!(by_kind.applies(&validated(json!({"kind": "delete", "identity": "x1"}))));
        assert!(!by_kind.applies(&validated(json!({"kind": "delete", "identity": "y1"}))));
    }
}
