#[daemonizer::daemon(pidfile = "/tmp/demo.pid")]
async fn main() {
    std::future::ready(()).await;
}
