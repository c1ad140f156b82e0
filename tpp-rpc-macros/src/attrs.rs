//! Parsing of every attribute the macros accept: `#[toxic_service(...)]`, `#[action(...)]`,
//! `#[body]`, `#[context]`, `#[param(...)]` and the derive's `#[toxic(...)]`.
//!
//! Parsing never stops at the first mistake: unknown arguments are recorded in an
//! [`Errors`] accumulator and skipped, so one expansion reports them all.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Attribute, LitInt, LitStr, Path, Token};

use crate::naming::RenameRule;

mod policy;
pub(crate) use policy::{Policy, PolicyArgs};

/// Collects `syn::Error`s (combined with `syn::Error::combine`), so that an expansion reports
/// every mistake at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Records one more error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records an error at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error spanning `tokens`.
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records the error of a failed parse, if any, and returns the value.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// `Err` with everything recorded, or `Ok(())` when nothing was.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Skips the value of an unknown `key = value` or `key(...)` argument so parsing can go on.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let value = meta.value()?;
        value.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|inner| skip_value(&inner))?;
    }
    Ok(())
}

/// The name of a nested meta's path, for messages (`crate` included).
fn key_of(meta: &ParseNestedMeta<'_>) -> String {
    meta.path.to_token_stream().to_string().replace(' ', "")
}

/// Records "unknown argument" for `meta`, listing the valid ones, and skips its value.
fn unknown(meta: &ParseNestedMeta<'_>, errors: &mut Errors, what: &str, valid: &str) {
    errors.spanned(
        &meta.path,
        format!(
            "unknown argument `{}` for {what}; valid arguments are: {valid}",
            key_of(meta)
        ),
    );
    if let Err(error) = skip_value(meta) {
        errors.push(error);
    }
}

