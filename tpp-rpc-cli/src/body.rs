//! From command-line arguments to a request's JSON: the body (one JSON value,
//! `KEY=VALUE` and `KEY:=JSON` pairs, `-` for standard input, `@FILE`) and the
//! extra top-level fields (`--field KEY=VALUE` or `KEY:=JSON`).
//!
//! Pairs follow HTTPie: `KEY=VALUE` is always a string (a commit id such as
//! `1234e5` is never turned into a number), `KEY:=JSON` is raw JSON.
//!
//! Bodies stay JSON text ([`RawValue`]) from the argument to the socket, so
//! numbers keep their exact digits (Python integers have no size limit), and
//! Python's `NaN`, `Infinity` and `-Infinity` are accepted and sent as written.

use std::fmt;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Why the arguments do not make a body.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The lone argument (or stdin, or the file) is not JSON.
    BadJson {
        /// Where it came from: "argument", "standard input", "file x".
        source: String,
        /// serde_json's message (line and column).
        reason: String,
    },
    /// Several arguments, one of which is not `KEY=VALUE` or `KEY:=JSON`.
    NotAPair(String),
    /// The JSON of a `KEY:=JSON` pair is not JSON.
    BadPairJson {
        /// The key.
        key: String,
        /// serde_json's message.
        reason: String,
    },
    /// `=VALUE`.
    EmptyKey(String),
    /// The same key twice.
    DuplicateKey(String),
    /// Standard input or the file could not be read, or was empty.
    Read {
        /// What was read.
        source: String,
        /// Why it failed.
        reason: String,
    },
    /// A `--field` that would overwrite the envelope.
    ReservedField(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::BadJson { source, reason } => write!(
                f,
                "the body ({source}) is not valid JSON: {reason}\n  \
                 quote a string body ('\"text\"'), or send fields as KEY=VALUE (a string) \
                 or KEY:=JSON"
            ),
            BodyError::NotAPair(arg) => write!(
                f,
                "expected KEY=VALUE or KEY:=JSON, got {arg:?}: a JSON, `-` or @FILE body must be \
                 the only body argument"
            ),
            BodyError::BadPairJson { key, reason } => write!(
                f,
                "the value of {key}:= is not valid JSON: {reason}\n  \
                 use {key}=VALUE to send it as a string"
            ),
            BodyError::EmptyKey(arg) => write!(f, "empty key in {arg:?}"),
            BodyError::DuplicateKey(key) => write!(f, "key {key:?} given twice"),
            BodyError::Read { source, reason } => {
                write!(f, "cannot read the body from {source}: {reason}")
            }
            BodyError::ReservedField(key) => write!(
                f,
                "--field {key}=… would replace the request's own {key:?}; use the body or --token"
            ),
        }
    }
}

/// Where a lone `-` or `@FILE` argument reads from; a seam for tests.
pub trait Input {
    /// All of standard input.
    fn stdin(&mut self) -> std::io::Result<String>;
    /// All of a file.
    fn file(&mut self, path: &str) -> std::io::Result<String>;
}

/// The real standard input and file system.
pub struct RealInput;

impl Input for RealInput {
    fn stdin(&mut self) -> std::io::Result<String> {
        std::io::read_to_string(std::io::stdin())
    }

    fn file(&mut self, path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// One `KEY=VALUE` or `KEY:=JSON` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pair<'a> {
    key: &'a str,
    value: &'a str,
    /// `:=`: the value is JSON.
    json: bool,
}

/// Whether `arg` reads as a pair (and not as a JSON value that contains
/// `=`): the key ends at the first `=`, and a `:` just before it makes the
/// value JSON, as in HTTPie.
fn split_pair(arg: &str) -> Option<Pair<'_>> {
    if arg.starts_with(['{', '[', '"']) {
        return None;
    }
    let (key, value) = arg.split_once('=')?;
    Some(match key.strip_suffix(':') {
        Some(key) => Pair {
            key,
            value,
            json: true,
        },
        None => Pair {
            key,
            value,
            json: false,
        },
    })
}

