//! Service definitions from the program itself: `myd unit systemd`,
//! `myd unit systemd --user`, `myd unit openrc`, `myd unit rcd` (FreeBSD)
//! and `myd unit launchd` (macOS) print one that matches the program's
//! own configuration, so that nothing is written twice by hand:
//!
//! | the program | the definition |
//! |---|---|
//! | its path | the command the system runs (`ExecStart=`, `command=`, `ProgramArguments`) |
//! | `lite_if = "VAR"` | where the system supervises in the foreground (systemd, launchd), `VAR=1` is set and the program runs in lite mode: systemd with `Type=notify`, since the runtime speaks the notify protocol; without `lite_if`, the program detaches itself (`Type=forking` and `PIDFile=`, OpenRC's and rc.d's `pidfile`) |
//! | `pidfile` | `PIDFile=` (forking), `pidfile=` (OpenRC, rc.d) |
//! | `commands` (which the `unit` command needs) | starting, stopping and reloading go through the program's own commands (`start`, `stop`, `reload`), which decide by the lock |
//! | `user` | set by the program itself: the definition names no user; without it, none is named either (the service runs as the system's default, root), except a user unit, which runs as its user |
//!
//! The systemd unit is checked with `systemd-analyze verify` in the tests;
//! the shell scripts with `sh -n`; the property list with Python's
//! `plistlib`.

use std::fmt::Write as _;
use std::path::Path;

/// The kinds of service definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A systemd unit; `user`: a user unit (`systemctl --user`).
    Systemd { user: bool },
    /// An OpenRC script (`/etc/init.d/NAME`).
    OpenRc,
    /// A FreeBSD rc.d script (`/usr/local/etc/rc.d/NAME`).
    Rcd,
    /// A launchd property list (`/Library/LaunchDaemons/NAME.plist`).
    Launchd,
}

impl Kind {
    /// The kinds by the name the `unit` command takes.
    pub(crate) const NAMES: [&'static str; 4] = ["systemd", "openrc", "rcd", "launchd"];

    /// The kind `name` and `--user` ask for, or why not.
    pub(crate) fn parse(name: &str, user: bool) -> Result<Kind, String> {
        let kind = match name {
            "systemd" => Kind::Systemd { user },
            "openrc" => Kind::OpenRc,
            "rcd" => Kind::Rcd,
            "launchd" => Kind::Launchd,
            other => {
                return Err(format!(
                    "unknown service manager {:?}; one of: {}",
                    other,
                    Kind::NAMES.join(", ")
                ))
            }
        };
        if user && !matches!(kind, Kind::Systemd { .. }) {
            return Err(format!("--user: only for systemd, not {name}"));
        }
        Ok(kind)
    }
}

/// What a definition is made from: the program's configuration.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// The program's name (the service's name).
    pub(crate) name: &'a str,
    /// The program's absolute path.
    pub(crate) exe: &'a Path,
    /// The pid file: the `unit` command exists only with `commands`,
    /// which needs one.
    pub(crate) pidfile: &'a Path,
    /// The variable that makes the program run in lite mode.
    pub(crate) lite_if: Option<&'a str>,
}

/// The definition of `kind` for `facts`.
pub(crate) fn render(kind: Kind, facts: &Facts<'_>) -> String {
    match kind {
        Kind::Systemd { user } => systemd(facts, user),
        Kind::OpenRc => openrc(facts),
        Kind::Rcd => rcd(facts),
        Kind::Launchd => launchd(facts),
    }
}