/// Records "duplicate argument" when `seen` is already set.
fn once(seen: bool, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> bool {
    if seen {
        errors.spanned(&meta.path, format!("duplicate argument `{}`", key_of(meta)));
    }
    !seen
}

/// Parses `crate = "path"` into a path.
fn parse_crate_path(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let lit: LitStr = meta.value()?.parse()?;
    lit.parse_with(Path::parse_mod_style)
        .map_err(|_| syn::Error::new(lit.span(), "expected a path, e.g. `crate = \"::tpp_rpc\"`"))
}

/// The default runtime path, `::tpp_rpc`.
pub(crate) fn default_crate_path() -> Path {
    syn::parse_quote!(::tpp_rpc)
}

// ---------------------------------------------------------------------------------------------
// #[toxic_service(...)]

/// Arguments of `#[toxic_service(...)]`.
pub(crate) struct ServiceArgs {
    /// `rename_all = "..."`: how method names become action names (default: unchanged).
    pub rename_all: RenameRule,
    /// `crate = "..."`: the path of the runtime crate (default `::tpp_rpc`).
    pub krate: Path,
    /// `list_funcs = false`: no generated `list-funcs` action (default: generated).
    pub list_funcs: bool,
    /// `dyn`: a dyn-compatible trait through `async-trait` (one boxed future per call).
    pub dyn_mode: Option<Span>,
    /// `strict`: body keys that name no parameter are refused (default: ignored).
    pub strict: bool,
}

/// What the error message lists as the valid `#[toxic_service]` arguments.
pub(crate) const SERVICE_ARGS: &str =
    "`rename_all = \"...\"`, `crate = \"...\"`, `list_funcs = false`, `dyn`, `strict`";

impl ServiceArgs {
    /// Parses the attribute's arguments, recording every mistake in `errors`.
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> ServiceArgs {
        let mut rename_all = None;
        let mut krate = None;
        let mut list_funcs = None;
        let mut dyn_mode = None;
        let mut strict = None;
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("rename_all") {
                let lit: LitStr = meta.value()?.parse()?;
                if once(rename_all.is_some(), &meta, errors) {
                    match RenameRule::from_name(&lit.value()) {
                        Some(rule) => rename_all = Some(rule),
                        None => errors.spanned(
                            &lit,
                            format!(
                                "unknown rename_all rule \"{}\"; valid rules are: {}",
                                lit.value(),
                                RenameRule::valid_list()
                            ),
                        ),
                    }
                }
            } else if meta.path.is_ident("crate") {
                let path = parse_crate_path(&meta)?;
                if once(krate.is_some(), &meta, errors) {
                    krate = Some(path);
                }
            } else if meta.path.is_ident("list_funcs") {
                let lit: syn::LitBool = meta.value()?.parse().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "expected `list_funcs = false` or `list_funcs = true`",
                    )
                })?;
                if once(list_funcs.is_some(), &meta, errors) {
                    list_funcs = Some(lit.value);
                }
            } else if meta.path.is_ident("strict") {
                if once(strict.is_some(), &meta, errors) {
                    strict = Some(());
                }
            } else if meta.path.is_ident("dyn") {
                if once(dyn_mode.is_some(), &meta, errors) {
                    dyn_mode = Some(meta.path.span_of());
                }
            } else {
                unknown(&meta, errors, "#[toxic_service]", SERVICE_ARGS);
            }
            Ok(())
        });
        let result = parser.parse2(args);
        errors.ok(result);
        ServiceArgs {
            rename_all: rename_all.unwrap_or(RenameRule::Snake),
            krate: krate.unwrap_or_else(default_crate_path),
            list_funcs: list_funcs.unwrap_or(true),
            dyn_mode,
            strict: strict.is_some(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// #[action(...)]

/// How an action answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActionKind {
    /// `{"code": 0, "body": {"<action>": result}}` (the default).
    Unary,
    /// `#[action(bare)]`: `{"code": 0, "body": result}`.
    Bare,
    /// `#[action(stream)]`: `{"code": 0, "body": item}` per item, then the connection closes.
    Stream,
    /// `#[action(stream, ack)]`: first `{"code": 0, "body": {"<action>": ack}}`, then the items
    /// as for `Stream`.
    AckStream,
}

impl ActionKind {
    /// Whether the action streams (with or without an acknowledgement).
    pub(crate) fn is_stream(self) -> bool {
        matches!(self, ActionKind::Stream | ActionKind::AckStream)
    }
}

/// Arguments of a method's `#[action(...)]` attributes (several are merged).
#[derive(Default)]
pub(crate) struct ActionArgs {
    /// `name = "..."`: the exact wire name.
    pub name: Option<LitStr>,
    /// `bare`: answer the result as the whole body.
    pub bare: Option<Span>,
    /// `stream`: streaming action.
    pub stream: Option<Span>,
    /// `ack`: a streaming action that answers an acknowledgement first.
    pub ack: Option<Span>,
    /// `timeout`, `concurrency`, `idempotent`.
    pub policy: PolicyArgs,
}

/// What the error message lists as the valid `#[action]` arguments.
pub(crate) const ACTION_ARGS: &str = "`name = \"...\"`, `bare`, `stream`, `ack`, \
     `timeout = \"5s\"`, `concurrency = 4`, `idempotent`";

impl ActionArgs {
    /// Takes every `#[action(...)]` out of `attrs` and parses them.
    pub(crate) fn take(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> ActionArgs {
        let mut args = ActionArgs::default();
        attrs.retain(|attr| {
            if !attr.path().is_ident("action") {
                return true;
            }
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if once(args.name.is_some(), &meta, errors) {
                        args.name = Some(lit);
                    }
                } else if meta.path.is_ident("bare") {
                    if once(args.bare.is_some(), &meta, errors) {
                        args.bare = Some(meta.path.span_of());
                    }
                } else if meta.path.is_ident("stream") {
                    if once(args.stream.is_some(), &meta, errors) {
                        args.stream = Some(meta.path.span_of());
                    }
                } else if meta.path.is_ident("ack") {
                    if once(args.ack.is_some(), &meta, errors) {
                        args.ack = Some(meta.path.span_of());
                    }
                } else if !args.policy.parse(&meta, errors) {
                    unknown(&meta, errors, "#[action]", ACTION_ARGS);
                }
                Ok(())
            });
            errors.ok(result);
            false
        });
        args
    }

    /// The action's kind. `bare` with `stream`, and `ack` without `stream` (or with `bare`),
    /// are errors.
    pub(crate) fn kind(&self, errors: &mut Errors) -> ActionKind {
        let stream_kind = if self.ack.is_some() {
            ActionKind::AckStream
        } else {
            ActionKind::Stream
        };
        match (self.bare, self.stream, self.ack) {
            (Some(_), Some(stream), _) => {
                errors.at(stream, "`bare` and `stream` cannot be combined");
                stream_kind
            }
            (Some(_), None, Some(ack)) => {
                errors.at(
                    ack,
                    "`bare` and `ack` cannot be combined: an acknowledgement is always sent as \
                     `{\"<action>\": ack}` (what request2server unwraps), before the items of \
                     a stream; write `#[action(stream, ack)]`",
                );
                ActionKind::Bare
            }
            (None, None, Some(ack)) => {
                errors.at(
                    ack,
                    "`ack` only applies to streaming actions: write `#[action(stream, ack)]` \
                     and return `Result<(A, tpp_rpc::ItemStream<T>), E>`",
                );
                ActionKind::Unary
            }
            (Some(_), None, None) => ActionKind::Bare,
            (None, Some(_), _) => stream_kind,
            (None, None, None) => ActionKind::Unary,
        }
    }
}

