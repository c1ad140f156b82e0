//! The guide: how to build, run and operate TPP services with this crate.
//!
//! Documentation only (no items). Each chapter is a module, so its examples compile and run as
//! doctests and its links point at the items they name.
//!
//! | chapter | what it covers |
//! |---|---|
//! | [`typed_services`] | `#[toxic_service]` step by step: the trait, the errors, the generated client, several services on one port, choosing an implementation at run time (dyn mode) |
//! | [`streaming`] | streaming actions: server and client side, the frames on the wire, keep-alive, backpressure, disconnects, timeouts |
//! | [`low_level`] | the [`Handler`](crate::Handler) API and the [`Client`](crate::Client): connection pool, pipelining, several endpoints, errors |
//! | [`security`] | token auth (bcrypt, plain, one token per caller), TLS and certificate pinning |
//! | [`transports`] | TCP, TLS, mutual TLS (client certificates as identities), Unix domain sockets, in-process connections for tests |
//! | [`deadlines`] | the caller's budget (`tpp_deadline_ms`) and nested calls, cancellation when the client leaves, per-action timeout, concurrency and idempotent retry |
//! | [`limits`] | the server's limits and their defaults; what hostile and faulty peers get; allocators |
//! | [`production`] | caller identity, layers (middleware), metrics, traces and request ids, and what they cost |
//! | [`deployment`] | replicas behind HAProxy, handoff on one host, systemd, Kubernetes |
//! | [`interop`] | working with the Python reference (`toxiccore`), Python's JSON, how a request's JSON is read |
//! | [`contract`] | your service from Python and from the shell: the service description, its JSON Schemas, `tpp describe`, `tpp diff`, argument checks, defaults, rolling upgrades |
//!
//! The reference of every attribute of the macros is on the macros themselves:
//! [`macro@crate::toxic_service`] and [`derive@crate::ToxicError`].

#[doc = include_str!("../docs/guide/typed_services.md")]
pub mod typed_services {}

#[doc = include_str!("../docs/guide/streaming.md")]
pub mod streaming {}

#[doc = include_str!("../docs/guide/low_level.md")]
pub mod low_level {}

#[doc = include_str!("../docs/guide/security.md")]
pub mod security {}

#[doc = include_str!("../docs/guide/transports.md")]
pub mod transports {}

#[doc = include_str!("../docs/guide/deadlines.md")]
pub mod deadlines {}

#[doc = include_str!("../docs/guide/limits.md")]
pub mod limits {}

#[doc = include_str!("../docs/guide/production.md")]
pub mod production {}

#[doc = include_str!("../docs/guide/deployment.md")]
pub mod deployment {}

#[doc = include_str!("../docs/guide/interop.md")]
pub mod interop {}

#[doc = include_str!("../docs/guide/contract.md")]
pub mod contract {}
