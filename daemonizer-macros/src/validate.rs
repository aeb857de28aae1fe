//! Checks on what the parsed arguments and the function may be, done once
//! parsing is complete: literal values, names of signals and limits, checks
//! across keys, and the function's shape.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::{Lit, LitStr};

use crate::args::{Args, Key, Setting};
use crate::expr::Expr;
use crate::function::MainFn;

/// Signals a handler may be given for (POSIX and Linux names, as spelled by
/// `nix::sys::signal::Signal`): every signal but those below, as the
/// runtime decides (`tests/names.rs` compares the lists).
const SIGNALS: &[&str] = &[
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGUSR1",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
];

/// Signals that a handler in normal context cannot serve: the kernel
/// delivers them to the faulting thread, which cannot go on.
const FAULT_SIGNALS: &[&str] = &[
    "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGSEGV", "SIGSYS",
];

/// The names accepted in `limits(...)`, as `RLIMIT_<NAME>` in lower case.
const LIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// The largest uid or gid: `u32::MAX` is `(uid_t)-1`, "no change".
const MAX_ID: u64 = u32::MAX as u64 - 1;

/// Collects every misuse instead of stopping at the first.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, message));
    }

    pub(crate) fn extend(&mut self, err: syn::Error) {
        self.0.push(err);
    }

    pub(crate) fn into_result(self) -> syn::Result<()> {
        match crate::args::combine(self.0) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// Checks every setting, then the settings against each other.
pub(crate) fn args(args: &Args, errors: &mut Errors) {
    for setting in &args.settings {
        match setting.key {
            Key::Pidfile | Key::WorkDir | Key::Chroot | Key::Stdout | Key::Stderr => {
                path(setting, errors)
            }
            Key::User | Key::Group => account(setting, errors),
            Key::Umask => umask(setting, errors),
            Key::LiteIf => lite_if(setting, errors),
            Key::Ready => ready(setting, errors),
            Key::Preserve => preserve(setting, errors),
            Key::Signals => signals(setting, errors),
            Key::Limits => limits(setting, errors),
            Key::OnLaunched | Key::Setup => {
                not_a_literal(setting, "a closure or a function", errors)
            }
            Key::Commands => commands(setting, args, errors),
            Key::Crate => {
                crate_path(setting, errors);
            }
        }
    }
    same_file(args, errors);
}

/// The crate path of `crate = "..."`, when given and valid.
pub(crate) fn crate_path(setting: &Setting, errors: &mut Errors) -> Option<TokenStream> {
    let lit = string_literal(setting, "a string literal holding a path", errors)?;
    match lit.parse::<TokenStream>() {
        Ok(path) if is_path(&path) => Some(path),
        _ => {
            errors.push(
                lit.span(),
                "`crate` expects a path such as \"::daemonizer\"",
            );
            None
        }
    }
}

/// Whether `tokens` are a module path: `::a::b`, `a`, `crate::a`.
fn is_path(tokens: &TokenStream) -> bool {
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut rest = tokens.as_slice();
    if let [TokenTree::Punct(a), TokenTree::Punct(b), after @ ..] = rest {
        if a.as_char() == ':' && b.as_char() == ':' {
            rest = after;
        }
    }
    loop {
        match rest {
            [TokenTree::Ident(_)] => return true,
            [TokenTree::Ident(_), TokenTree::Punct(a), TokenTree::Punct(b), after @ ..]
                if a.as_char() == ':' && b.as_char() == ':' =>
            {
                rest = after
            }
            _ => return false,
        }
    }
}

fn literal(expr: &Expr) -> Option<Lit> {
    expr.literal()
}

fn negative_literal(expr: &Expr) -> bool {
    expr.is_negative_literal()
}

fn kind(lit: &Lit) -> &'static str {
    match lit {
        Lit::Str(_) => "a string literal",
        Lit::ByteStr(_) => "a byte string literal",
        Lit::CStr(_) => "a C string literal",
        Lit::Byte(_) => "a byte literal",
        Lit::Char(_) => "a character literal",
        Lit::Int(_) => "an integer literal",
        Lit::Float(_) => "a float literal",
        Lit::Bool(_) => "a boolean literal",
        _ => "a literal",
    }
}

fn wrong_literal(key: Key, expected: &str, lit: &Lit, errors: &mut Errors) {
    errors.push(
        lit.span(),
        format!("`{}` expects {expected}, found {}", key.name(), kind(lit)),
    );
}

