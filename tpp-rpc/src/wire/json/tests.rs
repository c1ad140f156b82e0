use serde::Deserialize;
use serde_json::Value;

use super::*;

const BIG: &str = "1267650600228229401496703205376"; // 2**100

#[test]
fn stand_ins_keep_every_offset_and_skip_strings() {
    let text = r#"{"a": NaN, "b": [Infinity, -Infinity], "s": "NaN \" Infinity", "n": -1}"#;
    let copy = replace_literals(text).unwrap();
    assert_eq!(copy.len(), text.len());
    assert_eq!(
        copy,
        r#"{"a": "a", "b": ["aaaaaa", "aaaaaaa"], "s": "NaN \" Infinity", "n": -1}"#
    );
    assert!(serde_json::from_str::<Value>(&copy).is_ok());
    assert_eq!(replace_literals(r#"{"s": "NaN", "x": 1e5}"#), None);
    assert_eq!(
        replace_literals(r#"["\\", NaN]"#).as_deref(),
        Some(r#"["\\", "a"]"#)
    );
}

#[test]
fn floats_take_the_literals_everywhere() {
    let v: Vec<f64> = from_str("[NaN, Infinity, -Infinity, 1.5]").unwrap();
    assert!(v[0].is_nan());
    assert_eq!(v[1..], [f64::INFINITY, f64::NEG_INFINITY, 1.5]);
    let v: Option<f32> = from_str("NaN").unwrap();
    assert!(v.unwrap().is_nan());
    #[derive(Deserialize)]
    struct Nested {
        inner: Vec<Option<f64>>,
        #[allow(dead_code)]
        name: String,
    }
    let n: Nested = from_str(r#"{"name": "NaN", "inner": [null, -Infinity]}"#).unwrap();
    assert_eq!(n.inner, [None, Some(f64::NEG_INFINITY)]);
    #[derive(Deserialize)]
    enum Shape {
        Point(f64),
        Box { w: f64 },
    }
    let s: Shape = from_str(r#"{"Point": NaN}"#).unwrap();
    assert!(matches!(s, Shape::Point(x) if x.is_nan()));
    let s: Shape = from_str(r#"{"Box": {"w": Infinity}}"#).unwrap();
    assert!(matches!(s, Shape::Box { w } if w == f64::INFINITY));
}

#[test]
fn raw_values_keep_the_original_text() {
    let text = format!(r#"{{"x": NaN, "y": [-Infinity, {BIG}], "s": "Infinity"}}"#);
    let raw: Box<RawValue> = from_str(&text).unwrap();
    assert_eq!(raw.get(), text);
    #[derive(Deserialize)]
    struct Holder {
        y: Box<RawValue>,
        z: Option<Box<RawValue>>,
    }
    let h: Holder = from_str(&format!(r#"{{"z": NaN, "y": [ -Infinity ,{BIG}]}}"#)).unwrap();
    assert_eq!(h.y.get(), format!("[ -Infinity ,{BIG}]"));
    assert_eq!(h.z.unwrap().get(), "NaN");
    // Serializing writes the text back as it was.
    assert_eq!(serde_json::to_string(&raw).unwrap(), text);
    assert_eq!(raw_of_checked("[NaN]").unwrap().get(), "[NaN]");
}

#[test]
fn big_integers_fit_wide_integers_and_are_refused_by_narrow_ones() {
    let n: i128 = from_str(BIG).unwrap();
    assert_eq!(n, 1 << 100);
    let n: i128 = from_str(&format!("-{BIG}")).unwrap();
    assert_eq!(n, -(1 << 100));
    let n: u128 = from_str(BIG).unwrap();
    assert_eq!(n, 1 << 100);
    let f: f64 = from_str(BIG).unwrap();
    // serde_json's reading of a long integer as a float may be one ulp off.
    assert!((f / 2f64.powi(100) - 1.0).abs() < 1e-15, "{f}");
    #[derive(Deserialize, Debug)]
    struct Params {
        #[allow(dead_code)]
        n: i64,
    }
    let error = from_str::<Params>(&format!(r#"{{"n": {BIG}}}"#)).unwrap_err();
    assert_eq!(error.path(), Some("n"));
    assert!(
        error.to_string().contains("integer out of range for i64"),
        "{error}"
    );
}

#[test]
fn types_that_cannot_hold_a_literal_say_which_value() {
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Params {
        name: String,
        values: Vec<Value>,
        n: Option<i64>,
    }
    let error = from_str::<Params>(r#"{"name": "x", "values": [1, NaN]}"#).unwrap_err();
    assert_eq!(error.path(), Some("values[1]"));
    assert!(error.to_string().contains("NaN cannot be held"), "{error}");
    let error = from_str::<Params>(r#"{"name": Infinity, "values": []}"#).unwrap_err();
    assert_eq!(error.path(), Some("name"));
    let error = from_str::<Params>(r#"{"name": "", "values": [], "n": -Infinity}"#).unwrap_err();
    assert_eq!(error.path(), Some("n"));
    assert!(
        error
            .to_string()
            .contains("-Infinity cannot be held by i64"),
        "{error}"
    );
    // Errors without literals name their place too.
    let error = from_str::<Params>(r#"{"name": 5, "values": []}"#).unwrap_err();
    assert_eq!(error.path(), Some("name"));
    // Not JSON at all, even for Python.
    let error = from_str::<Vec<f64>>("[NaN, nope]").unwrap_err();
    assert!(error.inner().is_syntax(), "{error}");
    assert!(from_str::<Value>("[NaN] x").is_err());
    assert!(from_str::<Value>("[NaNa]").is_err());
}

#[test]
fn lenient_reading_gives_value_null() {
    let text = r#"[NaN, 1]"#;
    let copy = replace_literals(text).unwrap();
    let literals = Literals {
        original: text,
        sanitized: &copy,
        lenient: true,
    };
    let mut de = serde_json::Deserializer::from_str(&copy);
    let v: Value = Deserialize::deserialize(Wrap {
        de: &mut de,
        literals,
    })
    .unwrap();
    assert_eq!(v, serde_json::json!([null, 1]));
}

#[test]
fn checked_text_gives_raw_values_without_a_second_read() {
    #[derive(serde::Deserialize)]
    #[serde(transparent)]
    struct Any(Box<RawValue>);
    for text in [
        r#"{"x": NaN, "n": 1267650600228229401496703205376}"#,
        "[1, 2.50]",
        "\"é\"",
        "null",
    ] {
        let raw: Box<RawValue> = from_checked_str(text).unwrap();
        assert_eq!(raw.get(), text);
        let Any(raw) = from_checked_str(text).unwrap();
        assert_eq!(raw.get(), text);
    }
    // Any other type is read as `from_str` reads it, errors included.
    let x: Vec<f64> = from_checked_str("[1.5, NaN]").unwrap();
    assert!(x[1].is_nan());
    let v: Option<Box<RawValue>> = from_checked_str("[1]").unwrap();
    assert_eq!(v.unwrap().get(), "[1]");
    #[derive(serde::Deserialize, Debug)]
    struct Params {
        #[allow(dead_code)]
        n: i64,
    }
    let error = from_checked_str::<Params>(r#"{"n": "x"}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        from_str::<Params>(r#"{"n": "x"}"#).unwrap_err().to_string()
    );
}
