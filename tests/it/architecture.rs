//! Repository invariants as tests (the tidy-test idea): the crate dependency diagram in
//! `docs/ARCHITECTURE.md` is the workspace's real one, and the domain stays free of I/O crates.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::process::Command;

/// The document holding the diagram, relative to the workspace root.
const ARCHITECTURE_MD: &str = "docs/ARCHITECTURE.md";
/// The line right above the machine-readable block of the diagram.
const DIAGRAM_MARKER: &str = "<!-- crate-dependencies:";

/// `cargo metadata --format-version 1` plus `extra`, run at the workspace root.
fn cargo_metadata(extra: &[&str]) -> serde_json::Value {
    let cargo = std::env::var("CARGO")
        .ok()
        .or_else(|| option_env!("CARGO").map(str::to_owned))
        .unwrap_or_else(|| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

fn dependency_closure(package: &str) -> HashSet<String> {
    let metadata = cargo_metadata(&[]);
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

/// A workspace crate's direct dependencies on other workspace crates, from its `Cargo.toml`.
#[derive(Default)]
struct WorkspaceDeps {
    /// `[dependencies]`, optional ones included.
    normal: BTreeSet<String>,
    /// `[dev-dependencies]` and `[build-dependencies]`: (crate, "dev" or "build").
    other: BTreeSet<(String, String)>,
}

/// Every workspace crate's workspace dependencies (`cargo metadata --no-deps`).
fn workspace_dependencies() -> BTreeMap<String, WorkspaceDeps> {
    let metadata = cargo_metadata(&["--no-deps"]);
    let members: HashSet<&str> = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    let packages: Vec<&serde_json::Value> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| members.contains(p["id"].as_str().unwrap()))
        .collect();
    let names: HashSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    packages
        .iter()
        .map(|package| {
            let mut deps = WorkspaceDeps::default();
            for dep in package["dependencies"].as_array().unwrap() {
                // `name` is the package's own name, also when the dependency is renamed.
                let name = dep["name"].as_str().unwrap();
                if !names.contains(name) {
                    continue;
                }
                match dep["kind"].as_str() {
                    None => {
                        deps.normal.insert(name.to_owned());
                    }
                    Some(kind) => {
                        deps.other.insert((name.to_owned(), kind.to_owned()));
                    }
                }
            }
            (package["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// The machine-readable block of the diagram: crates from the top of the stack down, each with
/// the workspace crates it may use.
struct Diagram {
    order: Vec<String>,
    allowed: BTreeMap<String, BTreeSet<String>>,
}

impl Diagram {
    fn parse(document: &str) -> Diagram {
        let mut lines = document.lines().enumerate();
        let markers = document
            .lines()
            .filter(|line| line.trim_start().starts_with(DIAGRAM_MARKER))
            .count();
        assert_eq!(
            markers, 1,
            "{ARCHITECTURE_MD} must hold exactly one `{DIAGRAM_MARKER} … -->` line, right above \
             the fenced block of the crate diagram"
        );
        lines
            .by_ref()
            .find(|(_, line)| line.trim_start().starts_with(DIAGRAM_MARKER))
            .expect("the marker is there");
        let fence = lines.next().map(|(_, line)| line.trim_start());
        assert!(
            fence.is_some_and(|line| line.starts_with("```")),
            "in {ARCHITECTURE_MD} the line after `{DIAGRAM_MARKER} … -->` must open the fenced \
             block of the crate diagram"
        );
        let mut diagram = Diagram {
            order: Vec::new(),
            allowed: BTreeMap::new(),
        };
        for (index, line) in lines {
            if line.trim_start().starts_with("```") {
                return diagram;
            }
            let line_no = index + 1;
            let content = line.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let (krate, deps) = content.split_once("->").unwrap_or_else(|| {
                panic!(
                    "{ARCHITECTURE_MD}:{line_no}: a line of the crate diagram reads \
                     `crate -> dependency, dependency`, not `{content}`"
                )
            });
            let krate = krate.trim().to_owned();
            let deps: BTreeSet<String> = deps
                .split(',')
                .map(str::trim)
                .filter(|dep| !dep.is_empty())
                .map(str::to_owned)
                .collect();
            assert!(
                diagram.allowed.insert(krate.clone(), deps).is_none(),
                "{ARCHITECTURE_MD}:{line_no}: {krate} has a second line in the crate diagram"
            );
            diagram.order.push(krate);
        }
        panic!("{ARCHITECTURE_MD}: the fenced block of the crate diagram is never closed")
    }

    /// The crates `krate` reaches through the diagram's edges, itself excluded.
    fn below(&self, krate: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = vec![krate];
        while let Some(current) = stack.pop() {
            for dep in self.allowed.get(current).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep);
                }
            }
        }
        seen
    }

    /// A cycle of the diagram's edges, if there is one, as the path around it.
    fn cycle(&self) -> Option<Vec<String>> {
        fn visit<'a>(
            diagram: &'a Diagram,
            krate: &'a str,
            path: &mut Vec<&'a str>,
            done: &mut HashSet<&'a str>,
        ) -> Option<Vec<String>> {
            if let Some(start) = path.iter().position(|on_path| *on_path == krate) {
                let mut cycle: Vec<String> =
                    path[start..].iter().map(|c| (*c).to_owned()).collect();
                cycle.push(krate.to_owned());
                return Some(cycle);
            }
            if !done.insert(krate) {
                return None;
            }
            path.push(krate);
            for dep in diagram.allowed.get(krate).into_iter().flatten() {
                if let Some(cycle) = visit(diagram, dep, path, done) {
                    return Some(cycle);
                }
            }
            path.pop();
            None
        }
        let mut done = HashSet::new();
        self.order
            .iter()
            .find_map(|krate| visit(self, krate, &mut Vec::new(), &mut done))
    }
}

/// Everything that makes the diagram differ from the workspace, each with what to do about it.
fn diagram_problems(diagram: &Diagram, actual: &BTreeMap<String, WorkspaceDeps>) -> Vec<String> {
    let update =
        format!("update the crate diagram in {ARCHITECTURE_MD} (the block and the picture)");
    let mut problems = Vec::new();
    for krate in actual.keys() {
        if !diagram.allowed.contains_key(krate) {
            problems.push(format!(
                "workspace crate {krate} has no line in the crate diagram: {update}, adding \
                 `{krate} -> …` above the crates it uses"
            ));
        }
    }
    for (index, krate) in diagram.order.iter().enumerate() {
        let Some(deps) = actual.get(krate) else {
            problems.push(format!(
                "the crate diagram has a line for {krate}, which is not a workspace crate: \
                 {update}, removing the line or correcting the name"
            ));
            continue;
        };
        let allowed = &diagram.allowed[krate];
        for dep in deps.normal.difference(allowed) {
            problems.push(format!(
                "crate {krate} now depends on {dep}: {update} if that is intended, adding {dep} \
                 to {krate}'s line; otherwise remove {dep} from {krate}'s [dependencies]"
            ));
        }
        for dep in allowed.difference(&deps.normal) {
            problems.push(format!(
                "the crate diagram says {krate} depends on {dep}, but {krate}'s [dependencies] \
                 do not name it: {update}, removing {dep} from {krate}'s line"
            ));
        }
        for dep in allowed {
            match diagram.order.iter().position(|line| line == dep) {
                Some(position) if position > index => {}
                Some(_) => problems.push(format!(
                    "crate {krate} depends on {dep}, which the crate diagram lists above it: a \
                     crate sits above every crate it uses, so move {dep}'s line below {krate}'s \
                     in {ARCHITECTURE_MD} (if {dep} also reaches {krate}, the layering has a \
                     cycle: remove one of the edges instead)"
                )),
                None => problems.push(format!(
                    "the crate diagram says {krate} depends on {dep}, which has no line of its \
                     own: {update}"
                )),
            }
        }
        let below = diagram.below(krate);
        for (dep, kind) in &deps.other {
            if !below.contains(dep) {
                problems.push(format!(
                    "crate {krate} has a {kind}-dependency on {dep}, which is not below it in \
                     the crate diagram: tests and build scripts must not reach up the stack, so \
                     move the code that needs {dep} to a crate above both (e.g. the root \
                     package's tests/it), or {update} if {krate} really builds on {dep}"
                ));
            }
        }
    }
    if let Some(cycle) = diagram.cycle() {
        problems.push(format!(
            "the crate diagram has a cycle, {}: a layering has none, remove one of its edges",
            cycle.join(" -> ")
        ));
    }
    problems
}

#[test]
fn the_crate_diagram_in_architecture_md_is_the_workspace_dependency_graph() {
    let document = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(ARCHITECTURE_MD),
    )
    .expect("docs/ARCHITECTURE.md is readable");
    let diagram = Diagram::parse(&document);
    let actual = workspace_dependencies();
    assert!(
        actual.contains_key("simpul-domain") && actual.contains_key("simpul"),
        "cargo metadata lists the workspace: {:?}",
        actual.keys().collect::<Vec<_>>()
    );
    let problems = diagram_problems(&diagram, &actual);
    assert!(
        problems.is_empty(),
        "the crate dependency diagram in {ARCHITECTURE_MD} and the Cargo.toml files disagree:\n- {}",
        problems.join("\n- ")
    );
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
