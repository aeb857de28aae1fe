//! Values given to keys, kept as the tokens written.
//!
//! A value is any Rust expression: the compiler checks it where the
//! expansion passes it to the runtime. The attribute only needs its end
//! (the next `,` outside any nesting) and, for the checks it makes before
//! the compiler does, its outermost shape: a literal, a negative literal,
//! an array, a tuple or a single name. Finding these on the tokens, rather
//! than by parsing every expression, is what lets the attribute build
//! without syn's `full` and `derive` features.

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt};
use syn::{Lit, LitBool};

/// One expression, as written (never empty).
#[derive(Clone)]
pub(crate) struct Expr {
    tokens: Vec<TokenTree>,
}

impl Expr {
    /// The span of the whole expression, as the compiler reports it.
    pub(crate) fn span(&self) -> Span {
        let stream: TokenStream = self.tokens.iter().cloned().collect();
        syn::spanned::Spanned::span(&stream)
    }

    /// The tokens once any invisible group (left by a `macro_rules!` that
    /// passed an `$e:expr`) is unwrapped.
    fn inner(&self) -> Vec<TokenTree> {
        let mut tokens = self.tokens.clone();
        while let [TokenTree::Group(group)] = tokens.as_slice() {
            if group.delimiter() != Delimiter::None {
                break;
            }
            tokens = group.stream().into_iter().collect();
        }
        tokens
    }

    /// The literal the expression is, through invisible groups and
    /// parentheses: `"x"`, `(42)`, `true`.
    pub(crate) fn literal(&self) -> Option<Lit> {
        match self.inner().as_slice() {
            [TokenTree::Literal(lit)] => Some(Lit::new(lit.clone())),
            [TokenTree::Ident(ident)] if ident == "true" || ident == "false" => {
                Some(Lit::Bool(LitBool::new(ident == "true", ident.span())))
            }
            [TokenTree::Group(group)] if group.delimiter() == Delimiter::Parenthesis => {
                let content: Vec<TokenTree> = group.stream().into_iter().collect();
                if split(&content).len() == 1 && !ends_with_comma(&content) {
                    Expr { tokens: content }.literal()
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// Whether the expression is `-` followed by a literal.
    pub(crate) fn is_negative_literal(&self) -> bool {
        match self.inner().split_first() {
            Some((TokenTree::Punct(minus), rest)) if minus.as_char() == '-' && !rest.is_empty() => {
                Expr {
                    tokens: rest.to_vec(),
                }
                .literal()
                .is_some()
            }
            _ => false,
        }
    }

    /// The elements of an array expression `[a, b, ...]`.
    pub(crate) fn array(&self) -> Option<Vec<Expr>> {
        self.elements(Delimiter::Bracket)
            .filter(|_| !self.is_repeat())
    }

    /// `[x; n]` is an array of one value repeated, not a list.
    fn is_repeat(&self) -> bool {
        match self.inner().as_slice() {
            [TokenTree::Group(group)] => group
                .stream()
                .into_iter()
                .any(|tt| matches!(tt, TokenTree::Punct(p) if p.as_char() == ';')),
            _ => false,
        }
    }

    /// The elements of a tuple expression `(a, b, ...)`, `()` included;
    /// `(a)` is a parenthesized expression, not a tuple.
    pub(crate) fn tuple(&self) -> Option<Vec<Expr>> {
        let elements = self.elements(Delimiter::Parenthesis)?;
        let is_tuple = match self.inner().as_slice() {
            [TokenTree::Group(group)] => {
                let content: Vec<TokenTree> = group.stream().into_iter().collect();
                elements.len() != 1 || ends_with_comma(&content)
            }
            _ => false,
        };
        is_tuple.then_some(elements)
    }

    fn elements(&self, delimiter: Delimiter) -> Option<Vec<Expr>> {
        match self.inner().as_slice() {
            [TokenTree::Group(group)] if group.delimiter() == delimiter => {
                let content: Vec<TokenTree> = group.stream().into_iter().collect();
                Some(split(&content))
            }
            _ => None,
        }
    }

    /// Whether the expression is the single name `name`.
    pub(crate) fn is_ident(&self, name: &str) -> bool {
        matches!(self.inner().as_slice(), [TokenTree::Ident(ident)] if ident == name)
    }
}

impl ToTokens for Expr {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(self.tokens.iter().cloned());
    }
}

fn is_punct(tt: Option<&TokenTree>, ch: char) -> bool {
    matches!(tt, Some(TokenTree::Punct(p)) if p.as_char() == ch)
}

fn ends_with_comma(tokens: &[TokenTree]) -> bool {
    is_punct(tokens.last(), ',')
}

/// The comma-separated expressions of `tokens` (a trailing comma allowed).
fn split(tokens: &[TokenTree]) -> Vec<Expr> {
    let mut exprs = Vec::new();
    let mut rest = tokens;
    while !rest.is_empty() {
        let len = expr_len(rest);
        if len > 0 {
            exprs.push(Expr {
                tokens: rest[..len].to_vec(),
            });
        }
        rest = rest.get(len + 1..).unwrap_or_default();
    }
    exprs
}

/// Takes the expression at the start of `tokens` (up to the next comma
/// outside any nesting), or `None` if there is none before the comma.
pub(crate) fn take(tokens: &mut &[TokenTree]) -> Option<Expr> {
    let len = expr_len(tokens);
    let (expr, rest) = tokens.split_at(len);
    *tokens = rest;
    (len > 0).then(|| Expr {
        tokens: expr.to_vec(),
    })
}

/// How many tokens the expression at the start of `tokens` spans: up to
/// the first comma outside brackets. Brackets of every kind but `<>` are
/// token groups already; commas also appear, outside groups, between the
/// `<>` of generic arguments (`f::<A, B>()`, `<T as Trait>::f`) and
/// between the `|...|` of a closure's parameters, which are skipped here.
fn expr_len(tokens: &[TokenTree]) -> usize {
    let mut at = 0;
    // A closure's parameters: `|a, b|`, after `move` or `async` if any.
    while matches!(tokens.get(at), Some(TokenTree::Ident(i)) if i == "move" || i == "async") {
        at += 1;
    }
    if is_punct(tokens.get(at), '|') {
        at += 1;
        while at < tokens.len() && !is_punct(tokens.get(at), '|') {
            at += 1;
        }
        at += 1;
    } else {
        at = 0;
    }
    // Where the expression proper starts: a `<` there begins a qualified
    // path, `<T as Trait>::f`, not a comparison.
    let start = at;
    let mut angles = 0usize;
    while let Some(tt) = tokens.get(at) {
        if let TokenTree::Punct(p) = tt {
            match p.as_char() {
                ',' if angles == 0 => break,
                '<' if angles > 0 || at == start || is_path_separator(tokens, at) => angles += 1,
                '>' if angles > 0 && !is_arrow(tokens, at) => angles -= 1,
                _ => {}
            }
        }
        at += 1;
    }
    at.min(tokens.len())
}

/// Whether the token before `at` ends a `::`.
fn is_path_separator(tokens: &[TokenTree], at: usize) -> bool {
    at >= 2
        && matches!(&tokens[at - 2], TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
        && is_punct(tokens.get(at - 1), ':')
}

/// Whether the `>` at `at` is the end of `->`.
fn is_arrow(tokens: &[TokenTree], at: usize) -> bool {
    at >= 1
        && matches!(&tokens[at - 1], TokenTree::Punct(p) if p.as_char() == '-' && p.spacing() == Spacing::Joint)
}