fn string_literal(setting: &Setting, expected: &str, errors: &mut Errors) -> Option<LitStr> {
    let expr = setting.expr()?;
    match literal(expr) {
        Some(Lit::Str(lit)) => Some(lit),
        Some(lit) => {
            wrong_literal(setting.key, expected, &lit, errors);
            None
        }
        None => {
            errors.push(
                expr.span(),
                format!("`{}` expects {expected}", setting.key.name()),
            );
            None
        }
    }
}

fn not_a_literal(setting: &Setting, expected: &str, errors: &mut Errors) {
    if let Some(lit) = setting.expr().and_then(literal) {
        wrong_literal(setting.key, expected, &lit, errors);
    }
}

fn path(setting: &Setting, errors: &mut Errors) {
    let Some(expr) = setting.expr() else { return };
    match literal(expr) {
        Some(Lit::Str(lit)) if lit.value().is_empty() => errors.push(
            lit.span(),
            format!("`{}` must not be an empty path", setting.key.name()),
        ),
        Some(Lit::Str(lit)) if lit.value().contains('\0') => errors.push(
            lit.span(),
            format!("`{}` must not contain a NUL byte", setting.key.name()),
        ),
        Some(Lit::Str(_)) | None => {}
        Some(lit) => wrong_literal(
            setting.key,
            "a path: a string literal or an expression",
            &lit,
            errors,
        ),
    }
}

fn account(setting: &Setting, errors: &mut Errors) {
    let Some(expr) = setting.expr() else { return };
    let what = if setting.key == Key::User {
        "uid"
    } else {
        "gid"
    };
    if negative_literal(expr) {
        errors.push(
            expr.span(),
            format!("a {what} is in 0..={MAX_ID}, not negative"),
        );
        return;
    }
    match literal(expr) {
        Some(Lit::Str(lit)) if lit.value().is_empty() => errors.push(
            lit.span(),
            format!("`{}` must not be an empty name", setting.key.name()),
        ),
        Some(Lit::Int(lit)) => match lit.base10_parse::<u64>() {
            Ok(id) if id <= MAX_ID => {}
            _ => errors.push(lit.span(), format!("a {what} is in 0..={MAX_ID}")),
        },
        Some(Lit::Str(_)) | None => {}
        Some(lit) => wrong_literal(
            setting.key,
            &format!("a name or a numeric {what}"),
            &lit,
            errors,
        ),
    }
}

/// The mask of `umask = <int>`, once checked.
pub(crate) fn umask_value(expr: &Expr) -> Option<u32> {
    match literal(expr) {
        Some(Lit::Int(lit)) => lit.base10_parse::<u32>().ok().filter(|m| *m <= 0o777),
        _ => None,
    }
}

fn umask(setting: &Setting, errors: &mut Errors) {
    let Some(expr) = setting.expr() else { return };
    let lit = match literal(expr) {
        Some(Lit::Int(lit)) => lit,
        Some(lit) => {
            return wrong_literal(Key::Umask, "an integer literal such as 0o022", &lit, errors)
        }
        None => {
            return errors.push(
                expr.span(),
                "`umask` expects an integer literal such as 0o022",
            )
        }
    };
    let written = lit.token().to_string();
    if written.len() > 1 && written.starts_with('0') && written.as_bytes()[1].is_ascii_digit() {
        // C reads 022 as octal; Rust reads it as twenty-two.
        errors.push(
            lit.span(),
            format!(
                "`umask = {written}` is decimal in Rust: write `0o{written}` for an octal mask"
            ),
        );
    } else if umask_value(expr).is_none() {
        errors.push(
            lit.span(),
            format!("umask {written} is out of range: the largest mask is 0o777"),
        );
    }
}

fn lite_if(setting: &Setting, errors: &mut Errors) {
    let expected = "a string literal naming an environment variable";
    let Some(lit) = string_literal(setting, expected, errors) else {
        return;
    };
    let name = lit.value();
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        errors.push(
            lit.span(),
            "`lite_if` expects the name of an environment variable: not empty, without `=` or NUL",
        );
    }
}

/// `commands = true` or `false`, or the command run when the program gets
/// no argument (`commands = "start"`): a literal, so that whether the
/// program takes commands is known here; commands need the pid file
/// through which they find the daemon.
fn commands(setting: &Setting, args: &Args, errors: &mut Errors) {
    let Some(expr) = setting.expr() else { return };
    let expected = "`true`, `false`, or the command run without an argument \
                    (\"start\", \"stop\", \"status\", \"restart\", \"reload\")";
    let on = match literal(expr) {
        Some(Lit::Bool(on)) => on.value,
        Some(Lit::Str(name)) => {
            if default_command(expr).is_none() {
                errors.push(
                    name.span(),
                    format!(
                        "unknown command {:?}; `commands` expects {expected}",
                        name.value()
                    ),
                );
            }
            true
        }
        Some(lit) => return wrong_literal(Key::Commands, expected, &lit, errors),
        None => return errors.push(expr.span(), format!("`commands` expects {expected}")),
    };
    if on && args.get(Key::Pidfile).is_none() {
        errors.push(
            setting.span,
            "`commands` needs a `pidfile`: `stop`, `status`, `restart` and \
             `reload` find the daemon through its lock",
        );
    }
}

