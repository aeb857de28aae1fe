//! The `#[daemonizer::daemon]` attribute. Use it through the `daemonizer`
//! crate, which documents every key; this crate only parses and checks the
//! arguments and emits a short call into the runtime.

mod args;
mod expand;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, ItemFn, Visibility};

use crate::args::Key;
use crate::validate::Errors;

/// Turns `fn main` into a daemon's `main`: the daemon is started (detached,
/// confined, with its pid file and signal handlers) before the body runs,
/// and its pid file is removed when the body returns.
///
/// ```ignore
/// #[daemonizer::daemon(pidfile = "/run/myd.pid", umask = 0o022, lite_if = "DEBUG")]
/// fn main() {
///     // runs in the daemon
/// }
/// ```
///
/// Every key, the code the attribute stands for and how it composes with
/// `#[tokio::main]` are documented in the `daemonizer` crate.
#[proc_macro_attribute]
pub fn daemon(args: TokenStream, item: TokenStream) -> TokenStream {
    daemon2(args.into(), item.into()).into()
}

fn daemon2(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::default();
    let args = match args::parse(args) {
        Ok(args) => {
            validate::args(&args, &mut errors);
            Some(args)
        }
        Err(err) => {
            errors.extend(err);
            None
        }
    };
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => {
            let has_runtime = function.attrs.iter().any(expand::is_runtime);
            validate::function(&function, has_runtime, &mut errors);
            Some(function)
        }
        Err(_) => {
            errors.extend(syn::Error::new(
                not_a_function(&item),
                "`#[daemonizer::daemon]` applies to `fn main` only",
            ));
            None
        }
    };
    match (errors.into_result(), args, function) {
        (Ok(()), Some(args), Some(function)) => {
            let krate = args
                .get(Key::Crate)
                .and_then(|setting| validate::crate_path(setting, &mut Errors::default()))
                .unwrap_or_else(|| syn::parse_quote!(::daemonizer));
            expand::main(&args, &krate, function)
        }
        // The function is emitted as written next to the errors, so that
        // the compiler does not add "`main` function not found" to them.
        (Err(err), _, Some(function)) => with_error(err, expand::as_written(function)),
        (Err(err), _, None) => with_error(err, item),
        _ => item,
    }
}

fn with_error(err: syn::Error, item: TokenStream2) -> TokenStream2 {
    let errors = err.into_compile_error();
    quote! {
        #errors
        #item
    }
}

/// The span of the item's first token after its attributes and visibility
/// (`struct`, `mod`, ...).
fn not_a_function(item: &TokenStream2) -> Span {
    struct Head(Span);
    impl Parse for Head {
        fn parse(input: ParseStream<'_>) -> syn::Result<Head> {
            input.call(Attribute::parse_outer)?;
            input.parse::<Visibility>()?;
            let span = input.span();
            input.parse::<TokenStream2>()?;
            Ok(Head(span))
        }
    }
    match syn::parse2::<Head>(item.clone()) {
        Ok(Head(span)) => span,
        Err(_) => item
            .clone()
            .into_token_stream()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |tt| tt.span()),
    }
}

#[cfg(test)]
mod tests {
    use super::TokenStream2;
    use quote::quote;

    fn expand(args: TokenStream2, item: TokenStream2) -> String {
        super::daemon2(args, item).to_string()
    }

    #[test]
    fn plain_main_gets_a_unit_closure_and_the_builder_in_written_order() {
        let out = expand(
            quote!(umask = 0o022, pidfile = "/run/x.pid"),
            quote!(
                fn main() {}
            ),
        );
        let umask = out.find(". umask (18u32)").expect(&out);
        let pidfile = out.find(". pidfile (\"/run/x.pid\")").expect(&out);
        assert!(umask < pidfile, "{out}");
        assert!(out.contains("(move || -> () { }) ()"), "{out}");
        assert!(
            out.contains(":: daemonizer :: __private :: finish"),
            "{out}"
        );
    }

    #[test]
    fn runtime_attribute_moves_to_an_inner_function() {
        let out = expand(
            quote!(),
            quote!(
                #[doc = "kept outside"]
                #[tokio::main(flavor = "current_thread")]
                async fn main() -> u8 {
                    0
                }
            ),
        );
        let start = out.find("__private :: start").expect(&out);
        let runtime = out.find("# [tokio :: main").expect(&out);
        assert!(start < runtime, "{out}");
        assert!(
            out.starts_with("# [doc = \"kept outside\"] fn main () -> u8"),
            "{out}"
        );
        assert!(out.contains("async fn __daemonizer_main () -> u8"), "{out}");
    }

    #[test]
    fn crate_override_replaces_the_root_path() {
        let out = expand(
            quote!(crate = "::renamed"),
            quote!(
                fn main() {}
            ),
        );
        assert!(out.contains(":: renamed :: __private :: start"), "{out}");
        assert!(!out.contains("daemonizer ::"), "{out}");
    }

    #[test]
    fn unsuffixed_ids_become_u32() {
        let out = expand(
            quote!(user = 4294967294, group = 7i64),
            quote!(
                fn main() {}
            ),
        );
        assert!(out.contains(". user (4294967294u32)"), "{out}");
        assert!(out.contains(". group (7i64)"), "{out}");
    }

    #[test]
    fn errors_keep_the_function() {
        let out = expand(
            quote!(nope = 1),
            quote!(
                fn main() {
                    body();
                }
            ),
        );
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.ends_with("fn main () { body () ; }"), "{out}");
    }
}
