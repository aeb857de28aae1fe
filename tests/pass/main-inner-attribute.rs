// Inner attributes at the top of main's body keep applying to the body.
fn pidfile() -> std::path::PathBuf {
    let name = format!("daemonizer-pass-inner-attribute-{}.pid", std::process::id());
    std::env::temp_dir().join(name)
}

#[daemonizer::daemon(pidfile = pidfile())]
fn main() {
    #![deny(unused_variables)]
    let used = 1;
    assert_eq!(used, 1);
}
