use super::*;

const TOKEN_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn parse(text: &str) -> Result<Config, ConfigError> {
    let dir = std::env::temp_dir();
    Config::parse(text, Path::new("provisio.toml"), &dir)
}

fn full() -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:9090"

[[tokens]]
name = "iam-core"
role = "provisioner"
sha256 = "{TOKEN_HASH}"

[targets.hr]
connector = "bundled:csv"
concurrency = 2
timeout = "5s"
approval = true
on_delete = {{ update = {{ department = "Leavers", active = false }} }}
protected = 'userName eq "admin"'
membership = {{ mode = "group-attribute", group_class = "group", attribute = "members" }}

[targets.hr.config]
"account.key" = "id"

[targets.hr.retry]
max_attempts = 3
initial_backoff = "200ms"

[targets.hr.rate_limit]
per_second = 10.5
burst = 5
"#
    )
}

#[test]
fn a_full_file_parses() {
    let config = parse(&full()).unwrap();
    assert_eq!(config.server.listen.port(), 9090);
    assert_eq!(config.tokens[0].role, Role::Provisioner);
    let hr = &config.targets["hr"];
    assert_eq!(hr.timeout, std::time::Duration::from_secs(5));
    assert_eq!(hr.retry.max_attempts, 3);
    assert_eq!(hr.retry.initial_backoff.as_millis(), 200);
    assert!(hr.approval.required);
    assert!(hr.approval.distinct_approver, "four eyes by default");
    assert!(
        matches!(&hr.on_delete, OnDelete::Update(v) if v["department"].as_str() == Some("Leavers"))
    );
    assert_eq!(
        hr.membership,
        MembershipMode::GroupAttribute {
            group_class: "group".into(),
            attribute: "members".into()
        }
    );
    assert_eq!(hr.class, "account", "default class");
    assert_eq!(hr.quarantine.window, 50, "default quarantine policy");
}

