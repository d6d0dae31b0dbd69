//! The canonical bytes of an event: what its ledger leaf hashes (`docs/ledger.md`, "Canonical
//! bytes"). Precise enough to be recomputed in another language:
//!
//! - the ASCII tag `simpul-event-v1`, then six fields in this order, each as a 4-byte big-endian
//!   length followed by that many bytes: the community id (lower-case hyphenated UUID text as
//!   stored), the sequence (8 bytes, big-endian unsigned), the event type (UTF-8), the event
//!   version (UTF-8), the payload and the metadata (each as canonical JSON);
//! - canonical JSON is RFC 8785 (JCS) for the values Simpul stores: no whitespace, object members
//!   sorted by their names' UTF-16 code units, strings escaped only where JSON requires it (`"`,
//!   `\`, and control characters as `\b \t \n \f \r` or `\u00xx` in lower-case hex), integers in
//!   plain decimal. A non-integer number is refused (Simpul stores none), so no float formatting
//!   is left to disagree about.
//!
//! The payload is taken **as stored**: officers' names stay sealed, so erasing a person's key
//! never changes a leaf.

use serde_json::Value;

/// The tag that starts every event's canonical bytes (and names its version).
pub const EVENT_TAG: &[u8] = b"simpul-event-v1";

/// Why an event has no canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A JSON number that is not an integer.
    #[error("the JSON number {0} is not an integer; canonical JSON here takes integers only")]
    NotAnInteger(String),
    /// A field longer than a 4-byte length can say.
    #[error("a field of {0} bytes is longer than 4 GiB")]
    TooLong(usize),
}

/// The fields of an event that its leaf commits to.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    /// The community (aggregate) id.
    pub community_id: &'a str,
    /// Its sequence within the community, from 1.
    pub sequence: u64,
    /// The event type, e.g. `CommunityFormed`.
    pub event_type: &'a str,
    /// The event version, e.g. `1.0`.
    pub event_version: &'a str,
    /// The payload as stored (sealed personal data still sealed).
    pub payload: &'a Value,
    /// The metadata as stored (actor, role, request id, time, reason, …).
    pub metadata: &'a Value,
}

/// The canonical bytes of an event.
pub fn canonical_event(event: &EventFields<'_>) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(EVENT_TAG);
    field(&mut out, event.community_id.as_bytes())?;
    field(&mut out, &event.sequence.to_be_bytes())?;
    field(&mut out, event.event_type.as_bytes())?;
    field(&mut out, event.event_version.as_bytes())?;
    field(&mut out, &canonical_json(event.payload)?)?;
    field(&mut out, &canonical_json(event.metadata)?)?;
    Ok(out)
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), CanonicalError> {
    let length = u32::try_from(bytes.len()).map_err(|_| CanonicalError::TooLong(bytes.len()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// A JSON value as canonical JSON (RFC 8785 for integers, strings, booleans, null, arrays and
/// objects).
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            if let Some(n) = number.as_i64() {
                out.extend_from_slice(n.to_string().as_bytes());
            } else if let Some(n) = number.as_u64() {
                out.extend_from_slice(n.to_string().as_bytes());
            } else {
                return Err(CanonicalError::NotAnInteger(number.to_string()));
            }
        }
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, name);
                out.push(b':');
                write_value(out, member)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            c => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(value: &Value) -> String {
        String::from_utf8(canonical_json(value).expect("canonical")).expect("utf-8")
    }

    #[test]
    fn objects_are_sorted_by_utf16_code_units_without_whitespace() {
        // RFC 8785 §3.2.3: U+E000 sorts after U+1F600 in UTF-16 (surrogates are 0xD8xx), though
        // before it in UTF-8 byte order.
        let value = json!({"b": 1, "a": [true, null, "x"], "\u{e000}": 0, "\u{1f600}": 0});
        assert_eq!(
            text(&value),
            "{\"a\":[true,null,\"x\"],\"b\":1,\"😀\":0,\"\u{e000}\":0}"
        );
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        let value = json!("a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}/é😀");
        assert_eq!(
            text(&value),
            "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001f/é😀\""
        );
    }

    #[test]
    fn integers_are_plain_and_other_numbers_are_refused() {
        assert_eq!(
            text(&json!([-7, 0, 18446744073709551615u64])),
            "[-7,0,18446744073709551615]"
        );
        assert_eq!(
            canonical_json(&json!(1.5)),
            Err(CanonicalError::NotAnInteger("1.5".to_owned()))
        );
    }

    #[test]
    fn an_event_is_its_tag_and_six_length_prefixed_fields() {
        let payload = json!({"MembersUpdated": {"count": 12}});
        let metadata = json!({"request_id": "r-1", "actor_id": "token:x"});
        let bytes = canonical_event(&EventFields {
            community_id: "0193e2a1-0000-7000-8000-000000000001",
            sequence: 2,
            event_type: "MembersUpdated",
            event_version: "1.0",
            payload: &payload,
            metadata: &metadata,
        })
        .expect("canonical");
        let mut expected = b"simpul-event-v1".to_vec();
        for field in [
            b"0193e2a1-0000-7000-8000-000000000001".as_slice(),
            &2u64.to_be_bytes(),
            b"MembersUpdated",
            b"1.0",
            b"{\"MembersUpdated\":{\"count\":12}}",
            b"{\"actor_id\":\"token:x\",\"request_id\":\"r-1\"}",
        ] {
            expected.extend_from_slice(&(field.len() as u32).to_be_bytes());
            expected.extend_from_slice(field);
        }
        assert_eq!(bytes, expected);
    }
}