/// The variant of `daemonizer::control::Command` that `commands = "name"`
/// names, once checked.
pub(crate) fn default_command(expr: &Expr) -> Option<&'static str> {
    let Some(Lit::Str(name)) = literal(expr) else {
        return None;
    };
    [
        ("start", "Start"),
        ("stop", "Stop"),
        ("status", "Status"),
        ("restart", "Restart"),
        ("reload", "Reload"),
    ]
    .into_iter()
    .find(|(command, _)| name.value() == *command)
    .map(|(_, variant)| variant)
}

/// Whether `ready = "manual"`, once checked.
pub(crate) fn ready_manual(expr: &Expr) -> bool {
    matches!(literal(expr), Some(Lit::Str(lit)) if lit.value() == "manual")
}

fn ready(setting: &Setting, errors: &mut Errors) {
    let expected = "\"manual\" or \"auto\"";
    let Some(lit) = string_literal(setting, expected, errors) else {
        return;
    };
    if !matches!(lit.value().as_str(), "manual" | "auto") {
        errors.push(lit.span(), format!("`ready` expects {expected}"));
    }
}

fn preserve(setting: &Setting, errors: &mut Errors) {
    let Some(expr) = setting.expr() else { return };
    for fd in preserved(expr) {
        if negative_literal(&fd) {
            errors.push(fd.span(), "a file descriptor is not negative");
            continue;
        }
        match literal(&fd) {
            Some(Lit::Int(lit)) if lit.base10_parse::<i32>().is_err() => {
                errors.push(lit.span(), "a file descriptor is in 0..=2147483647");
            }
            Some(Lit::Int(_)) | None => {}
            Some(lit) => wrong_literal(
                Key::Preserve,
                "a file descriptor: an integer or an expression such as `&file`",
                &lit,
                errors,
            ),
        }
    }
}

/// The fds of `preserve = [a, b]` or `preserve = a`.
pub(crate) fn preserved(expr: &Expr) -> Vec<Expr> {
    expr.array().unwrap_or_else(|| vec![expr.clone()])
}

fn signals(setting: &Setting, errors: &mut Errors) {
    for entry in setting.entries() {
        let name = entry.name.to_string();
        if name == "SIGKILL" || name == "SIGSTOP" {
            errors.push(
                entry.name.span(),
                format!("{name} cannot be caught: no handler can be set for it"),
            );
        } else if FAULT_SIGNALS.contains(&name.as_str()) {
            errors.push(
                entry.name.span(),
                format!(
                    "{name} is a fault signal and cannot be handled outside the faulting \
                     thread: no handler can be set for it"
                ),
            );
        } else if !SIGNALS.contains(&name.as_str()) {
            let upper = name.to_ascii_uppercase();
            let prefixed = if upper.starts_with("SIG") {
                upper
            } else {
                format!("SIG{upper}")
            };
            let hint = crate::suggest::closest(&prefixed, SIGNALS)
                .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
            errors.push(entry.name.span(), format!("unknown signal `{name}`{hint}"));
        }
        if let Some(lit) = literal(&entry.value) {
            errors.push(
                lit.span(),
                format!(
                    "a signal handler is a closure or a function, found {}",
                    kind(&lit)
                ),
            );
        }
    }
}

/// The value of one limit: `unlimited`, `(soft, hard)` or an expression.
pub(crate) enum LimitValue {
    Soft(Expr),
    Both(Expr, Expr),
}

pub(crate) fn limit_value(expr: &Expr) -> LimitValue {
    match expr.tuple() {
        Some(elems) if elems.len() == 2 => {
            let mut elems = elems.into_iter();
            match (elems.next(), elems.next()) {
                (Some(soft), Some(hard)) => LimitValue::Both(soft, hard),
                _ => LimitValue::Soft(expr.clone()),
            }
        }
        _ => LimitValue::Soft(expr.clone()),
    }
}

pub(crate) fn is_unlimited(expr: &Expr) -> bool {
    expr.is_ident("unlimited")
}

