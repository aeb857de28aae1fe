//! Parsing the attribute's arguments into [`Args`], one [`Setting`] per key,
//! in the order written, each with the span of its key.
//!
//! Only the shape is checked here (known keys, no duplicates, `key = value`
//! or `key(...)`); what the values may be is checked in `validate`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{token, Expr, Ident, Token};

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
    Crate,
}

impl Key {
    pub(crate) const ALL: [Key; 15] = [
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
    let mut parsed = Args::default();
    let mut errors: Vec<syn::Error> = Vec::new();
    let parser = syn::meta::parser(|meta| parse_setting(&meta, &mut parsed, &mut errors));
    if let Err(err) = parser.parse2(args) {
        errors.push(err);
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

fn parse_setting(
    meta: &ParseNestedMeta<'_>,
    args: &mut Args,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<()> {
    let name = path_name(&meta.path);
    let span = span_of(&meta.path);
    let Some(key) = Key::from_name(&name) else {
        let valid: Vec<&str> = Key::ALL.iter().map(|k| k.name()).collect();
        errors.push(syn::Error::new(
            span,
            format!(
                "unknown key `{name}`; the valid keys are: {}",
                valid.join(", ")
            ),
        ));
        return skip_value(meta);
    };
    if args.get(key).is_some() {
        errors.push(syn::Error::new(
            span,
            format!("duplicate key `{}`: each key may be given once", key.name()),
        ));
        return skip_value(meta);
    }
    let value = if key.is_list() {
        if !meta.input.peek(token::Paren) {
            errors.push(syn::Error::new(span, format!("expected `{}`", key.usage())));
            return skip_value(meta);
        }
        Value::List(parse_entries(meta, key, errors)?)
    } else {
        if !meta.input.peek(Token![=]) {
            let usage = match key.usage() {
                "" => format!("{} = ...", key.name()),
                usage => usage.to_owned(),
            };
            errors.push(syn::Error::new(span, format!("expected `{usage}`")));
            return skip_value(meta);
        }
        Value::Expr(meta.value()?.parse()?)
    };
    args.settings.push(Setting { key, span, value });
    Ok(())
}

fn parse_entries(
    meta: &ParseNestedMeta<'_>,
    key: Key,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = Vec::new();
    meta.parse_nested_meta(|inner| {
        let Some(name) = inner.path.get_ident().cloned() else {
            errors.push(syn::Error::new(
                span_of(&inner.path),
                format!("expected a single name in `{}`", key.usage()),
            ));
            return skip_value(&inner);
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
            return skip_value(&inner);
        }
        if !inner.input.peek(Token![=]) {
            errors.push(syn::Error::new(
                name.span(),
                format!("expected `{name} = ...` in `{}`", key.usage()),
            ));
            return skip_value(&inner);
        }
        let value: Expr = inner.value()?.parse()?;
        entries.push(Entry { name, value });
        Ok(())
    })?;
    Ok(entries)
}

/// Consumes whatever follows a rejected key (`= expr` or `(...)`), so that
/// parsing goes on and later misuses are reported too.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn path_name(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

fn span_of(path: &syn::Path) -> Span {
    use syn::spanned::Spanned;
    path.span()
}
