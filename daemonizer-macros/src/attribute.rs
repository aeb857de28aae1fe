//! From the attribute's tokens to the code it stands for: parse, check,
//! then expand or report. Apart from the `proc_macro` entry point so that
//! the expansion can be run and timed outside the compiler
//! (`benches/expand.rs`).

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::{self, Key};
use crate::expand;
use crate::function::{self, MainFn};
use crate::validate::{self, Errors};

/// The expansion of `#[daemon(args)] item`: the function with the daemon
/// started first, or the errors found next to the function as written.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
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
    let function = match MainFn::parse(item.clone()) {
        Some(function) => {
            let setup = args.as_ref().and_then(|args| args.get(Key::Setup));
            validate::function(&function, setup, &mut errors);
            Some(function)
        }
        None => {
            errors.extend(syn::Error::new(
                function::head_span(&item),
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
                .unwrap_or_else(|| quote!(::daemonizer));
            expand::main(&args, &krate, function)
        }
        // The function is emitted as written next to the errors, so that
        // the compiler does not add "`main` function not found" to them.
        (Err(err), _, Some(function)) => with_error(err, expand::as_written(function)),
        (Err(err), _, None) => with_error(err, item),
        _ => item,
    }
}

fn with_error(err: syn::Error, item: TokenStream) -> TokenStream {
    let errors = err.into_compile_error();
    quote! {
        #errors
        #item
    }
}
