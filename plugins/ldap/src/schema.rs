//! The schema, read from the server's subschema entry (the SDK's
//! [`Subschema`]): each class's attributes are the MUST and MAY of its
//! object classes and their superclasses, typed by syntax.

use crate::MEMBERS;
use crate::directory::Directory;
use crate::settings::ClassSettings;
use provisio_sdk::ldap::{Subschema, value_type};
use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};
use provisio_sdk::{AttributeInfo, ClassInfo, Error, ObjectSchema, ValueType};

pub fn read(dir: &Directory) -> Result<ObjectSchema, Error> {
    let schema = Subschema::read(&dir.conn)?;
    let settings = &dir.settings;
    let classes = [&settings.account, &settings.group]
        .into_iter()
        .map(|class| class_info(&schema, dir, class))
        .collect::<Result<_, _>>()?;
    Ok(ObjectSchema { classes })
}

fn class_info(
    schema: &Subschema,
    dir: &Directory,
    class: &ClassSettings,
) -> Result<ClassInfo, Error> {
    for oc in &class.object_classes {
        if schema.class(oc).is_none() {
            return Err(Error::invalid_attribute(
                format!("{}.object_classes", class.name),
                format!("the directory's schema has no object class {oc}"),
            ));
        }
    }
    let settings = &dir.settings;
    let (must, may) = schema.must_may(&class.object_classes);
    let hidden = |a: &str| {
        a.eq_ignore_ascii_case("objectClass")
            || a.eq_ignore_ascii_case(&class.naming)
            || a.eq_ignore_ascii_case(&settings.password_attribute)
            || (class.name == "group" && a.eq_ignore_ascii_case(&settings.member_attribute))
            || class.shadowed(a)
    };
    let mut attributes = vec![AttributeInfo::new(NAME, ValueType::Text).required()];
    for (name, required) in must
        .iter()
        .map(|a| (a, true))
        .chain(may.iter().map(|a| (a, false)))
    {
        if hidden(name) {
            continue;
        }
        let definition = schema.attribute(name);
        let mut info =
            AttributeInfo::new(class.provisio_name(name), value_type(schema.syntax(name)));
        if !definition.is_some_and(|d| d.single) {
            info = info.multi_valued();
        }
        if required {
            info = info.required();
        }
        if definition.is_some_and(|d| d.no_user_modification) {
            info = info.read_only();
        }
        attributes.push(info);
    }
    if class.name == "account" {
        attributes.push(AttributeInfo::new(PASSWORD, ValueType::Text).write_only());
        attributes.push(AttributeInfo::new(ENABLE, ValueType::Boolean));
        attributes.push(AttributeInfo::new(GROUPS, ValueType::Reference).multi_valued());
    } else {
        attributes.push(AttributeInfo::new(MEMBERS, ValueType::Reference).multi_valued());
    }
    // The container an entry is in: an account's is returned with it, a
    // group's when asked for (a DN under the class's base, not free text).
    if !class.mapping.maps("parent") {
        let mut parent = AttributeInfo::new("parent", ValueType::Text);
        parent.returned_by_default = class.name == "account";
        attributes.push(parent);
    }
    Ok(ClassInfo::new(class.name, attributes))
}
