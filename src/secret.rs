//! Secrets that are configured or else generated once and kept in the data directory:
//! the HS256 secret of API tokens (so tokens survive restarts and `callvisor token` signs
//! with the same key as the server) and the token Exotel's callback URLs carry (so
//! callbacks of calls placed before a restart are still accepted after it).

use std::io::Write;
use std::path::Path;

/// A secret that is configured, or else generated once and kept in a file of the data
/// directory.
#[derive(Clone, Copy, Debug)]
pub struct KeptSecret {
    /// The file in the data directory.
    pub file_name: &'static str,
    /// The setting that overrides it, for messages.
    pub setting: &'static str,
    /// What it is, for the log line when one is generated.
    pub what: &'static str,
    /// The shortest configured value accepted.
    pub min_len: usize,
}

/// The HS256 secret of API tokens.
pub const JWT_SECRET: KeptSecret = KeptSecret {
    file_name: "jwt-secret",
    setting: "CALLVISOR_JWT_SECRET",
    what: "API token secret",
    min_len: 16,
};

/// The token Exotel's status-callback URLs carry.
pub const EXOTEL_WEBHOOK_TOKEN: KeptSecret = KeptSecret {
    file_name: "exotel-webhook-token",
    setting: "EXOTEL_WEBHOOK_TOKEN",
    what: "Exotel webhook token",
    min_len: 16,
};

/// The configured API token secret, or the one kept in `data_dir` (created if missing).
pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    load_or_create_kept(&JWT_SECRET, configured, data_dir)
}

/// The configured value of `secret`, or the one kept in `data_dir` (created if
/// missing: 32 random bytes as hex).
pub fn load_or_create_kept(
    secret: &KeptSecret,
    configured: Option<&str>,
    data_dir: &Path,
) -> std::io::Result<Vec<u8>> {
    if let Some(value) = configured {
        if value.len() < secret.min_len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} must be at least {} characters",
                    secret.setting, secret.min_len
                ),
            ));
        }
        return Ok(value.as_bytes().to_vec());
    }
    let path = data_dir.join(secret.file_name);
    match std::fs::read_to_string(&path) {
        Ok(kept) if !kept.trim().is_empty() => return Ok(kept.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let bytes: [u8; 32] = rand::random();
    let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = open_private(&path)?;
    file.write_all(value.as_bytes())?;
    tracing::info!(
        path = %path.display(),
        "generated a new {} and kept it in the data directory (set {} to use your own)",
        secret.what,
        secret.setting
    );
    Ok(value.into_bytes())
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
        let token = load_or_create_kept(&EXOTEL_WEBHOOK_TOKEN, None, &dir).unwrap();
        assert_ne!(token, first, "each secret has its own file");
        assert_eq!(
            load_or_create_kept(&EXOTEL_WEBHOOK_TOKEN, None, &dir).unwrap(),
            token
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
