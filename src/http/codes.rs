//! `POST /no_auth/code`: an email's short code, typed, for the link printed next to it.

use super::AppState;
use super::extract::AppJson;
use super::openapi::{BodyErrors, Throttled, Unavailable};
use crate::domain::EmailAddress;
use crate::error::HttpError;
use crate::flows::codes;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(redeem_code))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = usherCodeRequest)]
struct CodeRequest {
    /// The address the email was sent to.
    #[schema(required = true, nullable = false, max_length = 1024, example = "ada@example.com")]
    email: Option<String>,
    /// The code printed in the email. Case, hyphens and spaces do not matter; `I` and `L` are read
    /// as `1`, `O` as `0`.
    #[schema(required = true, nullable = false, example = "7K3D-Q9XM")]
    code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = usherCodeResponse)]
struct CodeResponse {
    /// The link the email carries; opening it spends nothing, its page's form does.
    link: String,
}

#[utoipa::path(
    post,
    path = "/no_auth/code",
    operation_id = "usher.RedeemCode",
    summary = "The link an email carries, for the short code printed next to it. Spends nothing. After 5 wrong codes for an \
               address its codes stop working (its links still work). Every refused code is answered alike (`CODE_INVALID`).",
    tag = "Codes",
    request_body = CodeRequest,
    responses((status = 200, description = "The email's link.", body = CodeResponse), BodyErrors, Throttled, Unavailable)
)]
async fn redeem_code(State(state): State<AppState>, AppJson(req): AppJson<CodeRequest>) -> Result<Json<CodeResponse>, HttpError> {
    let email = EmailAddress::parse_field("email", req.email.as_deref())?;
    let link = codes::redeem(&state.ctx, &email, req.code.as_deref().unwrap_or_default()).await?;
    Ok(Json(CodeResponse { link }))
}
