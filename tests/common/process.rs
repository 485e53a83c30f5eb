//! The relay binary as a child process (for SIGTERM / SIGKILL tests).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `eventrelay run`.
pub struct RelayProcess {
    child: Option<Child>,
    /// Admin address.
    pub admin: SocketAddr,
}

impl RelayProcess {
    /// Starts `eventrelay run -c config`; waits for the admin port.
    pub async fn start(config: &Path, admin: SocketAddr, log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_eventrelay"))
            .args(["run", "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("relay binary starts");
        for _ in 0..400 {
            if std::net::TcpStream::connect(admin).is_ok() {
                return Self {
                    child: Some(child),
                    admin,
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "relay admin port never opened:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// Sends `signal` (`-KILL`, `-TERM`) and waits for the exit code.
    pub async fn signal(mut self, signal: &str) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        for _ in 0..1200 {
            if let Ok(Some(s)) = child.try_wait() {
                return s.code();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        panic!("relay did not exit after {signal}");
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
