//! Parsing the attribute's arguments into [`Args`], one [`Setting`] per key,
//! in the order written, each with the span of its key.
//!
//! Only the shape is checked here (known keys, no duplicates, `key = value`
//! or `key(...)`); what the values may be is checked in `validate`.

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};

use crate::expr::{self, Expr};

/// Every key, in the order the documentation lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Pidfile,
    Umask,
    LiteIf,
    WorkDir,
    Chroot,
    User,
    Group,
    Stdout,
    Stderr,
    Preserve,
    Signals,
    Limits,
    Ready,
    OnLaunched,
    Setup,
    Commands,
    Crate,
}

impl Key {
    pub(crate) const ALL: [Key; 17] = [
        Key::Pidfile,
        Key::Umask,
        Key::LiteIf,
        Key::WorkDir,
        Key::Chroot,
        Key::User,
        Key::Group,
        Key::Stdout,
        Key::Stderr,
        Key::Preserve,
        Key::Signals,
        Key::Limits,
        Key::Ready,
        Key::OnLaunched,
        Key::Setup,
        Key::Commands,
        Key::Crate,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::Pidfile => "pidfile",
            Key::Umask => "umask",
            Key::LiteIf => "lite_if",
            Key::WorkDir => "work_dir",
            Key::Chroot => "chroot",
            Key::User => "user",
            Key::Group => "group",
            Key::Stdout => "stdout",
            Key::Stderr => "stderr",
            Key::Preserve => "preserve",
            Key::Signals => "signals",
            Key::Limits => "limits",
            Key::Ready => "ready",
            Key::OnLaunched => "on_launched",
            Key::Setup => "setup",
            Key::Commands => "commands",
            Key::Crate => "crate",
        }
    }

    fn from_name(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// How the key is written, for messages.
    fn usage(self) -> &'static str {
        match self {
            Key::Signals => "signals(SIGHUP = handler, ...)",
            Key::Limits => "limits(core = 0, nofile = 4096, ...)",
            Key::Umask => "umask = 0o022",
            Key::LiteIf => "lite_if = \"DEBUG\"",
            Key::Ready => "ready = \"manual\"",
            Key::Commands => "commands = true",
            Key::Crate => "crate = \"path::to::daemonizer\"",
            _ => "",
        }
    }

    fn is_list(self) -> bool {
        matches!(self, Key::Signals | Key::Limits)
    }
}

/// One `NAME = value` entry of `signals(...)` or `limits(...)`.
pub(crate) struct Entry {
    pub(crate) name: Ident,
    pub(crate) value: Expr,
}

pub(crate) enum Value {
    /// `key = expr`.
    Expr(Expr),
    /// `key(NAME = expr, ...)`.
    List(Vec<Entry>),
}

pub(crate) struct Setting {
    pub(crate) key: Key,
    /// The span of the key as written: where errors about the whole
    /// setting point.
    pub(crate) span: Span,
    pub(crate) value: Value,
}

impl Setting {
    pub(crate) fn expr(&self) -> Option<&Expr> {
        match &self.value {
            Value::Expr(expr) => Some(expr),
            Value::List(_) => None,
        }
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        match &self.value {
            Value::Expr(_) => &[],
            Value::List(entries) => entries,
        }
    }
}

/// The parsed arguments, in the order written.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) settings: Vec<Setting>,
}

impl Args {
    pub(crate) fn get(&self, key: Key) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }
}

/// Parses `args`; every misuse found is returned, combined into one error.
pub(crate) fn parse(args: TokenStream) -> syn::Result<Args> {
    let tokens: Vec<TokenTree> = args.into_iter().collect();
    let mut rest = tokens.as_slice();
    let mut parsed = Args::default();
    let mut errors: Vec<syn::Error> = Vec::new();
    while !rest.is_empty() {
        parse_setting(&mut rest, &mut parsed, &mut errors);
        end_of_item(&mut rest, &mut errors);
    }
    match combine(errors) {
        Some(err) => Err(err),
        None => Ok(parsed),
    }
}

pub(crate) fn combine(errors: impl IntoIterator<Item = syn::Error>) -> Option<syn::Error> {
    errors.into_iter().reduce(|mut all, err| {
        all.combine(err);
        all
    })
}

