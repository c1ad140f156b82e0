//! The serializer against serde_json: the same bytes and the same errors.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::to_vec;

fn same<T: Serialize + ?Sized>(value: &T) {
    match (to_vec(value), serde_json::to_vec(value)) {
        (Ok(ours), Ok(theirs)) => assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        ),
        (Err(ours), Err(theirs)) => assert_eq!(ours.to_string(), theirs.to_string()),
        (ours, theirs) => panic!("ours {ours:?}, serde_json {theirs:?}"),
    }
}

#[derive(Serialize)]
enum Shape {
    Unit,
    Newtype(u8),
    Tuple(i32, String),
    Struct { a: f64, b: Option<&'static str> },
    Empty {},
}

#[derive(Serialize)]
struct Everything<'a> {
    unit: (),
    none: Option<u8>,
    some: Option<i128>,
    floats: [f64; 5],
    small: f32,
    big: u128,
    chars: [char; 3],
    bytes: &'a [u8],
    #[serde(with = "serde_bytes_like")]
    as_bytes: &'a [u8],
    shapes: Vec<Shape>,
    raw: &'a RawValue,
    boxed_raw: Box<RawValue>,
    int_keys: BTreeMap<i64, &'a str>,
    bool_keys: BTreeMap<bool, u8>,
    char_keys: BTreeMap<char, u8>,
    enum_keys: Vec<(BTreeMap<&'static str, ()>,)>,
    empty_vec: Vec<u8>,
    empty_map: HashMap<String, u8>,
    unit_struct: UnitStruct,
    newtype: Newtype,
    tuple_struct: TupleStruct,
    #[serde(flatten)]
    flattened: BTreeMap<String, Value>,
}

mod serde_bytes_like {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }
}

#[derive(Serialize)]
struct UnitStruct;

#[derive(Serialize)]
struct Newtype(&'static str);

#[derive(Serialize)]
struct TupleStruct(u8, &'static str);

#[test]
fn writes_every_serde_shape_as_serde_json() {
    let raw =
        RawValue::from_string(r#"{"x": [1, 2.50, "\u00e9"], "n": 1e400}"#.to_owned()).unwrap();
    let value = Everything {
        unit: (),
        none: None,
        some: Some(-170141183460469231731687303715884105728),
        floats: [0.1, -0.0, 1e300, f64::NAN, f64::INFINITY],
        small: 1.1,
        big: u128::MAX,
        chars: ['"', '\u{1}', 'é'],
        bytes: b"ab\0",
        as_bytes: b"\x01\xff",
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(7),
            Shape::Tuple(-1, "t\"".into()),
            Shape::Struct {
                a: 2.5,
                b: Some("\n"),
            },
            Shape::Struct { a: 0.0, b: None },
            Shape::Empty {},
        ],
        raw: &raw,
        boxed_raw: raw.clone(),
        int_keys: BTreeMap::from([(-5, "a"), (10, "b\\")]),
        bool_keys: BTreeMap::from([(true, 1), (false, 0)]),
        char_keys: BTreeMap::from([('"', 1)]),
        enum_keys: vec![(BTreeMap::from([("k\u{1f}", ())]),)],
        empty_vec: vec![],
        empty_map: HashMap::new(),
        unit_struct: UnitStruct,
        newtype: Newtype("n"),
        tuple_struct: TupleStruct(1, "x"),
        flattened: BTreeMap::from([("flat\t".to_owned(), Value::from(1))]),
    };
    same(&value);
    same(&raw);
    same("plain");
    same(&Shape::Unit);
}

#[test]
fn refuses_the_keys_serde_json_refuses() {
    same(&BTreeMap::from([((1, 2), 0)]));
    same(&BTreeMap::from([(vec![1], 0)]));
    same(&BTreeMap::from([(None::<u8>, 0)]));
    same(&BTreeMap::from([(Some(3), 0)]));
    same(&HashMap::from([(ordered(f64::NAN), 0)]));
    same(&HashMap::from([(ordered(1.5), 0)]));
    same(&BTreeMap::from([(UnitStruct, 0)]));
}

/// A float usable as a map key (compared by its bits).
#[derive(Serialize, PartialEq, Eq, Hash)]
#[serde(transparent)]
struct Bits(#[serde(serialize_with = "as_float")] u64);

fn as_float<S: serde::Serializer>(bits: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(f64::from_bits(*bits))
}

fn ordered(f: f64) -> Bits {
    Bits(f.to_bits())
}

impl PartialOrd for UnitStruct {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for UnitStruct {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl PartialEq for UnitStruct {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for UnitStruct {}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[a-z\"\\\\\\n\\u{0}-\\u{1f}é]{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn writes_any_value_as_serde_json(value in any_value()) {
        prop_assert_eq!(to_vec(&value).unwrap(), serde_json::to_vec(&value).unwrap());
    }
}