fn error_of(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn a_misspelt_key_names_the_key_and_line() {
    let text = full().replace("concurrency = 2", "concurency = 2");
    let e = error_of(&text);
    assert!(
        e.starts_with("provisio.toml: targets.hr.concurency: unknown field `concurency`"),
        "{e}"
    );
    assert!(e.contains("(line 12)"), "{e}");
}

#[test]
fn bad_values_name_the_key() {
    let e = error_of(&full().replace(r#"timeout = "5s""#, r#"timeout = "soon""#));
    assert!(e.starts_with("provisio.toml: targets.hr.timeout:"), "{e}");

    let e = error_of(&full().replace("on_delete = {", "on_delete = 'archive' #"));
    assert!(
        e.contains("targets.hr.on_delete") && e.contains("archive"),
        "{e}"
    );

    let e = error_of(&full().replace(
        "protected = 'userName eq \"admin\"'",
        "protected = 'userName eq'",
    ));
    assert!(
        e.starts_with("provisio.toml: targets.hr.protected: invalid SCIM filter"),
        "{e}"
    );

    let e = error_of(&full().replace("bundled:csv", "bundled:nope"));
    assert_eq!(
        e,
        "provisio.toml: targets.hr.connector: no bundled connector `nope` (bundled: csv, sql, scim, ldap, ad)"
    );

    let e = error_of(&full().replace("bundled:csv", "connectors/missing.wasm"));
    assert!(
        e.contains("targets.hr.connector: file connectors/missing.wasm does not exist"),
        "{e}"
    );

    let e = error_of(&full().replace("concurrency = 2", "concurrency = 0"));
    assert!(
        e.contains("targets.hr.concurrency: 0 is not between 1 and 256"),
        "{e}"
    );

    let e = error_of(&full().replace(r#"initial_backoff = "200ms""#, r#"initial_backoff = "1h""#));
    assert!(
        e.contains("targets.hr.retry.initial_backoff: is longer than retry.max_backoff"),
        "{e}"
    );

    let e = error_of(
        &full()
            .replace("[targets.hr]", "[targets.\"h r\"]")
            .replace("targets.hr.", "targets.\"h r\"."),
    );
    assert!(e.contains("a target name is"), "{e}");
}

#[test]
fn secrets_are_references_that_must_resolve() {
    let text = format!(
        "{}\n[targets.hr.secrets]\npassword = {{ env = \"PROVISIO_TEST_SURELY_UNSET\" }}\n",
        full()
    );
    let e = error_of(&text);
    assert_eq!(
        e,
        "provisio.toml: targets.hr.secrets.password: environment variable PROVISIO_TEST_SURELY_UNSET is not set"
    );

    let text = format!("{}\n[targets.hr.secrets]\npassword = \"hunter2\"\n", full());
    let e = error_of(&text);
    assert!(
        e.contains("targets.hr.secrets.password: a literal value is not accepted"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "the value is not echoed: {e}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let text = format!(
        "{}\n[targets.hr.secrets]\npassword = {{ file = \"pw\" }}\n",
        full()
    );
    let config = Config::parse(&text, Path::new("provisio.toml"), dir.path()).unwrap();
    let secrets = config.targets["hr"].resolve_secrets(dir.path()).unwrap();
    assert_eq!(secrets["password"].expose(), "s3cret");
}

#[test]
fn an_api_without_tokens_is_refused() {
    let e = error_of("[targets]\n");
    assert!(
        e.starts_with("provisio.toml: tokens: no API token is configured"),
        "{e}"
    );
    let e = error_of(&full().replace(TOKEN_HASH, "not-a-hash"));
    assert!(
        e.contains("tokens[0]: sha256 of token `iam-core` must be 64 hex digits"),
        "{e}"
    );
}

#[test]
fn token_hashes_are_sha256() {
    assert_eq!(hash_token("test"), TOKEN_HASH);
    assert!(Role::Operator.may(Role::Provisioner));
    assert!(!Role::Provisioner.may(Role::Operator));
}

#[test]
fn ldap_grants_are_checked_at_start() {
    let with = |grant: &str| format!("{}\n[targets.hr.grants.ldap]\n{grant}\n", full());
    std::fs::write(std::env::temp_dir().join("provisio-ldap-test.pw"), "pw").unwrap();
    let good = with(
        r#"urls = ["ldaps://127.0.0.1:636", "ldap://127.0.0.1"]
bind_dn = "cn=provisio,dc=example,dc=com"
password = { file = "provisio-ldap-test.pw" }"#,
    );
    let config = parse(&good).unwrap();
    let ldap = config.targets["hr"].grants.ldap.as_ref().unwrap();
    assert!(ldap.tls_verify, "verification is on unless turned off");

    let e = error_of(&with(r#"urls = ["https://127.0.0.1"]"#));
    assert!(
        e.contains("targets.hr.grants.ldap.urls") && e.contains("not ldap or ldaps"),
        "{e}"
    );
    let e = error_of(&with(r#"urls = ["ldap://cn=x:pw@127.0.0.1"]"#));
    assert!(e.contains("grants.ldap.urls"), "{e}");
    let e = error_of(&with(r#"urls = ["ldap://127.0.0.1/dc=example,dc=com"]"#));
    assert!(e.contains("without a DN"), "{e}");
    let e = error_of(&with(
        r#"urls = ["ldap://127.0.0.1"]
bind_dn = "cn=provisio,dc=example,dc=com""#,
    ));
    assert!(
        e.contains("grants.ldap.password: bind_dn is set but no password is"),
        "{e}"
    );
    let e = error_of(&with(
        r#"urls = ["ldap://127.0.0.1"]
ca_file = "no-such-ca.pem""#,
    ));
    assert!(
        e.contains("grants.ldap.ca_file: no-such-ca.pem is not a file"),
        "{e}"
    );
}

#[test]
fn no_grant_reaches_what_the_host_keeps() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let with = |server: &str, target: &str| {
        let text = format!(
            "[server]\n{server}\n[[tokens]]\nname = \"a\"\nrole = \"operator\"\nsha256 = \"{TOKEN_HASH}\"\n\
             [targets.t]\nconnector = \"bundled:csv\"\n{target}"
        );
        Config::parse(&text, &dir.path().join("provisio.toml"), dir.path())
            .err()
            .map(|e| e.to_string())
    };
    // The configuration's own directory holds the store: granting it is refused.
    let e = with("", "[targets.t.grants]\ndirectory = \".\"").unwrap();
    assert!(
        e.contains("targets.t.grants.directory") && e.contains("server.store"),
        "{e}"
    );
    let e = with(
        "",
        "[targets.t.grants.sql.main]\nurl = \"sqlite://provisio.db\"",
    )
    .unwrap();
    assert!(
        e.contains("grants.sql.main.url") && e.contains("the host's own"),
        "{e}"
    );
    let e = with(
        "",
        "[targets.t.grants.sql.main]\nurl = \"sqlite://./data/../provisio.key\"",
    )
    .unwrap();
    assert!(e.contains("server.key_file"), "{e}");
    let e = with("cache_dir = \".\"", "").unwrap();
    assert!(
        e.contains("server.cache_dir") && e.contains("server.store"),
        "{e}"
    );
    assert_eq!(
        with("", "[targets.t.grants]\ndirectory = \"data\""),
        None,
        "a directory of its own is fine"
    );
}
