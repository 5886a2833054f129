//! The schema, read from the domain's aggregate subschema entry: a class's
//! attributes are those of its object class, superclasses and, as AD
//! lists them, its DIT content rule (the auxiliary classes, which bring
//! `sAMAccountName`, `mail` and the POSIX attributes). What the connector
//! maintains itself or shows under another name is left out.

use crate::directory::INTERNAL;
use crate::{AdConnector, Class, MEMBERS, PARENT};
use provisio_sdk::ldap::{Subschema, value_type};
use provisio_sdk::names::{ENABLE, GROUPS, NAME, PASSWORD};
use provisio_sdk::{AttributeInfo, ClassInfo, Error, ObjectSchema, ValueType};

/// Password material: written only through `__password__`, never shown.
const SECRET: &[&str] = &[
    "unicodePwd",
    "dBCSPwd",
    "lmPwdHistory",
    "ntPwdHistory",
    "supplementalCredentials",
    "userPassword",
    "unixUserPassword",
];

impl AdConnector {
    pub(crate) fn read_schema(&self) -> Result<ObjectSchema, Error> {
        let schema = Subschema::read(&self.conn)?;
        let classes = [Class::Account, Class::Group, Class::Ou]
            .into_iter()
            .map(|class| self.class_info(&schema, class))
            .collect::<Result<_, _>>()?;
        Ok(ObjectSchema { classes })
    }

    fn class_info(&self, schema: &Subschema, class: Class) -> Result<ClassInfo, Error> {
        let object_class = class.object_class();
        if schema.class(object_class).is_none() {
            return Err(Error::failed(format!(
                "the domain's schema has no object class {object_class}"
            )));
        }
        let (must, may) = schema.must_may(&[object_class.to_owned()]);
        let skipped = |name: &str| {
            INTERNAL
                .iter()
                .chain(SECRET)
                .any(|i| i.eq_ignore_ascii_case(name))
                || name.eq_ignore_ascii_case(class.naming())
                || (class == Class::Account && self.settings.shadowed(name))
        };
        // Nothing is required: the connector names accounts, fills `cn`,
        // and the domain sets what else its classes must have.
        let mut attributes = vec![AttributeInfo::new(NAME, ValueType::Text)];
        for name in must.iter().chain(&may).filter(|n| !skipped(n)) {
            let provisio_name = match class {
                Class::Account => self.settings.provisio_name(name),
                _ => name,
            };
            let mut info = AttributeInfo::new(provisio_name, value_type(schema.syntax(name)));
            let definition = schema.attribute(name);
            if !definition.is_some_and(|d| d.single) {
                info = info.multi_valued();
            }
            if definition.is_some_and(|d| d.no_user_modification) {
                info = info.read_only();
            }
            attributes.push(info);
        }
        attributes.push(AttributeInfo::new(PARENT, ValueType::Text));
        match class {
            Class::Account => {
                attributes.push(AttributeInfo::new(PASSWORD, ValueType::Text).write_only());
                attributes.push(AttributeInfo::new(ENABLE, ValueType::Boolean));
                attributes.push(AttributeInfo::new(GROUPS, ValueType::Reference).multi_valued());
            }
            Class::Group => {
                attributes.push(AttributeInfo::new(MEMBERS, ValueType::Reference).multi_valued());
            }
            Class::Ou => {}
        }
        Ok(ClassInfo::new(class.name(), attributes))
    }
}
