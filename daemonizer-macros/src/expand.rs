//! The code generated for a checked attribute: a builder call into the
//! runtime, then the user's body.

use proc_macro2::{Literal, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::Lit;

use crate::args::{Args, Key, Setting};
use crate::expr::Expr;
use crate::function::{MainFn, Output};
use crate::validate::{self, LimitValue};

/// The whole `fn main` with the daemon started before its body.
pub(crate) fn main(args: &Args, krate: &TokenStream, item: MainFn) -> TokenStream {
    let builder = builder(args, krate);
    // With `setup`, its value is `main`'s one parameter: the body becomes a
    // closure (or the inner function) taking the parameter as written.
    let setup = args.get(Key::Setup).and_then(Setting::expr);
    let (start, params, arg) = match setup {
        Some(setup) => (
            quote_spanned! {setup.span()=>
                let (__daemonizer_running, __daemonizer_setup) =
                    #krate::__private::start_setup(#builder.setup(#setup));
            },
            {
                let params = item.inputs.stream();
                quote!(|#params|)
            },
            // A value of the wrong type is reported at `setup`'s value.
            quote_spanned!(setup.span()=> __daemonizer_setup),
        ),
        None => (
            quote! {
                let __daemonizer_running = #krate::__private::start(#builder);
            },
            quote!(||),
            TokenStream::new(),
        ),
    };
    // An `Err` is described where its type is known (Display, else Debug):
    // before readiness the launcher reports it.
    let finish = quote! {
        let __daemonizer_failure = #krate::__private::describe!(&__daemonizer_result);
        #krate::__private::finish(__daemonizer_running, __daemonizer_result, __daemonizer_failure)
    };
    let vis = item.vis();
    let block = &item.body;

    if item.asyncness.is_some() {
        // `#[daemon] #[tokio::main] async fn main`: the runtime attribute
        // goes on an inner function called once the process is a daemon,
        // so that no runtime thread exists while it forks.
        let at = item
            .attrs
            .iter()
            .position(|attr| attr.is_runtime)
            .unwrap_or(item.attrs.len());
        let (outer, inner) = item.attrs.split_at(at);
        let sig = if setup.is_some() {
            item.signature_without_parameters()
        } else {
            item.signature(&item.ident, false)
        };
        let inner_sig = item.inner_signature();
        return quote! {
            #(#outer)*
            #vis #sig {
                #start
                #(#inner)*
                #inner_sig #block
                let __daemonizer_result = __daemonizer_main(#arg);
                #finish
            }
        };
    }

    let (hoisted, block) = item.hoisted_body();
    let body = match &item.output {
        // Never returns: nothing to hand back to `finish`, the handle lives
        // as long as the process.
        Output::Never if setup.is_none() => quote! {
            #start
            #block
        },
        Output::Never => quote! {
            #start
            (move #params -> ! #block)(#arg)
        },
        // A closure cannot be annotated with `impl Trait`: let the body's
        // type be inferred.
        Output::ImplTrait => quote! {
            #start
            let __daemonizer_result = (move #params #block)(#arg);
            #finish
        },
        output => {
            let ty = match output {
                Output::Type(ty) => ty.clone(),
                _ => quote!(()),
            };
            quote! {
                #start
                let __daemonizer_result = (move #params -> #ty #block)(#arg);
                #finish
            }
        }
    };
    let attrs = &item.attrs;
    let sig = if setup.is_some() {
        item.signature_without_parameters()
    } else {
        item.signature(&item.ident, true)
    };
    quote! {
        #(#attrs)*
        #hoisted
        #vis #sig {
            #body
        }
    }
}

/// `Daemon::new().pidfile(..).umask(..)...`, one call per setting in the
/// order written; each call carries the span of its key so that a value of
/// the wrong type is reported there.
fn builder(args: &Args, krate: &TokenStream) -> TokenStream {
    let calls = args.settings.iter().map(|setting| call(setting, krate));
    quote! {
        #krate::__private::Daemon::new() #(#calls)*
    }
}

fn call(setting: &Setting, krate: &TokenStream) -> TokenStream {
    let span = setting.span;
    let method = |name: &str| syn::Ident::new(name, span);
    match (setting.key, &setting.value) {
        // Changes the builder's type: added last, by `main`.
        (Key::Crate | Key::Setup, _) => TokenStream::new(),
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
                        let soft = limit(&soft);
                        quote_spanned! {span=> .limit(#resource, #soft) }
                    }
                    LimitValue::Both(soft, hard) => {
                        let (soft, hard) = (limit(&soft), limit(&hard));
                        quote_spanned! {span=> .limits(#resource, #soft, #hard) }
                    }
                }
            })
            .collect(),
        (_, crate::args::Value::List(_)) => TokenStream::new(),
        (key, crate::args::Value::Expr(expr)) => match key {
            Key::Umask => {
                let mask = validate::umask_value(expr).unwrap_or_default();
                let mask = spanned(Literal::u32_suffixed(mask), expr.span());
                quote_spanned! {span=> .umask(#mask) }
            }
            Key::Ready => {
                let readiness = if validate::ready_manual(expr) {
                    quote!(Manual)
                } else {
                    quote!(Auto)
                };
                quote_spanned! {span=> .readiness(#krate::__private::Readiness::#readiness) }
            }
            Key::User | Key::Group => {
                let name = method(key.name());
                let id = account(expr);
                quote_spanned! {span=> .#name(#id) }
            }
            Key::Commands => match validate::default_command(expr) {
                Some(variant) => {
                    let variant = syn::Ident::new(variant, expr.span());
                    quote_spanned! {span=>
                        .default_command(#krate::__private::Command::#variant)
                    }
                }
                None => quote_spanned! {span=> .commands(#expr) },
            },
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

fn spanned(mut literal: Literal, span: Span) -> Literal {
    literal.set_span(span);
    literal
}

/// An unsuffixed id literal would be inferred as `i32` and overflow above
/// `i32::MAX`; ids are `u32`.
fn account(expr: &Expr) -> TokenStream {
    match expr.literal() {
        Some(Lit::Int(lit)) if lit.suffix().is_empty() => match lit.base10_parse::<u32>() {
            Ok(id) => TokenTree::Literal(spanned(Literal::u32_suffixed(id), lit.span()))
                .into_token_stream(),
            Err(_) => expr.to_token_stream(),
        },
        _ => expr.to_token_stream(),
    }
}

fn limit(expr: &Expr) -> TokenStream {
    if validate::is_unlimited(expr) {
        quote_spanned! {expr.span()=> ::core::primitive::u64::MAX }
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
pub(crate) fn as_written(item: MainFn) -> TokenStream {
    let misshapen = !item.inputs.stream().is_empty()
        || !item.generics.is_empty()
        || !item.where_clause.is_empty()
        || (item.asyncness.is_some() && !item.attrs.iter().any(|attr| attr.is_runtime));
    if !misshapen {
        return item.into_token_stream();
    }
    let attrs = item.attrs.iter().filter(|attr| !attr.is_runtime);
    let vis = item.vis();
    let constness = &item.constness;
    let ident = &item.ident;
    let output = item.arrow_output();
    let inner = item.inner_signature();
    let block = &item.body;
    quote! {
        #(#attrs)*
        #vis #constness fn #ident() #output {
            #inner #block
            ::core::unreachable!()
        }
    }
}
