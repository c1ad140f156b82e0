//! Rendering: the validated model (`model.rs`) becomes Rust items. Each renderer makes one
//! kind of item and imports only the model and `shared`, never another renderer.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Service;

mod actions;
mod assertions;
mod call;
mod client;
mod describe;
mod server;
mod service_trait;
mod shared;

/// Every item `#[toxic_service]` generates for a valid service.
pub(crate) fn render(svc: &Service) -> TokenStream {
    let calls = svc
        .actions
        .iter()
        .map(|action| call::render_call(svc, action));
    let parts = [
        service_trait::render_trait(svc),
        actions::render_actions(svc),
        server::render_server(svc),
        client::render_client(svc),
        quote!(#(#calls)*),
        describe::render_description(svc),
        assertions::render_assertions(svc),
    ];
    quote!(#(#parts)*)
}