/// The span of a path (its first segment, which is all our keys have).
trait SpanOf {
    fn span_of(&self) -> Span;
}

impl SpanOf for Path {
    fn span_of(&self) -> Span {
        self.segments
            .first()
            .map_or_else(Span::call_site, |s| s.ident.span())
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter attributes: #[body], #[context], #[param(...)]

/// A parameter's default, when its key is absent.
#[derive(Clone)]
pub(crate) enum ParamDefault {
    /// `#[param(default = 10)]` or `#[param(default = "<json>")]`: this JSON text, checked.
    Json(String),
    /// `#[param(default)]`: the type's `Default`.
    OfType,
}

/// What a parameter's attributes asked for.
#[derive(Default)]
pub(crate) struct ParamArgs {
    /// `#[body]`: the parameter is the whole body.
    pub body: Option<Span>,
    /// `#[context]`: the parameter is the request context.
    pub context: Option<Span>,
    /// `#[param(default)]`, `#[param(default = 10)]` or `#[param(default = "<json>")]`, the
    /// JSON already checked and made compact.
    pub default: Option<(ParamDefault, Span)>,
    /// `#[param(rename = "...")]`: the body key, when not the parameter's name.
    pub rename: Option<LitStr>,
    /// The span of the `#[param]` attribute, for conflicts.
    pub param_span: Option<Span>,
}

/// What the error message lists as the valid `#[param]` arguments.
pub(crate) const PARAM_ARGS: &str =
    "`default`, `default = <literal>`, `default = \"<json>\"`, `rename = \"...\"`";

/// The forms of `#[param(default ...)]`, for the errors about it.
const DEFAULT_FORMS: &str = "`default` (the type's `Default`), `default = 10` (a number or \
     `true`/`false` literal) or `default = \"<json>\"` (JSON text, e.g. `default = \"[1, 2]\"` \
     or `default = \"\\\"main\\\"\"` for the string \"main\")";

impl ParamArgs {
    /// Takes `#[body]`, `#[context]` and `#[param(...)]` out of `attrs`; any other attribute
    /// on a parameter is an error.
    pub(crate) fn take(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> ParamArgs {
        let mut args = ParamArgs::default();
        for attr in attrs.drain(..) {
            let path = attr.path();
            if path.is_ident("body") || path.is_ident("context") {
                if let Err(error) = attr.meta.require_path_only() {
                    errors.push(error);
                }
                let slot = if path.is_ident("body") {
                    &mut args.body
                } else {
                    &mut args.context
                };
                if slot.is_some() {
                    errors.spanned(&attr, "duplicate attribute");
                }
                *slot = Some(path.span_of());
            } else if path.is_ident("param") {
                args.param_span = Some(path.span_of());
                let result = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("default") {
                        let seen = args.default.is_some();
                        if let Some(default) = parse_default(&meta, errors)? {
                            if once(seen, &meta, errors) {
                                args.default = Some(default);
                            }
                        }
                    } else if meta.path.is_ident("rename") {
                        let lit: LitStr = meta.value()?.parse()?;
                        if once(args.rename.is_some(), &meta, errors) {
                            args.rename = Some(lit);
                        }
                    } else {
                        unknown(&meta, errors, "#[param]", PARAM_ARGS);
                    }
                    Ok(())
                });
                errors.ok(result);
            } else {
                errors.spanned(
                    &attr,
                    "unsupported attribute on an action parameter; \
                     expected #[body], #[context] or #[param(...)]",
                );
            }
        }
        args
    }
}

/// `default`, `default = <literal>` or `default = "<json>"`; `None` (reported) when the value
/// is of none of these forms.
fn parse_default(
    meta: &ParseNestedMeta<'_>,
    errors: &mut Errors,
) -> syn::Result<Option<(ParamDefault, Span)>> {
    if !meta.input.peek(Token![=]) {
        return Ok(Some((ParamDefault::OfType, meta.path.span_of())));
    }
    let expr: syn::Expr = meta.value()?.parse()?;
    let span = syn::spanned::Spanned::span(&expr);
    let (negative, lit) = match &expr {
        syn::Expr::Lit(lit) => (false, &lit.lit),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            syn::Expr::Lit(lit) => (true, &lit.lit),
            _ => {
                errors.at(span, format!("unsupported default; write {DEFAULT_FORMS}"));
                return Ok(None);
            }
        },
        _ => {
            errors.at(span, format!("unsupported default; write {DEFAULT_FORMS}"));
            return Ok(None);
        }
    };
    let sign = if negative { "-" } else { "" };
    let text = match lit {
        syn::Lit::Str(s) if !negative => s.value(),
        syn::Lit::Int(i) if i.suffix().is_empty() || is_number_suffix(i.suffix()) => {
            format!("{sign}{}", i.base10_digits())
        }
        syn::Lit::Float(f) if f.suffix().is_empty() || is_number_suffix(f.suffix()) => {
            format!("{sign}{}", f.base10_digits())
        }
        syn::Lit::Bool(b) if !negative => b.value.to_string(),
        _ => {
            errors.at(span, format!("unsupported default; write {DEFAULT_FORMS}"));
            return Ok(None);
        }
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => Ok(Some((ParamDefault::Json(value.to_string()), span))),
        Err(error) => {
            errors.at(
                span,
                format!("the default is not JSON ({error}); write {DEFAULT_FORMS}"),
            );
            Ok(None)
        }
    }
}