fn limits(setting: &Setting, errors: &mut Errors) {
    for entry in setting.entries() {
        let name = entry.name.to_string();
        if !LIMITS.contains(&name.as_str()) {
            errors.push(
                entry.name.span(),
                format!(
                    "unknown limit `{name}`; {}the valid limits are: {}",
                    crate::suggest::closest(name.trim_start_matches("RLIMIT_"), LIMITS)
                        .map_or_else(String::new, |s| format!("did you mean `{s}`? ")),
                    LIMITS.join(", ")
                ),
            );
        }
        if let Some(elems) = entry.value.tuple() {
            if elems.len() != 2 {
                errors.push(entry.value.span(), "expected `(soft, hard)`");
                continue;
            }
        }
        let (soft, hard) = match limit_value(&entry.value) {
            LimitValue::Soft(soft) => (limit_number(&soft, errors), None),
            LimitValue::Both(soft, hard) => {
                (limit_number(&soft, errors), limit_number(&hard, errors))
            }
        };
        if let (Some(soft), Some(hard)) = (soft, hard) {
            if soft > hard {
                errors.push(
                    entry.value.span(),
                    format!("the soft limit of `{name}` is above its hard limit"),
                );
            }
        }
    }
}

/// Checks one limit value; its number when it is a literal or `unlimited`.
fn limit_number(expr: &Expr, errors: &mut Errors) -> Option<u64> {
    if is_unlimited(expr) {
        return Some(u64::MAX);
    }
    if negative_literal(expr) {
        errors.push(expr.span(), "a limit is not negative");
        return None;
    }
    match literal(expr) {
        Some(Lit::Int(lit)) => match lit.base10_parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(lit.span(), "a limit is a u64, or `unlimited`");
                None
            }
        },
        Some(lit) => {
            wrong_literal(
                Key::Limits,
                "a number, `(soft, hard)` or `unlimited`",
                &lit,
                errors,
            );
            None
        }
        None => None,
    }
}

/// The resource of a checked limit name: `RLIMIT_NOFILE` for `nofile`.
pub(crate) fn resource_name(name: &str) -> String {
    format!("RLIMIT_{}", name.to_ascii_uppercase())
}

/// The pid file is locked and truncated: it cannot also be a log file.
fn same_file(args: &Args, errors: &mut Errors) {
    let path_of = |key| {
        args.get(key)
            .and_then(Setting::expr)
            .and_then(literal)
            .and_then(|lit| match lit {
                Lit::Str(s) => Some((s.value(), s.span())),
                _ => None,
            })
    };
    let Some(pidfile) = path_of(Key::Pidfile) else {
        return;
    };
    for key in [Key::Stdout, Key::Stderr] {
        if let Some((output, span)) = path_of(key) {
            if output == pidfile.0 {
                errors.push(span, format!("`{}` cannot be the pid file", key.name()));
            }
        }
    }
}

/// Checks the function the attribute is on.
///
/// `main` takes exactly one parameter when `setup` is given (`setup`, its
/// setting), none otherwise.
pub(crate) fn function(item: &MainFn, setup: Option<&Setting>, errors: &mut Errors) {
    if let Some(constness) = &item.constness {
        errors.push(constness.span(), "a daemon's `main` cannot be `const`");
    }
    if !item.generics.is_empty() || !item.where_clause.is_empty() {
        let generics = if item.generics.is_empty() {
            &item.where_clause
        } else {
            &item.generics
        };
        errors.push(
            syn::spanned::Spanned::span(generics),
            "a daemon's `main` cannot have generic parameters",
        );
    }
    let params = item.parameters();
    match (setup, params.as_slice()) {
        (None, [first, ..]) => errors.push(
            syn::spanned::Spanned::span(first),
            "a daemon's `main` takes a parameter only with `setup = ...`, whose value it receives",
        ),
        (Some(setup), []) => errors.push(
            setup.span,
            "`setup` hands its value to `main`: give `main` one parameter to receive it, \
             e.g. `fn main(listener: std::net::TcpListener)`",
        ),
        (Some(_), [_, second, ..]) => errors.push(
            syn::spanned::Spanned::span(second),
            "a daemon's `main` takes one parameter: the value of `setup`",
        ),
        _ => {}
    }
    let has_runtime = item.attrs.iter().any(|attr| attr.is_runtime);
    if let (Some(asyncness), false) = (&item.asyncness, has_runtime) {
        errors.push(
            asyncness.span(),
            "`async fn main` needs an async runtime: add e.g. `#[tokio::main]` below `#[daemonizer::daemon]`",
        );
    }
}
