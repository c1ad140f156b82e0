//! Compile-time check of `#[param(default = "<json>")]` against the parameter's type, for the
//! types the macro can recognize by name (numbers, `bool`, strings, `Option`, sequences, maps).
//! Other types are checked when the server value is built (`<Trait>Server::new`).

use syn::{GenericArgument, PathArguments, Type};

/// The JSON a type accepts, as far as its name tells.
enum Expect {
    /// An integer within these bounds.
    Integer(i128, i128),
    /// Any number.
    Number,
    Bool,
    Str,
    Char,
    /// `null`, or what the inner type accepts (unknown inner: anything).
    Option(Option<Box<Expect>>),
    /// An array of the inner type (unknown inner: of anything).
    Array(Option<Box<Expect>>),
    Object,
}

/// `Err(why)` when `json` cannot be a value of `ty`; `Ok` when it can, or when the macro
/// cannot tell.
pub(crate) fn check(ty: &Type, json: &serde_json::Value) -> Result<(), String> {
    match expect_of(ty) {
        Some(expect) => check_value(&expect, json, ty),
        None => Ok(()),
    }
}

fn check_value(expect: &Expect, json: &serde_json::Value, ty: &Type) -> Result<(), String> {
    use serde_json::Value as V;
    let ok = match (expect, json) {
        (Expect::Integer(min, max), V::Number(n)) => {
            let value = n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from));
            match value {
                Some(v) if v < *min || v > *max => {
                    return Err(format!(
                        "{json} is out of the range of `{}` ({min}..={max})",
                        type_text(ty)
                    ))
                }
                Some(_) => true,
                None => false,
            }
        }
        (Expect::Number, V::Number(_)) => true,
        (Expect::Bool, V::Bool(_)) => true,
        (Expect::Str, V::String(_)) => true,
        (Expect::Char, V::String(s)) => s.chars().count() == 1,
        (Expect::Option(_), V::Null) => true,
        (Expect::Option(Some(inner)), other) => check_value(inner, other, ty).is_ok(),
        (Expect::Option(None), _) => true,
        (Expect::Array(inner), V::Array(items)) => {
            if let Some(inner) = inner {
                for (i, item) in items.iter().enumerate() {
                    if check_value(inner, item, ty).is_err() {
                        return Err(format!(
                            "item {i} of {json} is {}, but `{}` takes {}",
                            json_kind(item),
                            type_text(ty),
                            expect_text(expect)
                        ));
                    }
                }
            }
            true
        }
        (Expect::Object, V::Object(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let hint = if matches!(expect, Expect::Str) {
            " (quoted inside the attribute: `default = \"\\\"text\\\"\"`)"
        } else {
            ""
        };
        Err(format!(
            "{} is {}, but `{}` takes {}{hint}",
            json,
            json_kind(json),
            type_text(ty),
            expect_text(expect)
        ))
    }
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    use serde_json::Value as V;
    match json {
        V::Null => "null",
        V::Bool(_) => "a boolean",
        V::Number(n) if n.is_f64() => "a decimal number",
        V::Number(n) if n.as_i64().is_some_and(|v| v < 0) => "a negative integer",
        V::Number(_) => "an integer",
        V::String(_) => "a string",
        V::Array(_) => "an array",
        V::Object(_) => "an object",
    }
}

fn expect_text(expect: &Expect) -> String {
    match expect {
        Expect::Integer(0, _) => "an unsigned integer".to_owned(),
        Expect::Integer(..) => "an integer".to_owned(),
        Expect::Number => "a number".to_owned(),
        Expect::Bool => "`true` or `false`".to_owned(),
        Expect::Str => "a JSON string".to_owned(),
        Expect::Char => "a string of one character".to_owned(),
        Expect::Option(Some(inner)) => format!("null or {}", expect_text(inner)),
        Expect::Option(None) => "null or a value".to_owned(),
        Expect::Array(Some(inner)) => {
            format!("an array whose items are each {}", expect_text(inner))
        }
        Expect::Array(None) => "an array".to_owned(),
        Expect::Object => "an object".to_owned(),
    }
}

