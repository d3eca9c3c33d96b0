//! A destination in a URL: its number (spec 003's integer id) or its UUID (as `/api/v1` names
//! it). Either way only the caller's workspace is searched, so another workspace's number or
//! UUID is "not found", the same as one that never existed.

use super::error::DialectError;
use crate::destinations::service::{Destination, DestinationService};

/// The destination named by `raw` in the workspace, with its number.
pub async fn resolve(
    service: &DestinationService,
    workspace: &str,
    raw: &str,
) -> Result<(Destination, i64), DialectError> {
    let id = match raw.parse::<i64>() {
        Ok(number) if number > 0 => service.id_of_number(workspace, number).await?,
        Ok(_) => return Err(DialectError::not_found()),
        Err(_) => {
            uuid::Uuid::parse_str(raw).map(|id| id.hyphenated().to_string()).map_err(|_| DialectError::not_found())?
        }
    };
    let destination = service.get(workspace, &id).await?;
    let number = number_of(service, workspace, &destination.id).await?;
    Ok((destination, number))
}

/// The number of one destination of the workspace.
pub async fn number_of(service: &DestinationService, workspace: &str, id: &str) -> Result<i64, DialectError> {
    let numbers = service.numbers(workspace, vec![id.to_owned()]).await?;
    numbers.get(id).copied().ok_or_else(DialectError::not_found)
}

/// The request's scheme and host: `http://example.com`.
pub fn origin(req: &actix_web::HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}
