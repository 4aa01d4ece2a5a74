use crate::domain::Invalid;
use crate::store;
use crate::tokens::Purpose;
use crate::tokens::TokenState;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FlowError {
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(Invalid),
    #[error("{} token refused: {fault:?}", purpose.as_str())]
    Token { purpose: Purpose, fault: TokenFault },
    /// An email's short code that gives no link, for whatever reason (none is told).
    #[error("a code refused")]
    CodeRefused,
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("not found: {0:?}")]
    NotFound(Missing),
    #[error("no valid API token")]
    Unauthenticated,
    #[error("an admin token is needed")]
    NotAdmin,
    #[error("rate limited for {retry_after:?}")]
    RateLimited { retry_after: Duration },
    #[error("{what:?} unavailable")]
    Unavailable { what: Resource, retry_after: Duration, cause: Option<anyhow::Error> },
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// A pruned token (`Missing`) and one that does not open are both `Invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenFault {
    Invalid,
    Expired,
    Superseded,
    Used,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conflict {
    CnameTaken,
    SignupCompleted,
    UserExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    Signup,
    Portal,
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Database,
    PasswordQueue,
}

impl FlowError {
    /// Every try at spending a token ends here, whether refused before any work or after the spend's
    /// statement (a transaction rolled back later still counts its try): counted once, by outcome.
    pub(crate) fn token_tried(purpose: Purpose, found: TokenState) -> Result<(), Self> {
        crate::metrics::token_spend(found.spend_outcome());
        match found {
            TokenState::Live => Ok(()),
            dead => Err(Self::token(purpose, dead)),
        }
    }

    /// A used signup token means a completed signup.
    pub(crate) fn token(purpose: Purpose, state: TokenState) -> Self {
        let fault = match state {
            TokenState::Used => TokenFault::Used,
            TokenState::Superseded => TokenFault::Superseded,
            TokenState::Expired => TokenFault::Expired,
            TokenState::Missing | TokenState::Live => TokenFault::Invalid,
        };
        if purpose == Purpose::Signup && fault == TokenFault::Used {
            return Self::Conflict(Conflict::SignupCompleted);
        }
        Self::Token { purpose, fault }
    }

    pub(crate) fn invalid_token(purpose: Purpose) -> Self {
        Self::Token { purpose, fault: TokenFault::Invalid }
    }

    pub(crate) fn context(self, what: &'static str) -> Self {
        match self {
            Self::Internal(e) => Self::Internal(e.context(what)),
            Self::Unavailable { what: w, retry_after, cause: Some(c) } => {
                Self::Unavailable { what: w, retry_after, cause: Some(c.context(what)) }
            }
            other => other,
        }
    }
}

impl From<Invalid> for FlowError {
    fn from(i: Invalid) -> Self {
        Self::Invalid(i)
    }
}

/// The fallback for a store error with no context of its own (the writer's queue, a commit).
impl From<store::StoreError> for FlowError {
    fn from(e: store::StoreError) -> Self {
        if e.is_unavailable() {
            return Self::Unavailable { what: Resource::Database, retry_after: Duration::from_secs(5), cause: Some(e.into()) };
        }
        Self::Internal(e.into())
    }
}

impl From<crate::passwords::PasswordError> for FlowError {
    fn from(e: crate::passwords::PasswordError) -> Self {
        use crate::passwords::PasswordError as P;
        match e {
            P::Refused(invalid) => invalid.into(),
            P::Busy => Self::Unavailable { what: Resource::PasswordQueue, retry_after: Duration::from_secs(1), cause: None },
            P::Failed(e) => Self::Internal(e),
        }
    }
}

pub(crate) trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, FlowError>;
}

impl<T> Context<T> for Result<T, store::StoreError> {
    fn context(self, what: &'static str) -> Result<T, FlowError> {
        self.map_err(|e| FlowError::from(e).context(what))
    }
}

impl<T> Context<T> for Result<T, serde_json::Error> {
    fn context(self, what: &'static str) -> Result<T, FlowError> {
        self.map_err(|e| FlowError::Internal(anyhow::Error::new(e).context(what)))
    }
}

impl<T> Context<T> for Result<T, FlowError> {
    fn context(self, what: &'static str) -> Result<T, FlowError> {
        self.map_err(|e| e.context(what))
    }
}