fn parse_setting(rest: &mut &[TokenTree], args: &mut Args, errors: &mut Vec<syn::Error>) {
    let Some((name, span)) = key_path(rest) else {
        errors.push(syn::Error::new(
            rest[0].span(),
            "expected a key, such as `pidfile = \"/run/name.pid\"`",
        ));
        return skip_value(rest);
    };
    let Some(key) = Key::from_name(&name) else {
        let valid: Vec<&str> = Key::ALL.iter().map(|k| k.name()).collect();
        errors.push(syn::Error::new(
            span,
            format!(
                "unknown key `{name}`; {}the valid keys are: {}",
                crate::suggest::closest(&name, &valid)
                    .map_or_else(String::new, |k| format!("did you mean `{k}`? ")),
                valid.join(", ")
            ),
        ));
        return skip_value(rest);
    };
    if args.get(key).is_some() {
        errors.push(syn::Error::new(
            span,
            format!("duplicate key `{}`: each key may be given once", key.name()),
        ));
        return skip_value(rest);
    }
    let value = if key.is_list() {
        let Some(TokenTree::Group(group)) = rest.first().filter(
            |tt| matches!(tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis),
        ) else {
            errors.push(syn::Error::new(span, format!("expected `{}`", key.usage())));
            return skip_value(rest);
        };
        *rest = &rest[1..];
        let content: Vec<TokenTree> = group.stream().into_iter().collect();
        Value::List(parse_entries(&content, key, errors))
    } else {
        if !is_eq(rest.first()) {
            let usage = match key.usage() {
                "" => format!("{} = ...", key.name()),
                usage => usage.to_owned(),
            };
            errors.push(syn::Error::new(span, format!("expected `{usage}`")));
            return skip_value(rest);
        }
        let eq = rest[0].span();
        *rest = &rest[1..];
        match expr::take(rest) {
            Some(value) => Value::Expr(value),
            None => {
                errors.push(syn::Error::new(eq, "expected an expression after `=`"));
                return;
            }
        }
    };
    args.settings.push(Setting { key, span, value });
}

fn parse_entries(tokens: &[TokenTree], key: Key, errors: &mut Vec<syn::Error>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut rest = tokens;
    while !rest.is_empty() {
        if let Some(entry) = parse_entry(&mut rest, key, &entries, errors) {
            entries.push(entry);
        }
        end_of_item(&mut rest, errors);
    }
    entries
}

fn parse_entry(
    rest: &mut &[TokenTree],
    key: Key,
    entries: &[Entry],
    errors: &mut Vec<syn::Error>,
) -> Option<Entry> {
    let first = rest.first().cloned();
    let name = match (key_path(rest), first) {
        (Some((path, span)), _) if path.contains("::") => Err(span),
        (Some(_), Some(TokenTree::Ident(name))) => Ok(name),
        (_, first) => Err(first.map_or_else(Span::call_site, |tt| tt.span())),
    };
    let name = match name {
        Ok(name) => name,
        Err(span) => {
            errors.push(syn::Error::new(
                span,
                format!("expected a single name in `{}`", key.usage()),
            ));
            skip_value(rest);
            return None;
        }
    };
    if entries.iter().any(|e| e.name == name) {
        let what = if key == Key::Signals {
            "signal"
        } else {
            "limit"
        };
        errors.push(syn::Error::new(
            name.span(),
            format!("duplicate {what} `{name}`"),
        ));
        skip_value(rest);
        return None;
    }
    if !is_eq(rest.first()) {
        errors.push(syn::Error::new(
            name.span(),
            format!("expected `{name} = ...` in `{}`", key.usage()),
        ));
        skip_value(rest);
        return None;
    }
    let eq = rest[0].span();
    *rest = &rest[1..];
    match expr::take(rest) {
        Some(value) => Some(Entry { name, value }),
        None => {
            errors.push(syn::Error::new(eq, "expected an expression after `=`"));
            None
        }
    }
}

/// The key at the start of `rest` (`name`, or a path `a::b` to report as
/// unknown) and its span, leaving `rest` after it; `None` if `rest` does
/// not start with a name.
fn key_path(rest: &mut &[TokenTree]) -> Option<(String, Span)> {
    let TokenTree::Ident(first) = rest.first()? else {
        return None;
    };
    let mut name = first.to_string();
    let mut len = 1;
    while let [TokenTree::Punct(a), TokenTree::Punct(b), TokenTree::Ident(next), ..] = &rest[len..]
    {
        if a.as_char() != ':' || b.as_char() != ':' {
            break;
        }
        name = format!("{name}::{next}");
        len += 3;
    }
    let path: TokenStream = rest[..len].iter().cloned().collect();
    let span = syn::spanned::Spanned::span(&path);
    *rest = &rest[len..];
    Some((name, span))
}

fn is_eq(tt: Option<&TokenTree>) -> bool {
    matches!(tt, Some(TokenTree::Punct(p)) if p.as_char() == '=')
}

/// Consumes whatever follows a rejected key (`= expr` or `(...)`), so that
/// parsing goes on and later misuses are reported too.
fn skip_value(rest: &mut &[TokenTree]) {
    if is_eq(rest.first()) {
        *rest = &rest[1..];
    }
    expr::take(rest);
}

/// Consumes the `,` after an item, reporting anything else found there.
fn end_of_item(rest: &mut &[TokenTree], errors: &mut Vec<syn::Error>) {
    match rest.first() {
        None => {}
        Some(TokenTree::Punct(p)) if p.as_char() == ',' => *rest = &rest[1..],
        Some(other) => {
            errors.push(syn::Error::new(other.span(), "expected `,`"));
            skip_value(rest);
            end_of_item(rest, errors);
        }
    }
}
