//! JSON Schemas (draft-07) of both files, for editors that validate YAML against a schema
//! (VS Code's YAML extension, `# yaml-language-server: $schema=…`). Generated, not written:
//! the keys are the model's own lists (those the validator lowers), each key's value shape
//! and description come from the editor doc table ([`crate::ide::key_doc`]), which a test in
//! `ide::docs` keeps equal to those lists. `docs/schema/*.schema.json` are these outputs,
//! checked in; a test below fails when they differ.
//!
//! The schema accepts what `slipway validate` accepts without errors, as far as shapes go:
//! scalars where the validator reads a string (numbers and booleans too, by their text),
//! `KEY=VALUE` lists or maps for environments, and anything for the keys passed to Docker
//! unchecked. Cross-file and semantic rules (unknown services, templates) are left to
//! `slipway validate` and `slipway lsp`. Unknown keys, a warning there, fail here: a schema
//! has no warnings, and an unknown key is almost always a typo.

use crate::ide::{KeyScope, key_doc};
use crate::keys::{BUILD_KEYS, IGNORED_KEYS, PASSTHROUGH_KEYS, SERVICE_KEYS, UNSUPPORTED_KEYS};
use crate::keys::{STEP_KEYS, STEP_TYPES};
use serde_json::{Map, Value, json};

/// Which file's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    Services,
    Steps,
}

impl Schema {
    /// The schema as pretty JSON with a final newline (what `slipway schema` prints).
    pub fn to_json(self) -> String {
        let value = match self {
            Schema::Services => services(),
            Schema::Steps => steps(),
        };
        let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
        s.push('\n');
        s
    }
}

const DRAFT: &str = "http://json-schema.org/draft-07/schema#";

fn services() -> Value {
    let service_ref = json!({ "$ref": "#/definitions/service" });
    json!({
        "$schema": DRAFT,
        "title": "codeship-services.yml",
        "description": "Codeship Pro services: a map of service names to their settings, or docker-compose's `version` + `services:` shape.",
        "type": "object",
        "if": { "required": ["services"], "properties": { "services": { "type": "object" } } },
        "then": {
            "properties": {
                "version": { "description": "docker-compose's file version; ignored." },
                "services": { "type": "object", "additionalProperties": service_ref },
                "volumes": { "description": "Ignored by Codeship." },
                "networks": { "description": "Ignored by Codeship." }
            },
            "additionalProperties": false
        },
        "else": {
            "properties": {
                "volumes": { "description": "Ignored by Codeship (unless it is a service with `image` or `build`)." },
                "networks": { "description": "Ignored by Codeship (unless it is a service with `image` or `build`)." }
            },
            "additionalProperties": service_ref
        },
        "definitions": {
            "service": object(service_properties()),
            "build": object(keys(KeyScope::Build, BUILD_KEYS)),
            "scalar": scalar_def(),
            "key_values": {
                "description": "A map of names to values, or a list of `KEY=VALUE` strings.",
                "anyOf": [
                    { "type": "object", "additionalProperties": { "anyOf": [scalar(), { "type": "null" }] } },
                    { "type": "array", "items": scalar() },
                    { "type": "null" }
                ]
            }
        }
    })
}

fn steps() -> Value {
    json!({
        "$schema": DRAFT,
        "title": "codeship-steps.yml",
        "description": "Codeship Pro steps: a list of run and push steps and groups of steps.",
        "type": "array",
        "minItems": 1,
        "items": { "$ref": "#/definitions/step" },
        "definitions": {
            "step": object(keys(KeyScope::Step, STEP_KEYS)),
            "scalar": scalar_def(),
        }
    })
}

fn service_properties() -> Map<String, Value> {
    let mut props = keys(KeyScope::Service, SERVICE_KEYS);
    props.extend(keys(KeyScope::Service, PASSTHROUGH_KEYS));
    for k in IGNORED_KEYS {
        props.insert(
            k.to_string(),
            json!({ "description": format!("`{k}` is accepted but ignored by Codeship (SW006).") }),
        );
    }
    for k in UNSUPPORTED_KEYS {
        props.insert(k.to_string(), json!({ "description": format!("`{k}` is not supported by Codeship (no host linking) and ignored (SW007).") }));
    }
    props
}

fn object(properties: Map<String, Value>) -> Value {
    json!({ "type": "object", "properties": properties, "additionalProperties": false })
}

