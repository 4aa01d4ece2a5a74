use crate::error::HttpError;
use crate::flows::{self, Conflict, Missing, Resource, TokenFault};
use crate::tokens::Purpose;

impl From<flows::FlowError> for HttpError {
    fn from(e: flows::FlowError) -> Self {
        use flows::FlowError as E;
        match e {
            E::Invalid(invalid) => invalid.into(),
            E::Token { purpose, fault } => token(purpose, fault),
            E::CodeRefused => HttpError::Token { code: CODE_INVALID, message: CODE_REFUSED },
            E::Conflict(kind) => conflict(kind),
            E::NotFound(what) => HttpError::NotFound(
                match what {
                    Missing::Signup => "No signup matches this link.",
                    Missing::Portal => NO_PORTAL,
                    Missing::User => "No user with that email address in this tenant.",
                }
                .into(),
            ),
            E::Unauthenticated => HttpError::Unauthenticated,
            E::NotAdmin => HttpError::Forbidden("This API token's role may not do that; an admin token is needed.".into()),
            E::RateLimited { retry_after } => HttpError::TooManyRequests { retry_after },
            E::Unavailable { what, retry_after, cause } => {
                let reason = match what {
                    Resource::Database => "the database is unavailable",
                    Resource::PasswordQueue => "too many passwords are being checked",
                };
                HttpError::Unavailable { reason, retry_after, cause }
            }
            E::Internal(e) => HttpError::Internal(e),
        }
    }
}

pub const CODE_INVALID: &str = "CODE_INVALID";
/// One answer for every refused code, so that it tells nothing about the address or the code.
pub const CODE_REFUSED: &str =
    "That code does not work. Check the email address and the code from the most recent email, or follow the email's link.";

pub const NO_PORTAL: &str = "No developer portal is served at this address.";

fn conflict(kind: Conflict) -> HttpError {
    let (code, message) = match kind {
        Conflict::CnameTaken => ("CNAME_TAKEN", "That domain is already taken; choose another."),
        Conflict::SignupCompleted => ("SIGNUP_COMPLETED", "This signup is already completed; sign in instead."),
        Conflict::UserExists => ("USER_EXISTS", "This email address already has an account; sign in instead."),
    };
    HttpError::Conflict { code, message: message.into() }
}

fn token(purpose: Purpose, fault: TokenFault) -> HttpError {
    const LINK_INVALID: &str = "The link is not valid. Check that it was copied whole, or ask for a new one.";
    const LINK_EXPIRED: &str = "The link has expired; ask for a new one.";
    let message = match (purpose, fault) {
        // A spent signup link is a completed signup (flows says so too).
        (Purpose::Signup, TokenFault::Used) => return conflict(Conflict::SignupCompleted),
        (Purpose::Signup | Purpose::Password, TokenFault::Invalid) => LINK_INVALID,
        (Purpose::Signup | Purpose::Password, TokenFault::Expired) => LINK_EXPIRED,
        (Purpose::Signup, TokenFault::Superseded) => "A newer link was sent for this signup; use the most recent email.",
        (Purpose::Password, TokenFault::Superseded) => "A newer link was sent; use the most recent email.",
        (Purpose::Password, TokenFault::Used) => "This link was already used; ask for a new one if you need to set the password again.",
        (Purpose::Activation, TokenFault::Invalid) => "The signup code is not valid. Use the link from the most recent email.",
        (Purpose::Activation, TokenFault::Expired) => "The signup code has expired; a new one has been emailed.",
        (Purpose::Activation, TokenFault::Superseded) => "A newer signup code was sent; use the most recent email.",
        (Purpose::Activation, TokenFault::Used) => "This signup code was already used; sign in instead.",
    };
    let code = match fault {
        TokenFault::Invalid => "TOKEN_INVALID",
        TokenFault::Expired => "TOKEN_EXPIRED",
        TokenFault::Superseded => "TOKEN_SUPERSEDED",
        TokenFault::Used => "TOKEN_USED",
    };
    HttpError::Token { code, message }
}
