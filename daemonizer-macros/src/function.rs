//! The item the attribute is on, read only as far as the expansion needs:
//! attributes, visibility and signature. The body stays the token group
//! the user wrote: parsing it would cost time on every build and could only
//! reject code that the compiler accepts. The signature is read from its
//! tokens too; the compiler checks the rest of it.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens, TokenStreamExt};

/// One outer attribute, `#[...]`.
pub(crate) struct Attr {
    tokens: [TokenTree; 2],
    /// Whether it is an async runtime's entry attribute: `#[tokio::main]`,
    /// `#[async_std::main]`, `#[actix_web::main]`, ... (last segment
    /// `main`).
    pub(crate) is_runtime: bool,
}

impl ToTokens for Attr {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(self.tokens.iter().cloned());
    }
}

/// What follows the parameters: nothing, `-> !`, `-> impl Trait` or
/// another type.
pub(crate) enum Output {
    Default,
    Never,
    ImplTrait,
    Type(TokenStream),
}

/// `fn main` with its body unparsed.
pub(crate) struct MainFn {
    pub(crate) attrs: Vec<Attr>,
    vis: TokenStream,
    pub(crate) constness: Option<Ident>,
    pub(crate) asyncness: Option<Ident>,
    /// `unsafe`, `extern "C"`: kept as written.
    qualifiers: TokenStream,
    pub(crate) ident: Ident,
    /// `<...>`, or nothing.
    pub(crate) generics: TokenStream,
    /// The `(...)` group.
    pub(crate) inputs: Group,
    /// `-> Type`, or nothing.
    arrow_output: TokenStream,
    pub(crate) output: Output,
    /// `where ...`, or nothing.
    pub(crate) where_clause: TokenStream,
    /// The `{ ... }` group, as written.
    pub(crate) body: Group,
}

impl MainFn {
    /// Reads `item`; `None` if it is not a function with a body.
    pub(crate) fn parse(item: TokenStream) -> Option<MainFn> {
        let tokens: Vec<TokenTree> = item.into_iter().collect();
        let mut rest = tokens.as_slice();
        let attrs = attributes(&mut rest);
        let vis = visibility(&mut rest);
        let constness = keyword(&mut rest, "const");
        let asyncness = keyword(&mut rest, "async");
        let mut qualifiers = TokenStream::new();
        qualifiers.extend(keyword(&mut rest, "unsafe").map(TokenTree::Ident));
        if let Some(ext) = keyword(&mut rest, "extern") {
            qualifiers.append(ext);
            if let Some(abi @ TokenTree::Literal(_)) = rest.first() {
                qualifiers.append(abi.clone());
                rest = &rest[1..];
            }
        }
        keyword(&mut rest, "fn")?;
        let TokenTree::Ident(ident) = rest.first()?.clone() else {
            return None;
        };
        rest = &rest[1..];
        let generics = if is_punct(rest.first(), '<') {
            let len = angle_bracketed_len(rest)?;
            let (generics, after) = rest.split_at(len);
            rest = after;
            generics.iter().cloned().collect()
        } else {
            TokenStream::new()
        };
        let inputs = group(&mut rest, Delimiter::Parenthesis)?;
        let (arrow_output, output) = if is_punct(rest.first(), '-') && is_punct(rest.get(1), '>') {
            let len = 2 + type_len(&rest[2..]);
            let (arrow_output, after) = rest.split_at(len);
            rest = after;
            let ty = &arrow_output[2..];
            let output = match ty {
                [] => return None,
                [TokenTree::Punct(p)] if p.as_char() == '!' => Output::Never,
                [TokenTree::Ident(i), ..] if i == "impl" => Output::ImplTrait,
                _ => Output::Type(ty.iter().cloned().collect()),
            };
            (arrow_output.iter().cloned().collect(), output)
        } else {
            (TokenStream::new(), Output::Default)
        };
        let where_len = match rest.first() {
            Some(TokenTree::Ident(w)) if w == "where" => 1 + type_len(&rest[1..]),
            _ => 0,
        };
        let (where_clause, after) = rest.split_at(where_len);
        rest = after;
        let body = group(&mut rest, Delimiter::Brace)?;
        if !rest.is_empty() {
            return None;
        }
        Some(MainFn {
            attrs,
            vis,
            constness,
            asyncness,
            qualifiers,
            ident,
            generics,
            inputs,
            arrow_output,
            output,
            where_clause: where_clause.iter().cloned().collect(),
            body,
        })
    }

