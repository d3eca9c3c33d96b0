//! Error answers that several operations document in the same words, named once so the
//! OpenAPI document says them alike.

use super::error::ErrorBody;
use utoipa::IntoResponses;

/// A page of a list: its page parameters, and the token.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only the OpenAPI document reads it.
pub enum PageErrors {
    #[response(status = 400, description = "A page parameter that is not a number")]
    NotANumber(ErrorBody),
    #[response(status = 401, description = "No valid token")]
    Unauthorized(ErrorBody),
    #[response(status = 422, description = "A page parameter out of range")]
    OutOfRange(ErrorBody),
}

/// A write with a JSON body: the body, and the token.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only the OpenAPI document reads it.
pub enum JsonBodyErrors {
    #[response(status = 400, description = "The body is not JSON")]
    NotJson(ErrorBody),
    #[response(status = 401, description = "No valid token")]
    Unauthorized(ErrorBody),
    #[response(status = 413, description = "The body is too large")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not sent as application/json")]
    NotSentAsJson(ErrorBody),
    #[response(status = 422, description = "Invalid fields (in `fields`) or a body of the wrong shape")]
    Invalid(ErrorBody),
}
