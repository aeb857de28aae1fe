//! The `#[daemonizer::daemon]` attribute. Use it through the `daemonizer`
//! crate, which documents every key; this crate only parses and checks the
//! arguments and emits a short call into the runtime.

mod args;
mod attribute;
mod expand;
mod expr;
mod function;
#[cfg(test)]
mod proptests;
mod suggest;
mod validate;

use proc_macro::TokenStream;

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
    attribute::expand(args.into(), item.into()).into()
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream as TokenStream2;
    use quote::quote;

    fn expand(args: TokenStream2, item: TokenStream2) -> String {
        crate::attribute::expand(args, item).to_string()
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
    fn setup_comes_last_and_feeds_the_one_parameter() {
        let out = expand(
            quote!(setup = bind, user = "nobody"),
            quote!(
                fn main(listener: TcpListener) {}
            ),
        );
        assert!(out.contains("fn main () {"), "{out}");
        assert!(
            out.contains(
                ":: daemonizer :: __private :: start_setup (:: daemonizer :: __private :: \
                 Daemon :: new () . user (\"nobody\") . setup (bind))"
            ),
            "{out}"
        );
        assert!(
            out.contains("(move | listener : TcpListener | -> () { }) (__daemonizer_setup)"),
            "{out}"
        );
    }

    #[test]
    fn the_body_is_never_parsed() {
        // Not an expression syn could read: only the compiler judges it.
        let out = expand(
            quote!(),
            quote!(
                fn main() {
                    @ not rust @
                }
            ),
        );
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("(move || -> () { @ not rust @ }) ()"), "{out}");
    }

    #[test]
    fn values_end_at_the_first_comma_outside_closures_and_generics() {
        let out = expand(
            quote!(
                on_launched = move |a, b: Vec<(u8, u8)>| f::<A, B>(a, b),
                stdout = |x| <T as Tr<X, Y>>::path(x),
                signals(SIGHUP = <T as Tr<X, Y>>::handle, SIGUSR1 = || g(1, 2)),
                preserve = [h::<C, D>(), 4],
                limits(nofile = (1 << 10, 4096)),
            ),
            quote!(
                fn main() {}
            ),
        );
        assert!(!out.contains("compile_error"), "{out}");
        let expected = [
            ". on_launched (move | a , b : Vec < (u8 , u8) > | f :: < A , B > (a , b))",
            ". stdout (| x | < T as Tr < X , Y >> :: path (x))",
            ". on_signal (:: daemonizer :: __private :: Signal :: SIGHUP , < T as Tr < X , Y >> :: handle)",
            ". on_signal (:: daemonizer :: __private :: Signal :: SIGUSR1 , || g (1 , 2))",
            ". preserve (h :: < C , D > ())",
            ". preserve (4)",
            ". limits (:: daemonizer :: __private :: Resource :: RLIMIT_NOFILE , 1 << 10 , 4096)",
        ];
        for call in expected {
            assert!(out.contains(call), "{call}\n{out}");
        }
    }

    #[test]
    fn misshapen_arguments_are_each_reported() {
        let out = expand(
            quote!(pidfile = , "x" = 1, umask = 0o022 0o027, limits(a::b = 1, core)),
            quote!(
                fn main() {}
            ),
        );
        for message in [
            "expected an expression after `=`",
            "expected a key",
            "expected a single name in `limits(",
            "expected `core = ...` in `limits(",
        ] {
            assert!(out.contains(message), "{message}\n{out}");
        }
    }

    #[test]
    fn values_passed_through_macro_rules_are_still_checked() {
        // `$value:expr` reaches the attribute inside an invisible group.
        let value = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote!(42));
        let out = expand(
            quote!(pidfile = #value),
            quote!(
                fn main() {}
            ),
        );
        assert!(out.contains("found an integer literal"), "{out}");
    }

    #[test]
    fn signatures_keep_their_qualifiers_and_return_types() {
        let out = expand(
            quote!(),
            quote!(
                pub(crate) unsafe extern "C" fn main() -> impl Fn() -> u8 {
                    || 0
                }
            ),
        );
        assert!(
            out.contains("pub (crate) unsafe extern \"C\" fn main () -> impl Fn () -> u8 {"),
            "{out}"
        );
        assert!(out.contains("(move || { || 0 }) ()"), "{out}");
        let out = expand(
            quote!(),
            quote!(
                fn main() -> Result<Vec<u8>, Box<dyn Error>> {}
            ),
        );
        assert!(
            out.contains("(move || -> Result < Vec < u8 > , Box < dyn Error >> { }) ()"),
            "{out}"
        );
    }

    #[test]
    fn only_a_function_with_a_body_is_accepted() {
        for item in [
            quote!(
                fn main();
            ),
            quote!(
                struct Main;
            ),
            quote!(
                fn main() {}
                fn x() {}
            ),
        ] {
            let out = expand(quote!(), item);
            assert!(out.contains("applies to `fn main` only"), "{out}");
        }
    }

    #[test]
    fn inner_attributes_of_the_body_move_onto_the_function() {
        // A closure body cannot hold `#![...]`; the function can.
        let out = expand(
            quote!(),
            quote!(
                fn main() {
                    #![allow(unused_variables)]
                    let x = 1;
                }
            ),
        );
        assert!(
            out.starts_with("# [allow (unused_variables)] fn main ()"),
            "{out}"
        );
        assert!(out.contains("(move || -> () { let x = 1 ; }) ()"), "{out}");
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
