//! PATCH operations (RFC 7644 §3.5.2) for one update's changes.
//!
//! A path with an element selector (`phoneNumbers[type eq "work"].value`)
//! needs the resource as it is: `replace` on an element that does not
//! exist yet has no target (§3.5.2.3 answers `400 noTarget`), so a new
//! element is `add`ed whole; and clearing the value removes the element
//! (§3.5.2.2) rather than leaving `{"type": "work"}` behind, as the PUT
//! path does.

use crate::mapping::Path;
use serde_json::{Value as Json, json};

/// What one change does to one attribute path.
pub enum Change {
    Set(Json),
    Clear,
}

/// The operations that make `path` hold `change`, given the resource as
/// it is now (`current`, needed for a selector path); `current` is kept up
/// to date so that later changes in the same request see this one.
pub fn operations(path: &Path, change: Change, current: &mut Json) -> Vec<Json> {
    let Some((key, wanted)) = &path.selector else {
        let plain = path.patch_path();
        let op = match change {
            Change::Set(value) => {
                path.set(current, Some(value.clone()));
                json!({"op": "replace", "path": plain, "value": value})
            }
            Change::Clear => {
                path.set(current, None);
                json!({"op": "remove", "path": plain})
            }
        };
        return vec![op];
    };
    let sub = path.sub.clone().unwrap_or_else(|| "value".to_owned());
    let exists = path.element(current).is_some();
    match (change, exists) {
        (Change::Set(value), true) => {
            path.set(current, Some(value.clone()));
            vec![json!({"op": "replace", "path": path.patch_path(), "value": value})]
        }
        (Change::Set(value), false) => {
            path.set(current, Some(value.clone()));
            vec![json!({
                "op": "add",
                "path": path.attribute_path(),
                "value": [{key.clone(): wanted, sub: value}],
            })]
        }
        // The element's value goes with the element; another
        // sub-attribute (`primary`, `display`) goes alone.
        (Change::Clear, true) if sub == "value" => {
            path.set(current, None);
            vec![json!({"op": "remove", "path": path.element_path()})]
        }
        (Change::Clear, true) => {
            path.clear_sub(current);
            vec![json!({"op": "remove", "path": path.patch_path()})]
        }
        (Change::Clear, false) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_element_is_added_whole_and_an_existing_one_replaced() {
        let phone = Path::parse("phoneNumbers[type eq \"work\"].value");
        let mut user = json!({"userName": "ada"});
        assert_eq!(
            operations(&phone, Change::Set(json!("+1 555")), &mut user),
            [json!({"op": "add", "path": "phoneNumbers",
                    "value": [{"type": "work", "value": "+1 555"}]})]
        );
        assert_eq!(
            operations(&phone, Change::Set(json!("+1 556")), &mut user),
            [
                json!({"op": "replace", "path": "phoneNumbers[type eq \"work\"].value",
                    "value": "+1 556"})
            ]
        );
        assert_eq!(
            operations(&phone, Change::Clear, &mut user),
            [json!({"op": "remove", "path": "phoneNumbers[type eq \"work\"]"})]
        );
        assert_eq!(user["phoneNumbers"], json!([]));
        assert!(operations(&phone, Change::Clear, &mut user).is_empty());
    }

    #[test]
    fn another_sub_attribute_is_cleared_alone_and_extensions_keep_their_urn() {
        let primary = Path::parse("emails[type eq \"work\"].primary");
        let mut user = json!({"emails": [{"type": "work", "value": "a@x", "primary": true}]});
        assert_eq!(
            operations(&primary, Change::Clear, &mut user),
            [json!({"op": "remove", "path": "emails[type eq \"work\"].primary"})]
        );
        assert_eq!(user["emails"], json!([{"type": "work", "value": "a@x"}]));

        let department =
            Path::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department");
        let ops = operations(&department, Change::Set(json!("R&D")), &mut user);
        assert_eq!(
            ops[0]["path"],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
        );
        assert_eq!(ops[0]["op"], "replace");
    }
}