/// `path` quoted for a systemd command line or setting: in double quotes,
/// with `\`, `"`, `$` and `%` escaped as systemd reads them.
fn systemd_quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("$$"),
            '%' => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` in single quotes for sh.
fn sh_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `text` escaped for XML character data.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn systemd(f: &Facts<'_>, user: bool) -> String {
    let exe = systemd_quoted(&f.exe.to_string_lossy());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {}.service: written by `{} unit systemd{}`.",
        f.name,
        f.name,
        if user { " --user" } else { "" }
    );
    out.push_str("[Unit]\n");
    let _ = writeln!(out, "Description={}", f.name);
    if !user {
        out.push_str("After=network.target\n");
    }
    out.push_str("\n[Service]\n");
    match f.lite_if {
        // systemd supervises: lite mode, readiness by the notify protocol.
        Some(var) => {
            out.push_str("Type=notify\nNotifyAccess=main\n");
            let _ = writeln!(out, "Environment={}", systemd_quoted(&format!("{var}=1")));
            let _ = writeln!(out, "ExecStart={exe} start");
        }
        None => {
            out.push_str("Type=forking\n");
            let pidfile = systemd_quoted(&f.pidfile.to_string_lossy());
            let _ = writeln!(out, "PIDFile={pidfile}");
            let _ = writeln!(out, "ExecStart={exe} start");
            let _ = writeln!(out, "ExecStop={exe} stop");
        }
    }
    let _ = writeln!(out, "ExecReload={exe} reload");
    out.push_str("Restart=on-failure\n");
    out.push_str("\n[Install]\n");
    let wanted_by = if user {
        "default.target"
    } else {
        "multi-user.target"
    };
    let _ = writeln!(out, "WantedBy={wanted_by}");
    out
}

fn openrc(f: &Facts<'_>) -> String {
    let mut out = String::from("#!/sbin/openrc-run\n");
    let _ = writeln!(
        out,
        "# /etc/init.d/{}: written by `{} unit openrc`.",
        f.name, f.name
    );
    let _ = writeln!(out, "name={}", sh_quoted(f.name));
    let _ = writeln!(out, "description={}", sh_quoted(f.name));
    let _ = writeln!(out, "command={}", sh_quoted(&f.exe.to_string_lossy()));
    out.push_str("command_args=start\n");
    let _ = writeln!(out, "pidfile={}", sh_quoted(&f.pidfile.to_string_lossy()));
    // The program detaches itself and reports readiness before its
    // launcher exits: start-stop-daemon waits for that exit.
    out.push_str("extra_started_commands=\"reload\"\n\n");
    out.push_str("depend() {\n\tneed net\n}\n\n");
    out.push_str("reload() {\n\tebegin \"Reloading ${RC_SVCNAME}\"\n");
    out.push_str("\t\"${command}\" reload\n");
    out.push_str("\teend $?\n}\n");
    out
}

fn rcd(f: &Facts<'_>) -> String {
    // rc.subr names: letters, digits and `_`.
    let var: String = f
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut out = String::from("#!/bin/sh\n");
    let _ = writeln!(
        out,
        "# /usr/local/etc/rc.d/{}: written by `{} unit rcd`.",
        f.name, f.name
    );
    let _ = writeln!(
        out,
        "#\n# PROVIDE: {var}\n# REQUIRE: LOGIN NETWORKING\n# KEYWORD: shutdown\n"
    );
    out.push_str(". /etc/rc.subr\n\n");
    let _ = writeln!(out, "name={}", sh_quoted(&var));
    let _ = writeln!(out, "rcvar={}", sh_quoted(&format!("{var}_enable")));
    out.push_str("load_rc_config \"$name\"\n");
    let _ = writeln!(out, ": \"${{{var}_enable:=NO}}\"");
    let _ = writeln!(out, "command={}", sh_quoted(&f.exe.to_string_lossy()));
    let _ = writeln!(out, "pidfile={}", sh_quoted(&f.pidfile.to_string_lossy()));
    out.push_str("command_args=start\n");
    out.push_str("stop_cmd=\"${command} stop\"\n");
    out.push_str("reload_cmd=\"${command} reload\"\n");
    out.push_str("status_cmd=\"${command} status\"\n");
    out.push_str("extra_commands=\"reload\"\n\nrun_rc_command \"$1\"\n");
    out
}

fn launchd(f: &Facts<'_>) -> String {
    let label = format!("local.{}", f.name);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    let _ = writeln!(
        out,
        "\t<key>Label</key>\n\t<string>{}</string>",
        xml(&label)
    );
    out.push_str("\t<key>ProgramArguments</key>\n\t<array>\n");
    let _ = writeln!(
        out,
        "\t\t<string>{}</string>",
        xml(&f.exe.to_string_lossy())
    );
    out.push_str("\t\t<string>start</string>\n\t</array>\n");
    // launchd supervises in the foreground: lite mode, where the program
    // has a variable for it. Without one it would detach, which launchd
    // takes for an exit.
    if let Some(var) = f.lite_if {
        out.push_str("\t<key>EnvironmentVariables</key>\n\t<dict>\n");
        let _ = writeln!(out, "\t\t<key>{}</key>\n\t\t<string>1</string>", xml(var));
        out.push_str("\t</dict>\n");
    }
    out.push_str("\t<key>RunAtLoad</key>\n\t<true/>\n\t<key>KeepAlive</key>\n\t<true/>\n");
    out.push_str("</dict>\n</plist>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(lite_if: Option<&'static str>) -> Facts<'static> {
        Facts {
            name: "myd",
            exe: Path::new("/usr/sbin/my d$%"),
            pidfile: Path::new("/run/myd/myd.pid"),
            lite_if,
        }
    }

    /// The `key=value` lines of a systemd unit's `section`.
    fn settings(unit: &str, section: &str) -> Vec<(String, String)> {
        let mut current = String::new();
        let mut out = Vec::new();
        for line in unit
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = name.to_owned();
            } else if current == section {
                let (k, v) = line.split_once('=').expect("key=value");
                out.push((k.to_owned(), v.to_owned()));
            }
        }
        out
    }

    fn get<'a>(settings: &'a [(String, String)], key: &str) -> Option<&'a str> {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_lite_program_is_a_notify_service_reloaded_by_its_command() {
        let unit = render(Kind::Systemd { user: false }, &facts(Some("MYD_FG")));
        let service = settings(&unit, "Service");
        assert_eq!(get(&service, "Type"), Some("notify"));
        assert_eq!(get(&service, "Environment"), Some("\"MYD_FG=1\""));
        assert_eq!(
            get(&service, "ExecStart"),
            Some("\"/usr/sbin/my d$$%%\" start")
        );
        assert_eq!(
            get(&service, "ExecReload"),
            Some("\"/usr/sbin/my d$$%%\" reload")
        );
        assert_eq!(get(&service, "PIDFile"), None);
        assert_eq!(
            get(&settings(&unit, "Install"), "WantedBy"),
            Some("multi-user.target")
        );
    }

    #[test]
    fn a_program_without_lite_mode_is_a_forking_service_with_its_pid_file() {
        let unit = render(Kind::Systemd { user: true }, &facts(None));
        let service = settings(&unit, "Service");
        assert_eq!(get(&service, "Type"), Some("forking"));
        assert_eq!(get(&service, "PIDFile"), Some("\"/run/myd/myd.pid\""));
        assert_eq!(
            get(&service, "ExecStart"),
            Some("\"/usr/sbin/my d$$%%\" start")
        );
        assert_eq!(
            get(&service, "ExecStop"),
            Some("\"/usr/sbin/my d$$%%\" stop")
        );
        assert_eq!(
            get(&settings(&unit, "Install"), "WantedBy"),
            Some("default.target")
        );
    }

    #[test]
    fn scripts_quote_what_they_name() {
        let f = Facts {
            exe: Path::new("/opt/it's/myd"),
            ..facts(None)
        };
        for text in [render(Kind::OpenRc, &f), render(Kind::Rcd, &f)] {
            assert!(text.contains("command='/opt/it'\\''s/myd'"), "{text}");
        }
        let plist = render(
            Kind::Launchd,
            &Facts {
                exe: Path::new("/a<b>&c"),
                ..facts(Some("V"))
            },
        );
        assert!(
            plist.contains("<string>/a&lt;b&gt;&amp;c</string>"),
            "{plist}"
        );
    }

    #[test]
    fn unknown_kinds_and_misplaced_flags_are_refused() {
        assert_eq!(
            Kind::parse("systemd", true),
            Ok(Kind::Systemd { user: true })
        );
        assert!(Kind::parse("upstart", false)
            .unwrap_err()
            .contains("systemd, openrc"));
        assert!(Kind::parse("rcd", true).is_err());
    }
}
