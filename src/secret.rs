//! The HS256 secret of API tokens: the configured one, or one generated on first start
//! and kept in the data directory so tokens survive restarts and `callvisor token` signs
//! with the same key as the server.

use std::io::Write;
use std::path::Path;

const FILE_NAME: &str = "jwt-secret";

/// The configured secret, or the one kept in `data_dir` (created if missing).
pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = configured {
        if secret.len() < 16 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "CALLVISOR_JWT_SECRET must be at least 16 characters",
            ));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(kept) if !kept.trim().is_empty() => return Ok(kept.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let bytes: [u8; 32] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = open_private(&path)?;
    file.write_all(secret.as_bytes())?;
    tracing::info!(
        path = %path.display(),
        "generated a new API token secret and kept it in the data directory \
         (set CALLVISOR_JWT_SECRET to use your own)"
    );
    Ok(secret.into_bytes())
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_and_reused() {
        let dir = std::env::temp_dir().join(format!("cv-secret-{}", uuid::Uuid::now_v7()));
        let first = load_or_create(None, &dir).unwrap();
        let second = load_or_create(None, &dir).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        assert_eq!(
            load_or_create(Some("configured-secret-value"), &dir).unwrap(),
            b"configured-secret-value"
        );
        assert!(load_or_create(Some("short"), &dir).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
