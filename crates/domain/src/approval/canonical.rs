//! RFC 8785 JSON Canonicalization Scheme (JCS) for the values approval requests are made of:
//! objects with members sorted by their UTF-16 code units, no whitespace, strings escaped as
//! ECMAScript's `JSON.stringify` does, and integers. A pipeline computing a request's digest in
//! another language with any JCS library gets the same bytes.

use serde_json::Value;

/// Why a value has no canonical form here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A non-integer number: JCS needs ECMAScript number formatting, which requests never need.
    #[error("only whole numbers are supported in canonical JSON, found {0}")]
    Fraction(String),
}

/// The canonical (RFC 8785) serialization of `value`.
pub fn canonical_json(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (None, Some(u)) => out.push_str(&u.to_string()),
            _ => return Err(CanonicalError::Fraction(n.to_string())),
        },
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            // RFC 8785 §3.2.3: by UTF-16 code units, which differs from UTF-8 byte order for
            // characters above U+FFFF versus U+E000..U+FFFF.
            sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write_value(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// ECMAScript `JSON.stringify` string escaping (RFC 8785 §3.2.2.2).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_sorted_and_whitespace_dropped() {
        let value = json!({"b": [1, {"z": null, "a": true}], "a": "x"});
        assert_eq!(canonical_json(&value).unwrap(), r#"{"a":"x","b":[1,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn strings_are_escaped_as_ecmascript_does() {
        let value = json!("\u{20ac}$\u{000F}\u{000a}A'\u{0042}\u{0022}\u{005c}\\\"/");
        // RFC 8785 §3.2.2.2's example string.
        assert_eq!(canonical_json(&value).unwrap(), "\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"");
        assert_eq!(canonical_json(&json!("\u{8}\t\u{c}\r")).unwrap(), r#""\b\t\f\r""#);
    }

    #[test]
    fn sorting_is_by_utf16_code_units() {
        // RFC 8785 §3.2.3's example: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
        let value = json!({"\u{fb33}": 1, "\u{1f600}": 2, "\r": 3, "1": 4, "\u{80}": 5, "\u{f6}": 6});
        let text = canonical_json(&value).unwrap();
        let order: Vec<&str> = ["\\r", "1", "\u{80}", "\u{f6}", "\u{1f600}", "\u{fb33}"].to_vec();
        let mut last = 0;
        for key in order {
            let at = text.find(&format!("\"{key}\"")).unwrap();
            assert!(at >= last, "{key} out of order in {text}");
            last = at;
        }
    }

    #[test]
    fn fractions_are_refused() {
        assert!(canonical_json(&json!({"a": 1.5})).is_err());
        assert_eq!(canonical_json(&json!([-3, 18446744073709551615u64])).unwrap(), "[-3,18446744073709551615]");
    }
}
