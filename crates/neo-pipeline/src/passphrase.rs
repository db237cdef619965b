//! Where the webhook passphrase comes from: the config (or `NEO_GATEWAY__PASSPHRASE`),
//! else a file in the data directory, made with a random value on first start so
//! a new user never runs an open webhook. The value is never printed.

use std::path::Path;

use neo_api::intake::Secret;
use neo_api::server::GatewayConfig;
use ring::rand::{SecureRandom, SystemRandom};

use crate::app::PipelineError;

/// The file, in the data directory.
pub(crate) const FILE: &str = "passphrase";

/// Fills in the passphrase when the config has none; says where it came from.
pub(crate) fn ensure(
    gateway: &mut GatewayConfig,
    data_dir: &Path,
) -> Result<String, PipelineError> {
    if gateway.passphrase.is_some() || !gateway.strategy_passphrases.is_empty() {
        return Ok("from the config ([gateway] passphrase or NEO_GATEWAY__PASSPHRASE)".to_owned());
    }
    let path = data_dir.join(FILE);
    let setup = |e: std::io::Error| PipelineError::Setup(format!("{}: {e}", path.display()));
    if path.is_file() {
        let text = std::fs::read_to_string(&path).map_err(setup)?;
        let text = text.trim();
        if text.is_empty() {
            return Err(PipelineError::Setup(format!("{} is empty", path.display())));
        }
        gateway.passphrase = Some(Secret::new(text));
        return Ok(format!("from {}", path.display()));
    }
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PipelineError::Setup("no system randomness for a passphrase".to_owned()))?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &text).map_err(setup)?;
    gateway.passphrase = Some(Secret::new(text));
    Ok(format!(
        "generated on first start, saved in {} (cat it to use it)",
        path.display()
    ))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}
