//! The code generated for a checked attribute: a builder call into the
//! runtime, then the user's body.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::{Attribute, Expr, ExprLit, ItemFn, Lit, ReturnType, Type};

use crate::args::{Args, Key, Setting};
use crate::validate::{self, LimitValue};

/// Whether `attr` is an async runtime's entry attribute: `#[tokio::main]`,
/// `#[async_std::main]`, `#[actix_web::main]`, ... (last segment `main`).
pub(crate) fn is_runtime(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "main")
}

/// The whole `fn main` with the daemon started before its body.
pub(crate) fn main(args: &Args, krate: &syn::Path, item: ItemFn) -> TokenStream {
    let builder = builder(args, krate);
    let start = quote! {
        let __daemonizer_running = #krate::__private::start(#builder);
    };
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = item;

    if sig.asyncness.is_some() {
        // `#[daemon] #[tokio::main] async fn main`: the runtime attribute
        // goes on an inner function called once the process is a daemon,
        // so that no runtime thread exists while it forks.
        let at = attrs.iter().position(is_runtime).unwrap_or(attrs.len());
        let (outer, inner) = attrs.split_at(at);
        let mut inner_sig = sig.clone();
        inner_sig.ident = format_ident!("__daemonizer_main");
        sig.asyncness = None;
        return quote! {
            #(#outer)*
            #vis #sig {
                #start
                #(#inner)*
                #inner_sig #block
                let __daemonizer_result = __daemonizer_main();
                #krate::__private::finish(__daemonizer_running, __daemonizer_result)
            }
        };
    }

    let body = match &sig.output {
        // Never returns: nothing to hand back to `finish`, the handle lives
        // as long as the process.
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => quote! {
            #start
            #block
        },
        // A closure cannot be annotated with `impl Trait`: let the body's
        // type be inferred.
        ReturnType::Type(_, ty) if matches!(**ty, Type::ImplTrait(_)) => quote! {
            #start
            let __daemonizer_result = (move || #block)();
            #krate::__private::finish(__daemonizer_running, __daemonizer_result)
        },
        output => {
            let ty = match output {
                ReturnType::Default => quote!(()),
                ReturnType::Type(_, ty) => ty.to_token_stream(),
            };
            quote! {
                #start
                let __daemonizer_result = (move || -> #ty #block)();
                #krate::__private::finish(__daemonizer_running, __daemonizer_result)
            }
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}

/// `Daemon::new().pidfile(..).umask(..)...`, one call per setting in the
/// order written; each call carries the span of its key so that a value of
/// the wrong type is reported there.
fn builder(args: &Args, krate: &syn::Path) -> TokenStream {
    let calls = args.settings.iter().map(|setting| call(setting, krate));
    quote! {
        #krate::__private::Daemon::new() #(#calls)*
    }
}

fn call(setting: &Setting, krate: &syn::Path) -> TokenStream {
    let span = setting.span;
    let method = |name: &str| syn::Ident::new(name, span);
    match (setting.key, &setting.value) {
        (Key::Crate, _) => TokenStream::new(),
        (Key::Signals, _) => setting
            .entries()
            .iter()
            .map(|entry| {
                let name = &entry.name;
                let handler = &entry.value;
                quote_spanned! {span=>
                    .on_signal(#krate::__private::Signal::#name, #handler)
                }
            })
            .collect(),
        (Key::Limits, _) => setting
            .entries()
            .iter()
            .map(|entry| {
                let resource = syn::Ident::new(
                    &validate::resource_name(&entry.name.to_string()),
                    entry.name.span(),
                );
                let resource = quote!(#krate::__private::Resource::#resource);
                match validate::limit_value(&entry.value) {
                    LimitValue::Soft(soft) => {
                        let soft = limit(soft);
                        quote_spanned! {span=> .limit(#resource, #soft) }
                    }
                    LimitValue::Both(soft, hard) => {
                        let (soft, hard) = (limit(soft), limit(hard));
                        quote_spanned! {span=> .limits(#resource, #soft, #hard) }
                    }
                }
            })
            .collect(),
        (_, crate::args::Value::List(_)) => TokenStream::new(),
        (key, crate::args::Value::Expr(expr)) => match key {
            Key::Umask => {
                let mask = validate::umask_value(expr).unwrap_or_default();
                let mask = spanned(Literal::u32_suffixed(mask), expr_span(expr));
                quote_spanned! {span=> .umask(#mask) }
            }
            Key::Ready => {
                let readiness = if validate::ready_manual(expr) {
                    quote!(Manual)
                } else {
                    quote!(Auto)
                };
                quote_spanned! {span=> .readiness(#krate::Readiness::#readiness) }
            }
            Key::User | Key::Group => {
                let name = method(key.name());
                let id = account(expr);
                quote_spanned! {span=> .#name(#id) }
            }
            Key::Preserve => validate::preserved(expr)
                .into_iter()
                .map(|fd| quote_spanned! {span=> .preserve(#fd) })
                .collect(),
            _ => {
                let name = method(key.name());
                quote_spanned! {span=> .#name(#expr) }
            }
        },
    }
}

fn expr_span(expr: &Expr) -> Span {
    syn::spanned::Spanned::span(expr)
}

fn spanned(mut literal: Literal, span: Span) -> Literal {
    literal.set_span(span);
    literal
}

/// An unsuffixed id literal would be inferred as `i32` and overflow above
/// `i32::MAX`; ids are `u32`.
fn account(expr: &Expr) -> TokenStream {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) if lit.suffix().is_empty() => match lit.base10_parse::<u32>() {
            Ok(id) => spanned(Literal::u32_suffixed(id), lit.span()).into_token_stream(),
            Err(_) => expr.to_token_stream(),
        },
        _ => expr.to_token_stream(),
    }
}

fn limit(expr: &Expr) -> TokenStream {
    if validate::is_unlimited(expr) {
        quote_spanned! {expr_span(expr)=> ::core::primitive::u64::MAX }
    } else {
        expr.to_token_stream()
    }
}

/// The function as written, next to the errors reported about it.
///
/// When its shape is what the errors are about (parameters, generics,
/// `async` without a runtime), the compiler would add its own complaint
/// about such a `main`; the function is then kept whole, body and all, as
/// an inner function of a plain `fn main()`, which the compiler accepts.
pub(crate) fn as_written(item: ItemFn) -> TokenStream {
    let sig = &item.sig;
    let misshapen = !sig.inputs.is_empty()
        || sig.variadic.is_some()
        || !sig.generics.params.is_empty()
        || sig.generics.where_clause.is_some()
        || (sig.asyncness.is_some() && !item.attrs.iter().any(is_runtime));
    if !misshapen {
        return item.into_token_stream();
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let attrs = attrs.iter().filter(|attr| !is_runtime(attr));
    let constness = &sig.constness;
    let ident = &sig.ident;
    let output = &sig.output;
    let mut inner = sig.clone();
    inner.ident = format_ident!("__daemonizer_main");
    quote! {
        #(#attrs)*
        #vis #constness fn #ident() #output {
            #inner #block
            ::core::unreachable!()
        }
    }
}
