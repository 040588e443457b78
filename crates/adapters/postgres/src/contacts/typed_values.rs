//! The `emails` and `phones` columns: lists of values with their types, kept as `json`
//! (`[{"value": str, "type": str|null}]`) so a card's whole list fits one column in card order.
//! `json`, not `jsonb`: nothing queries inside a list, and `json` is stored as the text it was
//! given and read back as it is, where `jsonb` was turned into text again at every read.

use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Json;
use serde_json::Value;

use contacts_domain::contact::TypedValue;

/// The `emails` or `phones` column (`json`, `[{"value": str, "type": str|null}]`) read straight
/// into domain values: a page of contacts decodes two of them a row, and going through a
/// `serde_json::Value` tree first cost more than the rest of the row (`just profile`).
#[derive(diesel::deserialize::FromSqlRow)]
pub(crate) struct JsonValues(Vec<TypedValue>);

impl From<JsonValues> for Vec<TypedValue> {
    fn from(values: JsonValues) -> Self {
        values.0
    }
}

impl diesel::deserialize::FromSql<Json, Pg> for JsonValues {
    fn from_sql(value: PgValue<'_>) -> diesel::deserialize::Result<Self> {
        // `json`'s binary form is its text.
        Ok(Self(decode(value.as_bytes())?))
    }
}

/// The JSON text of an `emails` or `phones` column as domain values, holding no spare room: a
/// list grown while decoding keeps room for four entries, and most contacts have one. A page
/// of 1,000 would hold about 0.3 MB of that, each of its concurrent copies too.
fn decode(json: &[u8]) -> Result<Vec<TypedValue>, serde_json::Error> {
    /// One entry as the adapter writes it ([`typed_json`]).
    #[derive(serde::Deserialize)]
    struct Entry {
        value: String,
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let mut values: Vec<TypedValue> = match serde_json::from_slice::<Vec<Entry>>(json) {
        Ok(entries) => entries.into_iter().map(|e| TypedValue { value: e.value, kind: e.kind }).collect(),
        // Anything else the column might hold: what can be read of it.
        Err(_) => typed_values(serde_json::from_slice(json)?),
    };
    values.shrink_to_fit();
    Ok(values)
}

/// A JSON list `[{"value": str, "type": str|null}]` as domain values (anything else is skipped).
fn typed_values(json: Value) -> Vec<TypedValue> {
    let Value::Array(items) = json else { return Vec::new() };
    items
        .into_iter()
        .filter_map(|item| {
            let value = item.get("value")?.as_str()?.to_owned();
            let kind = item.get("type").and_then(Value::as_str).map(str::to_owned);
            Some(TypedValue { value, kind })
        })
        .collect()
}

/// Domain values as the JSON list the `emails` and `phones` columns hold.
pub(super) fn typed_json(values: &[TypedValue]) -> Value {
    Value::Array(values.iter().map(|v| serde_json::json!({"value": v.value, "type": v.kind})).collect())
}

/// A list of one untyped entry.
pub(super) fn single(value: &str) -> Value {
    typed_json(&[TypedValue { value: value.to_owned(), kind: None }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decoded_list_keeps_every_entry_in_order_and_no_spare_room() {
        let one = decode(br#"[{"value": "ada@example.com", "type": "home"}]"#).unwrap();
        assert_eq!(one, [TypedValue { value: "ada@example.com".into(), kind: Some("home".into()) }]);
        assert_eq!(one.capacity(), 1);
        let three =
            decode(br#"[{"value": "1", "type": null}, {"value": "2"}, {"value": "3", "type": "cell"}]"#).unwrap();
        let values: Vec<&str> = three.iter().map(|v| v.value.as_str()).collect();
        assert_eq!(values, ["1", "2", "3"]);
        assert_eq!(three.capacity(), 3);
        assert_eq!(decode(b"[]").unwrap().capacity(), 0);
    }

    #[test]
    fn what_is_not_such_a_list_gives_what_can_be_read_of_it() {
        let mixed = decode(br#"[{"value": "ok"}, {"type": "home"}, 7, {"value": 1}]"#).unwrap();
        assert_eq!(mixed, [TypedValue { value: "ok".into(), kind: None }]);
        assert_eq!(mixed.capacity(), 1);
        assert_eq!(decode(br#"{"value": "x"}"#).unwrap(), []);
        assert!(decode(b"not json").is_err());
    }
}
