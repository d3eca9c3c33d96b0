//! Destinations' integer numbers: spec 003's dialect names destinations by integers, Devpilot by
//! UUIDs. Each destination has one number, given by the database when it is created and never
//! reused, so both names stay valid for the destination's whole life.

use super::numbers_store;
use super::service::{DestinationError, DestinationService};
use std::collections::HashMap;

impl DestinationService {
    /// Id → number for those of `ids` in the workspace.
    pub async fn numbers(&self, workspace: &str, ids: Vec<String>) -> Result<HashMap<String, i64>, DestinationError> {
        let ws = workspace.to_owned();
        let found = self.db.run(move |c| numbers_store::numbers_of(c, &ws, &ids)).await?;
        Ok(found.into_iter().collect())
    }

    /// The id of the workspace's destination numbered `number`; NotFound for another
    /// workspace's number as for one that never existed.
    pub async fn id_of_number(&self, workspace: &str, number: i64) -> Result<String, DestinationError> {
        let ws = workspace.to_owned();
        Ok(self.db.run(move |c| numbers_store::id_of(c, &ws, number)).await?)
    }
}
