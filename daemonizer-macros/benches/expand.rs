//! How long one expansion of the attribute takes, with every key given:
//! the arguments and function of `tests/pass/every-key.rs`, expanded many
//! times by the attribute's own code, outside the compiler.
//!
//! `cargo bench -p daemonizer-macros --bench expand` (optimized), or with
//! `--profile dev` as the compiler loads the attribute by default (Cargo
//! builds proc macros without optimizations in every profile). The
//! compile benchmark of the workspace runs the latter.
//!
//! Outside the compiler, proc-macro2 keeps tokens itself instead of asking
//! the compiler through its bridge, so the figure leaves out the bridge's
//! cost per token.

// The attribute's modules, compiled into this benchmark as they are into
// the proc-macro crate (which cannot export them).
#![allow(dead_code, unreachable_pub)]

#[path = "../src/args.rs"]
mod args;
#[path = "../src/attribute.rs"]
mod attribute;
#[path = "../src/expand.rs"]
mod expand;
#[path = "../src/expr.rs"]
mod expr;
#[path = "../src/function.rs"]
mod function;
#[path = "../src/suggest.rs"]
mod suggest;
#[path = "../src/validate.rs"]
mod validate;

use std::path::Path;
use std::time::{Duration, Instant};

use proc_macro2::{Delimiter, TokenStream, TokenTree};

const RUNS: usize = 2000;

fn main() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/pass/every-key.rs");
    let text =
        std::fs::read_to_string(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    let (args, item) = attribute_and_function(&text)
        .unwrap_or_else(|| panic!("{}: no #[daemonizer::daemon(...)] fn", source.display()));
    let keys = args::parse(args.clone()).map_or(0, |parsed| parsed.settings.len());

    let out = attribute::expand(args.clone(), item.clone()).to_string();
    assert!(
        !out.contains("compile_error"),
        "the every-key case does not expand cleanly:\n{out}"
    );

    for _ in 0..RUNS / 10 {
        std::hint::black_box(attribute::expand(args.clone(), item.clone()));
    }
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let (args, item) = (args.clone(), item.clone());
            let started = Instant::now();
            std::hint::black_box(attribute::expand(args, item));
            started.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((RUNS - 1) as f64 * q) as usize];
    let profile = if cfg!(debug_assertions) {
        "unoptimized, as the compiler loads it"
    } else {
        "optimized"
    };
    println!("expansion of the every-key case ({keys} keys, {profile}), {RUNS} runs:");
    println!(
        "  min {:.1} µs   median {:.1} µs   p90 {:.1} µs   (target < 1000 µs)",
        micros(at(0.0)),
        micros(at(0.5)),
        micros(at(0.9)),
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The arguments of the `#[daemonizer::daemon(...)]` in `text` and the
/// function it is on (through the end of its body).
fn attribute_and_function(text: &str) -> Option<(TokenStream, TokenStream)> {
    let tokens: Vec<TokenTree> = text.parse::<TokenStream>().ok()?.into_iter().collect();
    let at = tokens.windows(2).position(|pair| match pair {
        [TokenTree::Punct(p), TokenTree::Group(g)] => {
            p.as_char() == '#'
                && g.delimiter() == Delimiter::Bracket
                && g.stream().to_string().starts_with("daemonizer :: daemon")
        }
        _ => false,
    })?;
    let TokenTree::Group(attr) = &tokens[at + 1] else {
        return None;
    };
    let args = match attr.stream().into_iter().last()? {
        TokenTree::Group(args) if args.delimiter() == Delimiter::Parenthesis => args.stream(),
        _ => return None,
    };
    let rest = &tokens[at + 2..];
    let end = rest
        .iter()
        .position(|tt| matches!(tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace))?;
    Some((args, rest[..=end].iter().cloned().collect()))
}
