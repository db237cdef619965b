//! The installation secret signal ids are derived under: an HMAC key, from the
//! config or created once and kept in the store, so an id is stable across
//! restarts and gateways yet nobody without the secret can compute (and
//! pre-claim) the id of someone else's alert.

use neo_domain::Timestamp;
use neo_store::{Op, StateKey, StateRecord, Store, StoreError, Unit, Writer};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};

use super::ApiError;
use crate::intake::{Secret, SignalIds};

/// Random bytes in a created secret.
const SECRET_BYTES: usize = 32;

/// The installation's secret, as the keyed derivation of signal ids.
#[derive(Debug)]
pub(crate) struct IdSecret {
    ids: SignalIds,
}

/// Why the secret could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IdSecretError {
    /// The store did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operating system gave no randomness.
    #[error("no randomness for the installation secret")]
    Random,
    /// The stored document is not one this version wrote.
    #[error("the stored gateway state has no id_secret")]
    Corrupt,
}

impl IdSecret {
    /// From secret bytes (the config's text, or the stored hex).
    pub(crate) fn new(secret: &[u8]) -> Self {
        IdSecret {
            ids: SignalIds::new(secret),
        }
    }

    /// The derivation.
    pub(crate) fn ids(&self) -> &SignalIds {
        &self.ids
    }

    /// The configured secret, else the stored one, else a new one written to the
    /// store (and read back, so two gateways racing at first start agree).
    pub(crate) async fn load(
        configured: Option<&Secret>,
        store: &Store,
        writer: &Writer,
        now: Timestamp,
    ) -> Result<Self, IdSecretError> {
        if let Some(secret) = configured {
            return Ok(IdSecret::new(secret.expose().as_bytes()));
        }
        if let Some(stored) = stored(store).await? {
            return Ok(IdSecret::new(&stored));
        }
        let mut fresh = [0u8; SECRET_BYTES];
        SystemRandom::new()
            .fill(&mut fresh)
            .map_err(|_| IdSecretError::Random)?;
        let record = StateRecord {
            key: StateKey::Gateway,
            body: json!({ "id_secret": crate::hex::encode(&fresh) }),
            ts_event: now,
        };
        let unit = Unit {
            inbox: None,
            ops: vec![Op::PutState(record)],
            outbox: Vec::new(),
        };
        writer.commit(vec![unit]).await?;
        let kept = stored(store).await?.ok_or(IdSecretError::Corrupt)?;
        Ok(IdSecret::new(&kept))
    }
}

impl From<IdSecretError> for ApiError {
    fn from(e: IdSecretError) -> Self {
        match e {
            IdSecretError::Store(e) => ApiError::from(e),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The stored secret's bytes, if one was written.
async fn stored(store: &Store) -> Result<Option<Vec<u8>>, IdSecretError> {
    let Some(record) = store.get_state(StateKey::Gateway).await? else {
        return Ok(None);
    };
    match record.body.get("id_secret") {
        Some(Value::String(text)) => crate::hex::decode(text)
            .filter(|bytes| !bytes.is_empty())
            .map(Some)
            .ok_or(IdSecretError::Corrupt),
        _ => Err(IdSecretError::Corrupt),
    }
}