    /// The visibility, as written.
    pub(crate) fn vis(&self) -> &TokenStream {
        &self.vis
    }

    /// The signature, as written but without `async` when `asyncness` is
    /// false, and named `name`.
    pub(crate) fn signature(&self, name: &Ident, asyncness: bool) -> TokenStream {
        let MainFn {
            constness,
            qualifiers,
            generics,
            inputs,
            arrow_output,
            where_clause,
            ..
        } = self;
        let asyncness = self.asyncness.as_ref().filter(|_| asyncness);
        quote! {
            #constness #asyncness #qualifiers fn #name #generics #inputs #arrow_output #where_clause
        }
    }

    /// The whole signature as the one of an inner `__daemonizer_main`.
    pub(crate) fn inner_signature(&self) -> TokenStream {
        self.signature(&format_ident!("__daemonizer_main"), true)
    }

    /// The body's leading inner attributes (`#![allow(...)]`), written as
    /// outer attributes of the function, and the body without them: the
    /// expansion moves the body into a closure, where inner attributes are
    /// not allowed, while on the function they still cover the body.
    pub(crate) fn hoisted_body(&self) -> (TokenStream, Group) {
        let tokens: Vec<TokenTree> = self.body.stream().into_iter().collect();
        let mut rest = tokens.as_slice();
        let mut attrs = TokenStream::new();
        while let [pound @ TokenTree::Punct(p), TokenTree::Punct(bang), TokenTree::Group(group), ..] =
            rest
        {
            if p.as_char() != '#'
                || bang.as_char() != '!'
                || group.delimiter() != Delimiter::Bracket
            {
                break;
            }
            attrs.append(pound.clone());
            attrs.append(group.clone());
            rest = &rest[3..];
        }
        let mut body = Group::new(Delimiter::Brace, rest.iter().cloned().collect());
        body.set_span(self.body.span());
        (attrs, body)
    }

    /// The `-> Type` part, or nothing.
    pub(crate) fn arrow_output(&self) -> &TokenStream {
        &self.arrow_output
    }

    /// The parameters, each `pattern: Type` as written. In a parameter
    /// list `<` always opens generic arguments (no comparison can appear
    /// outside a group), so commas between `<>` are skipped.
    pub(crate) fn parameters(&self) -> Vec<TokenStream> {
        let tokens: Vec<TokenTree> = self.inputs.stream().into_iter().collect();
        let mut params = Vec::new();
        let mut current = TokenStream::new();
        let mut angles = 0usize;
        for (at, tt) in tokens.iter().enumerate() {
            if let TokenTree::Punct(p) = tt {
                let arrow = p.as_char() == '>'
                    && at > 0
                    && matches!(&tokens[at - 1], TokenTree::Punct(q) if q.as_char() == '-');
                match p.as_char() {
                    ',' if angles == 0 => {
                        params.push(std::mem::take(&mut current));
                        continue;
                    }
                    '<' => angles += 1,
                    '>' if !arrow => angles = angles.saturating_sub(1),
                    _ => {}
                }
            }
            current.append(tt.clone());
        }
        if !current.is_empty() {
            params.push(current);
        }
        params
    }