/// `10u32`, `1.5f64`: a literal's type suffix.
fn is_number_suffix(suffix: &str) -> bool {
    matches!(
        suffix,
        "u8" | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
    )
}

// ---------------------------------------------------------------------------------------------
// #[toxic(...)] of #[derive(ToxicError)]

/// `#[toxic(...)]` on the type deriving `ToxicError`.
pub(crate) struct ContainerArgs {
    /// `code = N`: the code of the struct, or of every enum variant without its own.
    pub code: Option<i64>,
    /// `crate = "..."`: the runtime path (default `::tpp_rpc`).
    pub krate: Path,
}

/// What the error message lists as the valid container `#[toxic]` arguments.
pub(crate) const CONTAINER_ARGS: &str = "`code = N`, `crate = \"...\"`";

/// `#[toxic(...)]` on an enum variant.
#[derive(Default)]
pub(crate) struct VariantArgs {
    /// `code = N`.
    pub code: Option<i64>,
    /// `transparent`: code, message and decoding come from the single field.
    pub transparent: Option<Span>,
}

/// What the error message lists as the valid variant `#[toxic]` arguments.
pub(crate) const VARIANT_ARGS: &str = "`code = N`, `transparent`";

/// Parses `code = N`: an integer literal greater than zero.
fn parse_code(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<i64>> {
    let value = meta.value()?;
    let negative = value.peek(Token![-]);
    if negative {
        value.parse::<Token![-]>()?;
    }
    let lit: LitInt = value.parse()?;
    let code: i64 = lit.base10_parse()?;
    if negative || code <= 0 {
        errors.spanned(
            &lit,
            "error codes must be greater than 0 (code 0 means success)",
        );
        // A placeholder, so the code does not also count as missing; expansion fails anyway.
        return Ok(Some(1));
    }
    Ok(Some(code))
}

impl ContainerArgs {
    /// Parses the container's `#[toxic(...)]` attributes.
    pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> ContainerArgs {
        let mut code = None;
        let mut krate = None;
        for attr in attrs.iter().filter(|a| a.path().is_ident("toxic")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("code") {
                    let parsed = parse_code(&meta, errors)?;
                    if once(code.is_some(), &meta, errors) {
                        code = parsed;
                    }
                } else if meta.path.is_ident("crate") {
                    let path = parse_crate_path(&meta)?;
                    if once(krate.is_some(), &meta, errors) {
                        krate = Some(path);
                    }
                } else {
                    unknown(&meta, errors, "#[toxic] on a type", CONTAINER_ARGS);
                }
                Ok(())
            });
            errors.ok(result);
        }
        ContainerArgs {
            code,
            krate: krate.unwrap_or_else(default_crate_path),
        }
    }
}

impl VariantArgs {
    /// Parses a variant's `#[toxic(...)]` attributes.
    pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> VariantArgs {
        let mut args = VariantArgs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("toxic")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("code") {
                    let parsed = parse_code(&meta, errors)?;
                    if once(args.code.is_some(), &meta, errors) {
                        args.code = parsed;
                    }
                } else if meta.path.is_ident("transparent") {
                    if once(args.transparent.is_some(), &meta, errors) {
                        args.transparent = Some(meta.path.span_of());
                    }
                } else {
                    unknown(&meta, errors, "#[toxic] on a variant", VARIANT_ARGS);
                }
                Ok(())
            });
            errors.ok(result);
        }
        args
    }
}