/// Each key with its description and value schema.
fn keys(scope: KeyScope, names: &[&str]) -> Map<String, Value> {
    names
        .iter()
        .map(|k| {
            let mut v = match key_doc(scope, k) {
                Some(d) => {
                    let mut v = value(scope, k, d.shape).unwrap_or_else(|| json!({}));
                    v["description"] = json!(d.doc);
                    v["markdownDescription"] = json!(format!("**{}** ({})\n\n{}", d.key, d.shape, d.doc));
                    v
                }
                None => json!({}),
            };
            if scope == KeyScope::Service && PASSTHROUGH_KEYS.contains(k) {
                // Passed to Docker as written: the validator does not check the shape.
                v = json!({ "description": v["description"], "markdownDescription": v["markdownDescription"] });
            }
            (k.to_string(), v)
        })
        .collect()
}

/// What a value may be, from its key and the doc table's shape; `None` for a shape this
/// table does not know (a test keeps every shape known).
fn value(scope: KeyScope, key: &str, shape: &str) -> Option<Value> {
    let any_list = || json!({ "anyOf": [{ "type": "array", "items": scalar() }, { "type": "null" }] });
    Some(match (scope, key, shape) {
        (KeyScope::Step, "type", _) => json!({ "enum": STEP_TYPES }),
        (KeyScope::Step, "steps" | "on_fail", _) => {
            json!({ "type": "array", "items": { "$ref": "#/definitions/step" } })
        }
        (KeyScope::Service, "build", _) => {
            json!({ "anyOf": [{ "type": "string" }, { "$ref": "#/definitions/build" }] })
        }
        (_, _, "true or false") => json!({ "type": "boolean" }),
        (_, _, "map or KEY=VALUE list") => json!({ "$ref": "#/definitions/key_values" }),
        (_, _, "list or map") => json!({ "anyOf": [{ "$ref": "#/definitions/key_values" }, scalar()] }),
        (_, _, "string or list" | "path or list") => {
            json!({ "anyOf": [scalar(), { "type": "array", "items": scalar() }, { "type": "null" }] })
        }
        (_, _, "list" | "list of services") => any_list(),
        (_, _, "string" | "path" | "service" | "template" | "repository" | "URL or host" | "branch or regex") => {
            scalar()
        }
        // Shapes of the keys passed to Docker unchecked (their schema is replaced).
        (KeyScope::Service, _, "number" | "size" | "map" | "map or list") => json!({}),
        _ => return None,
    })
}

/// Where the validator reads a string, a number or boolean counts by its text.
fn scalar() -> Value {
    json!({ "$ref": "#/definitions/scalar" })
}

fn scalar_def() -> Value {
    json!({ "type": ["string", "number", "boolean"] })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key the validator reads has a doc entry whose shape this module turns into a
    /// schema (else the key would be unconstrained without anyone noticing).
    #[test]
    fn every_checked_key_has_a_known_shape() {
        for (scope, names) in
            [(KeyScope::Service, SERVICE_KEYS), (KeyScope::Build, BUILD_KEYS), (KeyScope::Step, STEP_KEYS)]
        {
            for k in names {
                let d = key_doc(scope, k).unwrap_or_else(|| panic!("{scope:?} `{k}` has no doc"));
                assert!(value(scope, k, d.shape).is_some(), "{scope:?} `{k}`: shape `{}` unknown", d.shape);
            }
        }
        for k in PASSTHROUGH_KEYS {
            assert!(key_doc(KeyScope::Service, k).is_some(), "`{k}` has no doc");
        }
    }

    /// `docs/schema/` holds exactly what is generated. To refresh it:
    /// `cargo run -p slipway -- schema services > docs/schema/codeship-services.schema.json`
    /// (and `steps` likewise).
    #[test]
    fn checked_in_schemas_are_current() {
        let checked_in = [
            (Schema::Services, include_str!("../../docs/schema/codeship-services.schema.json")),
            (Schema::Steps, include_str!("../../docs/schema/codeship-steps.schema.json")),
        ];
        for (schema, text) in checked_in {
            assert!(
                schema.to_json() == text,
                "docs/schema for {schema:?} is stale: regenerate it with `slipway schema`"
            );
        }
    }

    #[test]
    fn keys_carry_the_doc_tables_text() {
        let v: Value = serde_json::from_str(&Schema::Steps.to_json()).unwrap();
        let image_tag = &v["definitions"]["step"]["properties"]["image_tag"];
        assert_eq!(image_tag["description"], key_doc(KeyScope::Step, "image_tag").unwrap().doc);
        assert_eq!(v["definitions"]["step"]["properties"]["type"]["enum"], json!(STEP_TYPES));
    }
}