/// A pair's value as JSON text: the string, or the JSON as written.
fn pair_value(pair: &Pair<'_>) -> Result<Box<RawValue>, BodyError> {
    if !pair.json {
        return Ok(string_raw(pair.value));
    }
    tpp_rpc::json::from_str::<Box<RawValue>>(pair.value.trim()).map_err(|e| {
        BodyError::BadPairJson {
            key: pair.key.to_owned(),
            reason: e.to_string(),
        }
    })
}

fn string_raw(text: &str) -> Box<RawValue> {
    let quoted = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
    RawValue::from_string(quoted).unwrap_or_else(|_| empty_object())
}

fn empty_object() -> Box<RawValue> {
    // `{}` is valid JSON: the fallback cannot fail, but never panic for it.
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

fn parse_json(text: &str, source: &str) -> Result<Box<RawValue>, BodyError> {
    if text.trim().is_empty() {
        return Err(BodyError::Read {
            source: source.to_owned(),
            reason: "it is empty; expected a JSON body".into(),
        });
    }
    // Python's JSON: NaN and Infinity too, sent as written.
    tpp_rpc::json::from_str::<Box<RawValue>>(text.trim()).map_err(|e| BodyError::BadJson {
        source: source.to_owned(),
        reason: e.to_string(),
    })
}

fn pairs<'a>(args: impl Iterator<Item = &'a str>) -> Result<Vec<Pair<'a>>, BodyError> {
    let mut seen: Vec<Pair<'a>> = Vec::new();
    for arg in args {
        let pair = split_pair(arg).ok_or_else(|| BodyError::NotAPair(arg.to_owned()))?;
        if pair.key.is_empty() {
            return Err(BodyError::EmptyKey(arg.to_owned()));
        }
        if seen.iter().any(|p| p.key == pair.key) {
            return Err(BodyError::DuplicateKey(pair.key.to_owned()));
        }
        seen.push(pair);
    }
    Ok(seen)
}

/// The request body from the arguments after the action. No argument is `{}`.
pub fn build_body(args: &[String], input: &mut dyn Input) -> Result<Box<RawValue>, BodyError> {
    match args {
        [] => Ok(empty_object()),
        [only] if only == "-" => {
            let text = input.stdin().map_err(|e| BodyError::Read {
                source: "standard input".into(),
                reason: e.to_string(),
            })?;
            parse_json(&text, "standard input")
        }
        [only] if only.starts_with('@') && only.len() > 1 => {
            let path = &only[1..];
            let source = format!("file {path}");
            let text = input.file(path).map_err(|e| BodyError::Read {
                source: source.clone(),
                reason: e.to_string(),
            })?;
            parse_json(&text, &source)
        }
        [only] if split_pair(only).is_none() => parse_json(only, "argument"),
        _ => {
            let pairs = pairs(args.iter().map(String::as_str))?;
            let mut text = String::from("{");
            for (i, pair) in pairs.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&serde_json::to_string(pair.key).unwrap_or_default());
                text.push(':');
                text.push_str(pair_value(pair)?.get());
            }
            text.push('}');
            tpp_rpc::json::from_str::<Box<RawValue>>(&text).map_err(|e| BodyError::BadJson {
                source: "KEY=VALUE arguments".into(),
                reason: e.to_string(),
            })
        }
    }
}

/// The keys given as `KEY=VALUE` (strings, which a description may convert), when the
/// arguments are pairs.
pub fn string_keys(args: &[String]) -> Vec<String> {
    let is_pairs =
        !matches!(args, [] | [_]) || args.first().is_some_and(|a| split_pair(a).is_some());
    if !is_pairs || args.first().is_some_and(|a| a == "-" || a.starts_with('@')) {
        return Vec::new();
    }
    args.iter()
        .filter_map(|a| split_pair(a))
        .filter(|p| !p.json)
        .map(|p| p.key.to_owned())
        .collect()
}

