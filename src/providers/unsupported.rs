//! Stands in for the types whose network code is not built yet: their destinations save and
//! validate, and every operation answers plainly that it is not supported yet.

use super::{ByteStream, ErrorKind, Provider, ProviderError, StoredObject};
use crate::destinations::domain::DestinationKind;
use async_trait::async_trait;

pub struct Unsupported {
    kind: DestinationKind,
}

impl Unsupported {
    pub fn new(kind: DestinationKind) -> Unsupported {
        Unsupported { kind }
    }

    fn error(&self) -> ProviderError {
        ProviderError::new(
            ErrorKind::Unsupported,
            format!("Connecting to {} is not yet supported for this type.", self.kind.label()),
        )
    }
}

#[async_trait]
impl Provider for Unsupported {
    async fn test(&self) -> Result<String, ProviderError> {
        Err(self.error())
    }

    async fn put(&self, _key: &str, _body: ByteStream) -> Result<u64, ProviderError> {
        Err(self.error())
    }

    async fn get(&self, _key: &str) -> Result<ByteStream, ProviderError> {
        Err(self.error())
    }

    async fn list(&self, _prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        Err(self.error())
    }

    async fn delete(&self, _key: &str) -> Result<(), ProviderError> {
        Err(self.error())
    }
}
