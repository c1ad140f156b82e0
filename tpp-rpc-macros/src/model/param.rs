//! One parameter of an action method, classified: a body key, the whole body, or the context.

use syn::{Ident, Type};

use crate::attrs::{Errors, ParamArgs};
use crate::naming::unraw;

use super::syntax::{is_context_type, option_inner};
use super::{Param, ParamDefault, Role, CALL_RESERVED};

impl Param {
    /// Classifies one parameter after its attributes were parsed.
    pub(super) fn new(
        ident: Ident,
        ty: Type,
        args: ParamArgs,
        action: &str,
        errors: &mut Errors,
    ) -> Option<Param> {
        let mut ok = true;
        let is_context = args.context.is_some() || is_context_type(&ty);
        if let (Some(body), true) = (args.body, is_context) {
            errors.at(
                body,
                "a parameter cannot be both #[body] and the request context",
            );
            ok = false;
        }
        if let (Some(span), true) = (args.param_span, args.body.is_some() || is_context) {
            errors.at(
                span,
                "#[param(...)] only applies to parameters that are body keys, \
                 not to #[body] or context parameters",
            );
            ok = false;
        }
        if let (Type::Reference(reference), false) = (&ty, is_context) {
            errors.spanned(
                reference,
                "action parameters must be owned types, deserialized from the request \
                 (e.g. `String` instead of `&str`); only the context is passed by reference",
            );
            ok = false;
        }
        if let (Some((ParamDefault::Json(json), span)), false) =
            (&args.default, is_context || args.body.is_some())
        {
            let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
            if let Err(why) = crate::defaults::check(&ty, &value) {
                errors.at(
                    *span,
                    format!(
                        "invalid default for parameter `{}` of action \"{action}\": {why}",
                        unraw(&ident)
                    ),
                );
                ok = false;
            }
        }
        let optional = args.default.is_some() || option_inner(&ty).is_some();
        if optional && !is_context && args.body.is_none() {
            let name = unraw(&ident);
            if CALL_RESERVED.contains(&name.as_str()) {
                errors.spanned(
                    &ident,
                    format!(
                        "an optional parameter gets a setter on the call builder, which already \
                         has `{name}()`; rename the parameter and keep the body key with \
                         #[param(rename = \"{name}\")]"
                    ),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let role = if is_context {
            Role::Context
        } else if args.body.is_some() {
            Role::Body
        } else {
            Role::Named {
                key: args
                    .rename
                    .as_ref()
                    .map_or_else(|| unraw(&ident), syn::LitStr::value),
                optional: option_inner(&ty).is_some(),
                default: args.default.map(|(default, _)| default),
            }
        };
        Some(Param { ident, ty, role })
    }
}