    /// The signature of a plain `fn main()` with the return type as
    /// written: what the attribute turns a `main` with a parameter into.
    pub(crate) fn signature_without_parameters(&self) -> TokenStream {
        let MainFn {
            qualifiers,
            ident,
            arrow_output,
            ..
        } = self;
        quote! { #qualifiers fn #ident() #arrow_output }
    }
}

impl ToTokens for MainFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.signature(&self.ident, true).to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}

/// The span of the item's first token after its attributes and visibility
/// (`struct`, `mod`, ...): where "not a function" is reported.
pub(crate) fn head_span(item: &TokenStream) -> Span {
    let tokens: Vec<TokenTree> = item.clone().into_iter().collect();
    let mut rest = tokens.as_slice();
    attributes(&mut rest);
    visibility(&mut rest);
    rest.first()
        .or(tokens.first())
        .map_or_else(Span::call_site, TokenTree::span)
}

fn is_punct(tt: Option<&TokenTree>, ch: char) -> bool {
    matches!(tt, Some(TokenTree::Punct(p)) if p.as_char() == ch)
}

fn keyword(rest: &mut &[TokenTree], word: &str) -> Option<Ident> {
    match rest.first() {
        Some(TokenTree::Ident(ident)) if ident == word => {
            let ident = ident.clone();
            *rest = &rest[1..];
            Some(ident)
        }
        _ => None,
    }
}

fn group(rest: &mut &[TokenTree], delimiter: Delimiter) -> Option<Group> {
    match rest.first() {
        Some(TokenTree::Group(group)) if group.delimiter() == delimiter => {
            let group = group.clone();
            *rest = &rest[1..];
            Some(group)
        }
        _ => None,
    }
}

fn attributes(rest: &mut &[TokenTree]) -> Vec<Attr> {
    let mut attrs = Vec::new();
    while let [pound @ TokenTree::Punct(p), TokenTree::Group(group), ..] = *rest {
        if p.as_char() != '#' || group.delimiter() != Delimiter::Bracket {
            break;
        }
        attrs.push(Attr {
            tokens: [pound.clone(), TokenTree::Group(group.clone())],
            is_runtime: is_runtime(group),
        });
        *rest = &rest[2..];
    }
    attrs
}

/// Whether the path of the attribute in `group` ends in `main`.
fn is_runtime(group: &Group) -> bool {
    let mut last = None;
    for tt in group.stream() {
        match tt {
            TokenTree::Ident(ident) => last = Some(ident),
            TokenTree::Punct(p) if p.as_char() == ':' => {}
            _ => break,
        }
    }
    last.is_some_and(|ident| ident == "main")
}

fn visibility(rest: &mut &[TokenTree]) -> TokenStream {
    let mut vis = TokenStream::new();
    if let Some(public) = keyword(rest, "pub") {
        vis.append(public);
        if let Some(scope) = group(rest, Delimiter::Parenthesis) {
            vis.append(scope);
        }
    }
    vis
}

/// The length of the `<...>` at the start of `tokens`.
fn angle_bracketed_len(tokens: &[TokenTree]) -> Option<usize> {
    let mut depth = 0usize;
    for (at, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '>' && !is_arrow_end(tokens, at) => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// How many tokens a return type or a where clause spans: up to `where` or
/// the body, outside `<>` (a brace group inside them is a const generic
/// argument).
fn type_len(tokens: &[TokenTree]) -> usize {
    let mut depth = 0usize;
    for (at, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
            TokenTree::Punct(p) if p.as_char() == '>' && !is_arrow_end(tokens, at) => {
                depth = depth.saturating_sub(1);
            }
            TokenTree::Group(g) if depth == 0 && g.delimiter() == Delimiter::Brace => return at,
            TokenTree::Ident(i) if depth == 0 && i == "where" => return at,
            _ => {}
        }
    }
    tokens.len()
}

fn is_arrow_end(tokens: &[TokenTree], at: usize) -> bool {
    at >= 1 && is_punct(tokens.get(at - 1), '-')
}