/// The JSON of `<ty as Default>::default()`, for the types the macro recognizes by name
/// (announced by `list-funcs`; the description serializes the real value).
pub(crate) fn type_default_json(ty: &Type) -> Option<String> {
    Some(
        match expect_of(ty)? {
            Expect::Integer(..) => "0",
            Expect::Number => "0.0",
            Expect::Bool => "false",
            Expect::Str => "\"\"",
            Expect::Char => "\"\\u0000\"",
            Expect::Option(_) => "null",
            Expect::Array(_) if matches!(ty, Type::Path(_)) => "[]",
            Expect::Array(_) => return None,
            Expect::Object => "{}",
        }
        .to_owned(),
    )
}

fn type_text(ty: &Type) -> String {
    crate::model::type_string(ty)
}

fn expect_of(ty: &Type) -> Option<Expect> {
    let inner = |ty: &Type| expect_of(ty).map(Box::new);
    match ty {
        Type::Array(array) => return Some(Expect::Array(inner(&array.elem))),
        Type::Slice(slice) => return Some(Expect::Array(inner(&slice.elem))),
        Type::Paren(paren) => return expect_of(&paren.elem),
        Type::Group(group) => return expect_of(&group.elem),
        _ => {}
    }
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    let first_arg = || match &last.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    };
    let bounds = |bits: u32, signed: bool| {
        if signed {
            let max = (1i128 << (bits - 1)) - 1;
            Expect::Integer(-max - 1, max)
        } else {
            let max = if bits >= 127 {
                i128::MAX
            } else {
                (1i128 << bits) - 1
            };
            Expect::Integer(0, max)
        }
    };
    Some(match last.ident.to_string().as_str() {
        "u8" => bounds(8, false),
        "u16" => bounds(16, false),
        "u32" => bounds(32, false),
        "u64" | "usize" => bounds(64, false),
        "u128" => bounds(127, false),
        "i8" => bounds(8, true),
        "i16" => bounds(16, true),
        "i32" => bounds(32, true),
        "i64" | "isize" => bounds(64, true),
        "i128" => Expect::Integer(i128::MIN, i128::MAX),
        "f32" | "f64" => Expect::Number,
        "bool" => Expect::Bool,
        "String" | "str" => Expect::Str,
        "char" => Expect::Char,
        "Option" => Expect::Option(first_arg().and_then(inner)),
        "Vec" | "VecDeque" | "HashSet" | "BTreeSet" | "LinkedList" => {
            Expect::Array(first_arg().and_then(inner))
        }
        "HashMap" | "BTreeMap" => Expect::Object,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_str(ty: &str, json: &str) -> Result<(), String> {
        let ty: Type = syn::parse_str(ty).unwrap();
        check(&ty, &serde_json::from_str(json).unwrap())
    }

    #[test]
    fn known_types_are_checked() {
        assert!(check_str("u32", "10").is_ok());
        let e = check_str("u32", "\"ten\"").unwrap_err();
        assert_eq!(
            e,
            "\"ten\" is a string, but `u32` takes an unsigned integer"
        );
        assert!(check_str("u8", "300")
            .unwrap_err()
            .contains("out of the range"));
        assert!(check_str("u32", "-1").is_err());
        assert!(check_str("i32", "-1").is_ok());
        assert!(check_str("f64", "1.5").is_ok());
        assert!(check_str("u32", "1.5").is_err());
        assert!(check_str("String", "\"main\"").is_ok());
        assert!(check_str("Option<u32>", "null").is_ok());
        assert!(check_str("Option<u32>", "\"x\"").is_err());
        assert!(check_str("Vec<String>", "[\"a\", \"b\"]").is_ok());
        assert!(check_str("Vec<String>", "[\"a\", 1]").is_err());
        assert!(check_str("std::collections::HashMap<String, u32>", "{}").is_ok());
        assert!(check_str("bool", "0").is_err());
    }

    #[test]
    fn unknown_types_pass() {
        assert!(check_str("MyType", "\"anything\"").is_ok());
        assert!(check_str("Vec<MyType>", "[1, \"x\"]").is_ok());
    }
}
