#[daemonizer::daemon(pidfile = "/tmp/demo.pid")]
fn main(verbose: bool) {
    let _ = verbose;
}
