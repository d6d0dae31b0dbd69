//! Repository invariants as tests (the tidy-test idea): the domain stays free of I/O crates.

use std::collections::{HashMap, HashSet};
use std::process::Command;

fn dependency_closure(package: &str) -> HashSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, Vec<&str>> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    // Normal (non-dev, non-build) dependencies only.
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().unwrap())
                .collect();
            (node["id"].as_str().unwrap(), deps)
        })
        .collect();
    let root = names
        .iter()
        .find(|(_, name)| **name == package)
        .map(|(id, _)| *id)
        .unwrap();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(nodes.get(id).into_iter().flatten().copied());
        }
    }
    seen.into_iter().map(|id| names[id].to_owned()).collect()
}

#[test]
fn simpul_domain_depends_on_no_database_web_or_runtime_crate() {
    let closure = dependency_closure("simpul-domain");
    for forbidden in [
        "sqlx",
        "sqlx-core",
        "axum",
        "hyper",
        "postgres-es",
        "sqlite-es",
        "simpul-store",
    ] {
        assert!(
            !closure.contains(forbidden),
            "simpul-domain depends on {forbidden}"
        );
    }
}

#[test]
fn simpul_store_does_not_depend_on_http_or_the_application() {
    let closure = dependency_closure("simpul-store");
    for forbidden in ["axum", "hyper", "simpul-app", "simpul-regions"] {
        assert!(
            !closure.contains(forbidden),
            "simpul-store depends on {forbidden}"
        );
    }
}
