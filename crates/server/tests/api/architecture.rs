//! The dependency rule, checked over `cargo metadata`: inbound adapters (protocol front doors
//! such as `contacts-http`) depend on the domain and web crates only, never on an outbound
//! adapter. The server crate, the composition root, is the only crate that knows both sides.

use std::process::Command;

/// Crates that receive requests from outside (REST today; CardDAV and others join this list).
const INBOUND: &[&str] = &["contacts-http", "contacts-carddav"];
/// Crates that implement the domain's ports against the outside world.
const OUTBOUND: &[&str] =
    &["contacts-postgres", "contacts-smtp", "contacts-crypto", "contacts-cache", "contacts-avatars"];

fn workspace_metadata() -> serde_json::Value {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// The normal (not dev, not build) dependencies of a workspace package.
fn normal_dependencies(metadata: &serde_json::Value, package: &str) -> Vec<String> {
    let packages = metadata["packages"].as_array().expect("a package list");
    let found = packages.iter().find(|p| p["name"] == package).unwrap_or_else(|| panic!("{package} is a member"));
    found["dependencies"]
        .as_array()
        .expect("a dependency list")
        .iter()
        .filter(|d| d["kind"].is_null())
        .map(|d| d["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn inbound_adapters_depend_on_no_outbound_adapter() {
    let metadata = workspace_metadata();
    for inbound in INBOUND {
        let dependencies = normal_dependencies(&metadata, inbound);
        assert!(dependencies.iter().any(|d| d == "contacts-domain"), "{inbound} builds on the domain");
        let forbidden: Vec<_> = dependencies.iter().filter(|d| OUTBOUND.contains(&d.as_str())).collect();
        assert!(forbidden.is_empty(), "{inbound} depends on outbound adapters {forbidden:?}: go through domain ports");
    }
}

#[test]
fn the_domain_depends_on_no_adapter() {
    let dependencies = normal_dependencies(&workspace_metadata(), "contacts-domain");
    let adapters: Vec<_> =
        dependencies.iter().filter(|d| OUTBOUND.contains(&d.as_str()) || INBOUND.contains(&d.as_str())).collect();
    assert!(adapters.is_empty(), "the domain depends on adapters {adapters:?}");
}
