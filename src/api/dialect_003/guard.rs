//! Who may call the dialect: the same bearer tokens as `/api/v1` (`api::auth::authenticate`),
//! checked before any body is read; a viewer's write is refused in the dialect's words; a
//! write's body is read within the same limit as everywhere else.

use super::error::DialectError;
use crate::api::auth::authenticate;
use crate::web::limits::{BodyError, read_body, too_large_message};
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    let user = match authenticate(req.request()).await {
        Ok(user) => user,
        Err(e) => return Ok(req.error_response(DialectError::from(e)).map_into_right_body()),
    };
    if !reads && !user.role.can_write() {
        return Ok(req.error_response(DialectError::forbidden()).map_into_right_body());
    }
    if !reads && let Err(e) = read_body(&mut req).await {
        let error = match e {
            BodyError::TooLarge => DialectError::new(StatusCode::PAYLOAD_TOO_LARGE, too_large_message("request body")),
            BodyError::Broken(e) => {
                DialectError::new(StatusCode::BAD_REQUEST, format!("The request body could not be read: {e}."))
            }
        };
        return Ok(req.error_response(error).map_into_right_body());
    }
    req.extensions_mut().insert(user);
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}
