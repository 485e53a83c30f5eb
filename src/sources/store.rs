//! Subscriptions added through the API, persisted under `relay.data_dir`
//! (`subscriptions.json`, mode 0600: it holds API keys) with an atomic
//! write: temporary file, fsync, rename, fsync of the directory.

use std::path::{Path, PathBuf};

use tokio::sync::Mutex;

use super::SubscriptionConfig;

/// File name under the data directory.
pub const FILE: &str = "subscriptions.json";

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a list of subscriptions.
    #[error("{path}: not a subscription list: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why (free of secrets: serde reports positions, not values).
        reason: String,
    },
}

/// The persisted subscriptions.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    write: Mutex<()>,
}

impl Store {
    /// The store under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(FILE),
            write: Mutex::new(()),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved subscriptions (none when the file does not exist).
    ///
    /// # Errors
    /// Unreadable or corrupt file.
    pub async fn load(&self) -> Result<Vec<SubscriptionConfig>, StoreError> {
        let bytes = match tokio::fs::read(&self.path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            reason: format!("line {} column {}", e.line(), e.column()),
        })
    }

    /// Replaces the saved list with `subs`, atomically.
    ///
    /// # Errors
    /// When the directory is not writable.
    pub async fn save(&self, subs: &[SubscriptionConfig]) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        let body = serde_json::to_vec_pretty(subs).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &body))
            .await
            .map_err(|e| StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })?
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

fn write_atomic(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(body)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_keeps_the_key_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(store.load().await.unwrap().is_empty());
        let sub: SubscriptionConfig = serde_json::from_value(serde_json::json!({
            "id": "a", "provider": "agnt5", "url": "wss://h/ws", "endpoint": "e", "api_key": "sk-1",
            "backoff_initial": "2s"
        }))
        .unwrap();
        store.save(&[sub]).await.unwrap();
        let back = store.load().await.unwrap();
        assert_eq!(back[0].api_key.as_ref().unwrap().expose(), "sk-1");
        assert_eq!(back[0].backoff_initial.get().as_secs(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(store.path(), b"[{").unwrap();
        assert!(matches!(
            store.load().await,
            Err(StoreError::Corrupt { .. })
        ));
    }
}