/// The extra top-level fields from `--field KEY=VALUE` arguments.
pub fn build_fields(args: &[String]) -> Result<Map<String, Value>, BodyError> {
    let mut fields = Map::new();
    for pair in pairs(args.iter().map(String::as_str))? {
        if matches!(pair.key, "token" | "action" | "body") {
            return Err(BodyError::ReservedField(pair.key.to_owned()));
        }
        let value = match pair.json {
            false => Value::String(pair.value.to_owned()),
            true => {
                serde_json::from_str::<Value>(pair.value).map_err(|e| BodyError::BadPairJson {
                    key: pair.key.to_owned(),
                    reason: e.to_string(),
                })?
            }
        };
        fields.insert(pair.key.to_owned(), value);
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        stdin: Option<String>,
    }

    impl Input for Fake {
        fn stdin(&mut self) -> std::io::Result<String> {
            self.stdin
                .take()
                .ok_or_else(|| std::io::Error::other("closed"))
        }

        fn file(&mut self, path: &str) -> std::io::Result<String> {
            match path {
                "body.json" => Ok("{\"from\": \"file\"}\n".into()),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "No such file or directory",
                )),
            }
        }
    }

    fn body(args: &[&str]) -> Result<String, BodyError> {
        body_with(args, None)
    }

    fn body_with(args: &[&str], stdin: Option<&str>) -> Result<String, BodyError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut input = Fake {
            stdin: stdin.map(str::to_owned),
        };
        build_body(&args, &mut input).map(|raw| raw.get().to_owned())
    }

    #[test]
    fn no_argument_is_an_empty_object() {
        assert_eq!(body(&[]).unwrap(), "{}");
    }

    #[test]
    fn one_json_argument_is_the_body_verbatim() {
        assert_eq!(body(&[r#"{"a": [1, 2.0]}"#]).unwrap(), r#"{"a": [1, 2.0]}"#);
        assert_eq!(body(&["[1,2]"]).unwrap(), "[1,2]");
        assert_eq!(body(&["null"]).unwrap(), "null");
        assert_eq!(body(&["-5"]).unwrap(), "-5");
        assert_eq!(body(&[r#""a=b""#]).unwrap(), r#""a=b""#);
        assert_eq!(body(&[r#"{"k": "x=y"}"#]).unwrap(), r#"{"k": "x=y"}"#);
        // Big integers keep every digit.
        assert_eq!(
            body(&["123456789012345678901234567890"]).unwrap(),
            "123456789012345678901234567890"
        );
        assert_eq!(body(&[" {} \n"]).unwrap(), "{}");
    }

    #[test]
    fn bad_json_says_where_and_how_to_fix_it() {
        let err = body(&["{\"a\": }"]).unwrap_err();
        match &err {
            BodyError::BadJson { source, reason } => {
                assert_eq!(source, "argument");
                assert!(reason.contains("line 1 column 7"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("KEY=VALUE"));
        assert!(matches!(body(&["hello"]), Err(BodyError::BadJson { .. })));
    }

    #[test]
    fn key_value_is_always_a_string() {
        assert_eq!(
            body(&[
                "name=ana",
                "named_tree=1234e5",
                "n=7",
                "zero=007",
                "ok=true",
                "none=null",
                "list=[1, \"x\"]",
                "quoted=\"5\"",
                "empty=",
                "eq=a=b",
                "colon:key=v",
                "é=ü",
            ])
            .unwrap(),
            r#"{"name":"ana","named_tree":"1234e5","n":"7","zero":"007","ok":"true","none":"null","list":"[1, \"x\"]","quoted":"\"5\"","empty":"","eq":"a=b","colon:key":"v","é":"ü"}"#
        );
        assert_eq!(body(&["a=1"]).unwrap(), r#"{"a":"1"}"#);
        assert_eq!(
            body(&["s=say \"hi\"\n"]).unwrap(),
            r#"{"s":"say \"hi\"\n"}"#
        );
    }

    #[test]
    fn key_colon_equals_is_raw_json() {
        assert_eq!(
            body(&[
                "n:=5",
                "f:=2.50",
                "ok:=true",
                "none:=null",
                "list:=[1, \"x\"]",
                "obj:={\"a\":1}",
                "s:=\"5\"",
                "big:=123456789012345678901234567890",
                "nan:=NaN",
                "inf:=-Infinity",
                "eq:=\"a=b\"",
            ])
            .unwrap(),
            r#"{"n":5,"f":2.50,"ok":true,"none":null,"list":[1, "x"],"obj":{"a":1},"s":"5","big":123456789012345678901234567890,"nan":NaN,"inf":-Infinity,"eq":"a=b"}"#
        );
        let err = body(&["n:=1234e5x"]).unwrap_err();
        assert!(
            matches!(&err, BodyError::BadPairJson { key, .. } if key == "n"),
            "{err:?}"
        );
        assert!(err.to_string().contains("use n=VALUE"), "{err}");
        assert!(matches!(body(&["n:="]), Err(BodyError::BadPairJson { .. })));
        assert_eq!(body(&[":=1"]), Err(BodyError::EmptyKey(":=1".into())));
        assert_eq!(
            body(&["a=1", "a:=2"]),
            Err(BodyError::DuplicateKey("a".into()))
        );
    }

    #[test]
    fn a_whole_body_may_hold_python_literals() {
        assert_eq!(body(&["[NaN, Infinity]"]).unwrap(), "[NaN, Infinity]");
        assert_eq!(
            body_with(&["-"], Some("{\"x\": -Infinity}\n")).unwrap(),
            "{\"x\": -Infinity}"
        );
        assert!(matches!(body(&["[nan]"]), Err(BodyError::BadJson { .. })));
    }

    #[test]
    fn pairs_are_checked() {
        assert_eq!(body(&["a=1", "{}"]), Err(BodyError::NotAPair("{}".into())));
        assert_eq!(body(&["a=1", "-"]), Err(BodyError::NotAPair("-".into())));
        assert_eq!(body(&["=1"]), Err(BodyError::EmptyKey("=1".into())));
        assert_eq!(
            body(&["a=1", "a=2"]),
            Err(BodyError::DuplicateKey("a".into()))
        );
    }

    #[test]
    fn reads_stdin_and_files() {
        assert_eq!(
            body_with(&["-"], Some("{\"steps\": 3}\n")).unwrap(),
            "{\"steps\": 3}"
        );
        assert!(matches!(
            body_with(&["-"], Some("  \n")),
            Err(BodyError::Read { .. })
        ));
        assert!(matches!(
            body_with(&["-"], Some("{")),
            Err(BodyError::BadJson { .. })
        ));
        assert!(matches!(
            body_with(&["-"], None),
            Err(BodyError::Read { .. })
        ));
        assert_eq!(body(&["@body.json"]).unwrap(), "{\"from\": \"file\"}");
        let err = body(&["@missing.json"]).unwrap_err();
        assert!(err.to_string().contains("file missing.json"), "{err}");
    }

    #[test]
    fn fields_parse_like_values_and_keep_the_envelope_safe() {
        let args: Vec<String> = ["user_id=5f2a", "n:=3", "flag:=true", "id=1234e5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fields = build_fields(&args).unwrap();
        assert_eq!(fields["user_id"], Value::from("5f2a"));
        assert_eq!(fields["n"], Value::from(3));
        assert_eq!(fields["flag"], Value::from(true));
        assert_eq!(fields["id"], Value::from("1234e5"));
        assert!(matches!(
            build_fields(&["n:=x".to_string()]),
            Err(BodyError::BadPairJson { .. })
        ));
        for reserved in ["token=x", "action=x", "body:=1"] {
            assert!(matches!(
                build_fields(&[reserved.to_string()]),
                Err(BodyError::ReservedField(_))
            ));
        }
        assert!(matches!(
            build_fields(&["nokey".to_string()]),
            Err(BodyError::NotAPair(_))
        ));
    }
}
