//! Generated guest bindings for `provisio:connector@0.1.0`.
//!
//! Connector authors never use this module directly: the types are
//! re-exported at the crate root and [`export_connector!`](crate::export_connector)
//! wires the exports.

wit_bindgen::generate!({
    path: "../wit/0.1.0",
    world: "connector-plugin",
    pub_export_macro: true,
    export_macro_name: "__export_connector_plugin",
    default_bindings_module: "::provisio_sdk::__private::bindings",
    runtime_path: "::provisio_sdk::__private::wit_bindgen::rt",
    bitflags_path: "::provisio_sdk::__private::wit_bindgen::rt::bitflags",
    additional_derives: [PartialEq],
});
