//! `#[derive(ToxicError)]`: codes per variant or per type, message from Display, from_parts
//! for unit and single-String variants, transparent variants, structs, generics.
#![deny(warnings)]

use tpp_rpc::{ActionError, ToxicError};

#[derive(Debug, PartialEq, thiserror::Error, ToxicError)]
#[toxic(code = 1)]
enum HoleError {
    #[error("{0}")]
    Generic(String),
    #[error("No auth token")]
    #[toxic(code = 2)]
    NoToken,
    #[error("Bad auth token")]
    #[toxic(code = 3)]
    BadToken,
    #[error("{message}")]
    #[toxic(code = 4)]
    NotFound { message: String },
    #[error("not enough permissions ({user})")]
    #[toxic(code = 5)]
    NotEnoughPerms { user: u32 },
    #[error("{message}")]
    #[toxic(code = 6)]
    Six { message: Box<str> },
    #[error(transparent)]
    #[toxic(transparent)]
    Other(ActionError),
}

#[derive(Debug, PartialEq, thiserror::Error, ToxicError)]
#[error("teapot: {0}")]
#[toxic(code = 18)]
struct Teapot(String);

#[derive(Debug, thiserror::Error, ToxicError)]
#[error("unit")]
#[toxic(code = 9)]
struct Unit;

#[derive(Debug, thiserror::Error, ToxicError)]
#[error("generic")]
#[toxic(code = 10)]
struct Generic<T: std::fmt::Debug>(T);

#[derive(Debug, thiserror::Error, ToxicError)]
enum Never {}

fn main() {
    assert_eq!(HoleError::Generic("x".into()).code(), 1);
    assert_eq!(HoleError::NoToken.code(), 2);
    assert_eq!(HoleError::NoToken.message(), "No auth token");
    assert_eq!(HoleError::NotEnoughPerms { user: 3 }.code(), 5);
    assert_eq!(
        HoleError::NotEnoughPerms { user: 3 }.message(),
        "not enough permissions (3)"
    );
    assert_eq!(HoleError::Other(ActionError::new(42, "x")).code(), 42);
    assert_eq!(HoleError::Other(ActionError::new(42, "x")).message(), "x");

    // Codes 1 to 6 survive the round trip.
    assert_eq!(
        HoleError::from_parts(1, "m"),
        Some(HoleError::Generic("m".into()))
    );
    assert_eq!(
        HoleError::from_parts(2, "No auth token"),
        Some(HoleError::NoToken)
    );
    assert_eq!(
        HoleError::from_parts(3, "Bad auth token"),
        Some(HoleError::BadToken)
    );
    assert_eq!(
        HoleError::from_parts(4, "gone"),
        Some(HoleError::NotFound {
            message: "gone".into()
        })
    );
    // Code 5 cannot be rebuilt from a message (it holds a u32), so the transparent
    // ActionError takes it.
    assert_eq!(
        HoleError::from_parts(5, "nope"),
        Some(HoleError::Other(ActionError::new(5, "nope")))
    );
    assert_eq!(
        HoleError::from_parts(6, "six"),
        Some(HoleError::Six {
            message: "six".into()
        })
    );
    assert_eq!(
        HoleError::from_parts(77, "other"),
        Some(HoleError::Other(ActionError::new(77, "other")))
    );

    assert_eq!(Teapot("hot".into()).code(), 18);
    assert_eq!(Teapot("hot".into()).message(), "teapot: hot");
    assert_eq!(Teapot::from_parts(18, "hot"), Some(Teapot("hot".into())));
    assert_eq!(Teapot::from_parts(17, "hot"), None);
    assert!(Unit::from_parts(9, "").is_some());
    assert_eq!(Generic(1u8).code(), 10);
    assert!(Generic::<u8>::from_parts(10, "").is_none());
    assert!(Never::from_parts(1, "").is_none());
}
