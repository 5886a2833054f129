//! Generated guest bindings: the `provisio:connector@0.2.0` world plus the
//! capabilities a connector may import (`provisio:sql@0.1.1`,
//! `provisio:ldap@0.1.0`). A component
//! imports only the capabilities its code calls, so a connector that never
//! touches SQL does not ask for it.
//!
//! Connector authors never use this module directly: the types are
//! re-exported at the crate root and [`export_connector!`](crate::export_connector)
//! wires the exports.

wit_bindgen::generate!({
    inline: "
        package provisio:sdk;

        world plugin {
            include provisio:connector/connector-plugin@0.2.0;
            import provisio:sql/client@0.1.1;
            import provisio:ldap/client@0.1.0;
        }
    ",
    path: ["wit/0.2.0", "wit/sql/0.1.1", "wit/ldap/0.1.0"],
    world: "provisio:sdk/plugin",
    pub_export_macro: true,
    export_macro_name: "__export_connector_plugin",
    default_bindings_module: "::provisio_sdk::__private::bindings",
    runtime_path: "::provisio_sdk::__private::wit_bindgen::rt",
    bitflags_path: "::provisio_sdk::__private::wit_bindgen::rt::bitflags",
    additional_derives: [PartialEq],
    generate_all,
});
