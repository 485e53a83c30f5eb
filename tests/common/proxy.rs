//! A TCP proxy on a loopback port that the test can cut (every connection
//! reset, the port closed) and restore: a broker that vanishes from the
//! network and comes back, without restarting its process.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy.
pub struct Proxy {
    port: u16,
    target: SocketAddr,
    up: Arc<watch::Sender<bool>>,
}

impl Proxy {
    /// Proxies loopback `port` to `target`.
    pub async fn start(port: u16, target: SocketAddr) -> Self {
        let (tx, _) = watch::channel(true);
        let p = Self {
            port,
            target,
            up: Arc::new(tx),
        };
        p.listen().await;
        p
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn listen(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("proxy port");
        let mut up = self.up.subscribe();
        let target = self.target;
        let up_tx = self.up.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = up.wait_for(|u| !*u) => return, // drops the listener
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        let mut conn_up = up_tx.subscribe();
                        tokio::spawn(async move {
                            let Ok(server) = TcpStream::connect(target).await else { return };
                            let (mut cr, mut cw) = client.into_split();
                            let (mut sr, mut sw) = server.into_split();
                            tokio::select! {
                                _ = tokio::io::copy(&mut cr, &mut sw) => {}
                                _ = tokio::io::copy(&mut sr, &mut cw) => {}
                                _ = conn_up.wait_for(|u| !*u) => {}
                            }
                        });
                    }
                }
            }
        });
    }

    /// Resets every connection and closes the port.
    pub async fn cut(&self) {
        let _ = self.up.send(true);
        self.up.send_replace(false);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    /// Opens the port again.
    pub async fn restore(&self) {
        self.up.send_replace(true);
        self.listen().await;
    }
}
