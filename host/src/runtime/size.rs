//! Approximate heap size of call results, to refuse runaway outputs before
//! they travel further into the engine, the store or an HTTP response.

use crate::model::{
    Attribute, ConnectorInfo, ConnectorObject, ObjectSchema, Page, SyncBatch, Value,
};

pub trait ApproxSize {
    fn approx_size(&self) -> usize;
}

impl ApproxSize for () {
    fn approx_size(&self) -> usize {
        0
    }
}

impl ApproxSize for u64 {
    fn approx_size(&self) -> usize {
        8
    }
}

impl ApproxSize for String {
    fn approx_size(&self) -> usize {
        self.len()
    }
}

impl ApproxSize for Value {
    fn approx_size(&self) -> usize {
        32 + match self {
            Value::Text(s) | Value::Reference(s) => s.len(),
            Value::Binary(b) => b.len(),
            Value::Integer(_) | Value::Boolean(_) => 0,
        }
    }
}

impl ApproxSize for Attribute {
    fn approx_size(&self) -> usize {
        48 + self.name.len()
            + self
                .values
                .iter()
                .map(ApproxSize::approx_size)
                .sum::<usize>()
    }
}

impl ApproxSize for ConnectorObject {
    fn approx_size(&self) -> usize {
        // Its three strings and vector, whatever they hold: a million empty
        // objects are not free.
        96 + self.uid.len()
            + self.name.len()
            + self.class.len()
            + self
                .attributes
                .iter()
                .map(ApproxSize::approx_size)
                .sum::<usize>()
    }
}

impl ApproxSize for Page {
    fn approx_size(&self) -> usize {
        self.objects
            .iter()
            .map(ApproxSize::approx_size)
            .sum::<usize>()
            + self.cookie.as_ref().map_or(0, String::len)
    }
}

impl ApproxSize for SyncBatch {
    fn approx_size(&self) -> usize {
        self.token.len()
            + self
                .deltas
                .iter()
                .map(|d| {
                    d.uid.len() + d.token.len() + d.object.as_ref().map_or(0, |o| o.approx_size())
                })
                .sum::<usize>()
    }
}

impl ApproxSize for ObjectSchema {
    fn approx_size(&self) -> usize {
        self.classes
            .iter()
            .map(|c| {
                c.name.len()
                    + c.attributes
                        .iter()
                        .map(|a| 32 + a.name.len() + a.description.as_ref().map_or(0, String::len))
                        .sum::<usize>()
            })
            .sum()
    }
}

impl ApproxSize for ConnectorInfo {
    fn approx_size(&self) -> usize {
        self.name.len() + self.version.len() + self.description.len()
    }
}
