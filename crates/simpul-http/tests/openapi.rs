//! The OpenAPI document: a snapshot (`docs/openapi.json`) so that every change to the contract
//! shows in review, and the checks a client generator or fuzzer relies on — unique operation ids,
//! a description on every response, parameters where they are, problem bodies typed as
//! `application/problem+json`, and bounds that are the domain's own.
//!
//! After an intended change: `SIMPUL_UPDATE_OPENAPI=1 cargo test -p simpul-http --test openapi`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

fn document() -> Value {
    simpul_http::openapi_document()
}

/// Every operation: (path, method, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
}

/// Follows a `$ref` inside the document.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            document.pointer(pointer).expect("a $ref that resolves")
        }
        None => value,
    }
}

#[test]
fn the_document_matches_its_snapshot() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let current = serde_json::to_string_pretty(&document()).expect("serialisable") + "\n";
    if std::env::var_os("SIMPUL_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &current).expect("snapshot written");
        return;
    }
    let snapshot = std::fs::read_to_string(&path).expect("docs/openapi.json");
    assert!(
        snapshot == current,
        "the OpenAPI document changed; review the change and run \
         `SIMPUL_UPDATE_OPENAPI=1 cargo test -p simpul-http --test openapi`"
    );
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.push(reference.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let document = document();
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        let pointer = reference.strip_prefix('#').expect("a local $ref");
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} resolves to nothing"
        );
    }
}

#[test]
fn operation_ids_are_unique_and_every_response_is_described() {
    let document = document();
    let mut ids = BTreeSet::new();
    for (path, method, operation) in operations(&document) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{method} {path} has no operationId");
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        let responses = operation["responses"].as_object().expect("responses");
        assert!(!responses.is_empty(), "{method} {path} has no responses");
        for (status, response) in responses {
            let response = resolve(&document, response);
            let description = response["description"].as_str().unwrap_or_default();
            assert!(
                !description.trim().is_empty(),
                "{method} {path} {status} has no description"
            );
        }
    }
}

#[test]
fn parameters_are_where_they_are_declared() {
    let document = document();
    for (path, method, operation) in operations(&document) {
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let mut in_path = BTreeSet::new();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter = resolve(&document, parameter);
            let name = parameter["name"].as_str().expect("a named parameter");
            match parameter["in"].as_str() {
                Some("path") => {
                    assert_eq!(parameter["required"], true, "{method} {path} {name}");
                    in_path.insert(name.to_owned());
                }
                Some("query") => assert_ne!(
                    parameter["required"], true,
                    "{method} {path}: query parameter {name} is optional"
                ),
                Some("header") => {}
                other => panic!("{method} {path} {name} in {other:?}"),
            }
        }
        assert_eq!(in_path, templated, "{method} {path}");
    }
}

#[test]
fn errors_are_problem_json_and_carry_their_headers() {
    let document = document();
    for (path, method, operation) in operations(&document) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let response = resolve(&document, response);
            let headers = response["headers"].as_object().expect("headers");
            assert!(
                headers.contains_key("X-Request-Id"),
                "{method} {path} {status}"
            );
            if status.starts_with('4') || status.starts_with('5') {
                let content = response["content"].as_object().expect("content");
                // An import's 422 is its report, not a problem.
                if !(path == "/imports" && status == "422") {
                    assert!(
                        content.contains_key("application/problem+json"),
                        "{method} {path} {status}: {content:?}"
                    );
                }
            }
            match status.as_str() {
                "401" => assert!(headers.contains_key("WWW-Authenticate"), "{path}"),
                "503" => assert!(headers.contains_key("Retry-After"), "{path}"),
                _ => {}
            }
        }
    }
}

#[test]
fn writes_document_their_headers_and_forming_links_to_the_kim() {
    let document = document();
    let mut linked = 0;
    for (path, method, operation) in operations(&document) {
        if !(path.starts_with("/communities") && (method == "post" || method == "put")) {
            continue;
        }
        let names: BTreeSet<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                resolve(&document, p)["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        for header in ["Idempotency-Key", "If-Match", "X-Request-Id"] {
            assert!(names.contains(header), "{method} {path} lacks {header}");
        }
        if path == "/communities" {
            let links = operation["responses"]["201"]["links"]
                .as_object()
                .expect("links from a formed KIM");
            for link in links.values() {
                assert_eq!(link["parameters"]["id"], "$response.body#/id");
                linked += 1;
            }
        }
    }
    // A bimtek session spans many KIM: an Idempotency-Key, but no one version to match.
    let session = &document["paths"]["/bimtek-sessions"]["post"];
    let names: BTreeSet<String> = session["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            resolve(&document, p)["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(names.contains("Idempotency-Key"), "{names:?}");
    assert!(!names.contains("If-Match"), "{names:?}");
    let created = session["responses"]["201"]["headers"]
        .as_object()
        .expect("headers");
    assert!(created.contains_key("Idempotent-Replayed"));
    assert!(!created.contains_key("ETag"));
    let problem = &document["components"]["schemas"]["Problem"]["properties"]["errors"];
    assert_eq!(
        problem["items"]["$ref"],
        "#/components/schemas/CommunityProblem"
    );
    // Every operation on `/communities/{id}…` is reachable from a formed KIM.
    let on_a_kim = operations(&document)
        .iter()
        .filter(|(path, _, _)| path.starts_with("/communities/{id}"))
        .count();
    assert_eq!(linked, on_a_kim);
}

#[test]
fn bounds_are_the_domain_s_own() {
    let document = document();
    let schema = |name: &str| document["components"]["schemas"][name]["properties"].clone();
    let policy = simpul_domain::StagePolicy::current();
    for body in ["FormCommunityBody", "MembersBody"] {
        let count = &schema(body)["member_count"];
        assert_eq!(count["minimum"], policy.member_min, "{body}");
        assert_eq!(count["maximum"], policy.member_max, "{body}");
    }
    for (body, field) in [
        ("BimtekBody", "participants"),
        ("SessionCommunityBody", "participants"),
    ] {
        assert_eq!(
            schema(body)[field]["maximum"],
            simpul_domain::rules::MAX_PARTICIPANTS,
            "{body}.{field}"
        );
    }
    let communities = &schema("BimtekSessionBody")["communities"];
    assert_eq!(communities["minItems"], 1);
    assert_eq!(communities["maxItems"], simpul_app::MAX_SESSION_COMMUNITIES);
    use simpul_domain::text::{CommunityName, Reason, RegistrationNumber, SkNumber, Title};
    let lengths = [
        ("FormCommunityBody", "name", CommunityName::MAX),
        ("ReasonBody", "reason", Reason::MAX),
        ("SkBody", "number", SkNumber::MAX),
        ("SkBody", "subject", Title::MAX),
        ("RegistrationBody", "number", RegistrationNumber::MAX),
        ("BimtekBody", "title", Title::MAX),
        ("BimtekSessionBody", "title", Title::MAX),
        (
            "AppointOfficerBody",
            "name",
            simpul_domain::sealed::MAX_PERSONAL_TEXT,
        ),
    ];
    for (body, field, max) in lengths {
        assert_eq!(schema(body)[field]["maxLength"], max, "{body}.{field}");
    }
    let stage = &document["components"]["schemas"]["Stage"]["enum"];
    assert_eq!(stage, &serde_json::json!(["kim1", "kim2", "kim3", "kim4"]));
}
