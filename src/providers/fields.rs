//! Reading a provider's name/value pairs (a webhook's form, a JSON body flattened to its
//! top-level scalars) the same way in every adapter: blank values count as absent, and
//! optional numbers that do not parse are left out rather than failing the whole report.

/// The first value of `name`, trimmed, if present and not blank.
pub fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .find(|v| !v.is_empty())
}

/// The first of `names` that is present and not blank.
pub fn first_of<'a>(params: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| field(params, n))
}

/// An optional text, trimmed, as an owned string if not blank.
pub fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// An optional whole number; text that is not one is absent. A decimal (`"12.0"`) is
/// taken by its whole part, as some APIs write seconds that way.
pub fn whole_number(v: Option<&str>) -> Option<i64> {
    let v = v?.trim();
    v.parse::<i64>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| f.trunc() as i64)
    })
}

/// The pairs of a form-encoded body (or query string), in order, repeated names kept.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// A JSON object's top-level scalars as name/value pairs (strings as they are, numbers
/// and booleans as text); nested values and nulls are left out.
pub fn json_pairs(value: &serde_json::Value) -> Vec<(String, String)> {
    let Some(object) = value.as_object() else {
        return Vec::new();
    };
    object
        .iter()
        .filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn blank_values_are_absent() {
        let p = pairs(&[("A", " "), ("A", " x "), ("B", "")]);
        assert_eq!(field(&p, "A"), Some("x"));
        assert_eq!(field(&p, "B"), None);
        assert_eq!(first_of(&p, &["B", "A"]), Some("x"));
        assert_eq!(non_empty(Some("  ")), None);
    }

    #[test]
    fn numbers_are_read_leniently() {
        assert_eq!(whole_number(Some("42")), Some(42));
        assert_eq!(whole_number(Some(" 12.0 ")), Some(12));
        assert_eq!(whole_number(Some("forty")), None);
        assert_eq!(whole_number(None), None);
    }

    #[test]
    fn json_scalars_become_pairs() {
        let v = serde_json::json!({"a": "x", "n": 3, "b": true, "o": {"k": 1}, "z": null});
        let mut p = json_pairs(&v);
        p.sort();
        assert_eq!(p, pairs(&[("a", "x"), ("b", "true"), ("n", "3")]));
        assert!(json_pairs(&serde_json::json!([1])).is_empty());
    }
}
