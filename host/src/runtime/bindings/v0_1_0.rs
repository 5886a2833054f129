//! Binding of `provisio:connector@0.1.0` (frozen in `wit/0.1.0/`).

use crate::model;
use crate::runtime::bindings::Outcome;
use crate::runtime::capabilities::config::{ConfigCtxView, ConfigView};
use crate::runtime::capabilities::log::{Level, LogCtxView, LogView};
use crate::runtime::state::InstanceState;
use wasmtime::Store;
use wasmtime::component::{HasData, Linker};

pub const VERSION: &str = "0.1.0";

mod generated {
    wasmtime::component::bindgen!({
        world: "connector-plugin",
        path: "../wit/0.1.0",
        // Calls run as futures on the host's runtime, so a connector waiting
        // on a capability (SQL, LDAP, HTTP) holds no thread.
        exports: { default: async },
    });
}

use generated::provisio::connector::types as wit;

super::common::binding!();

impl From<wit::ConnectorInfo> for model::ConnectorInfo {
    fn from(i: wit::ConnectorInfo) -> Self {
        let c = i.capabilities;
        model::ConnectorInfo {
            name: i.name,
            version: i.version,
            description: i.description,
            capabilities: model::Capabilities {
                create: c.contains(wit::Capabilities::CREATE),
                get: c.contains(wit::Capabilities::GET),
                update: c.contains(wit::Capabilities::UPDATE),
                delete: c.contains(wit::Capabilities::DELETE),
                search: c.contains(wit::Capabilities::SEARCH),
                sync: c.contains(wit::Capabilities::SYNC),
                schema: c.contains(wit::Capabilities::SCHEMA),
                test: c.contains(wit::Capabilities::TEST),
                // Counting came with 0.2.0.
                count: false,
            },
        }
    }
}
