//! What a flow refuses or fails with, in the domain's words. No status
//! code, error code or English sentence is chosen here: `http` maps each
//! variant to its answer, per dialect and per page.
//!
//! An internal error carries its context chain (`.context(…)` on every store
//! and IO call); it is logged once, at the edge, never here.

use crate::domain::Invalid;
use crate::store::{self, tokens::TokenState};
use crate::tokens::Purpose;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field broke a rule; `message` is the domain parser's (or the
    /// password policy's) reason, read after the field's name.
    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// A one-time token (link or code) of `purpose` that cannot be used.
    #[error("{} token refused: {fault:?}", purpose.as_str())]
    Token { purpose: Purpose, fault: TokenFault },
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("not found: {0:?}")]
    NotFound(Missing),
    /// No valid, unrevoked API token.
    #[error("no valid API token")]
    Unauthenticated,
    /// The API token's role may not do this.
    #[error("an admin token is needed")]
    NotAdmin,
    /// The per-recipient email limit: try again after `retry_after`.
    #[error("rate limited for {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// `what` cannot take the request now; `cause`, when there is one, is
    /// for the log.
    #[error("{what:?} unavailable")]
    Unavailable { what: Resource, retry_after: Duration, cause: Option<anyhow::Error> },
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// Why a token cannot be spent. A pruned token (`Missing`) and one that
/// does not open are both `Invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFault {
    Invalid,
    Expired,
    Superseded,
    Used,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The cname is already a tenant (or reserved since the signup was made).
    CnameTaken,
    /// The signup this token belongs to is completed.
    SignupCompleted,
    /// The signup's address already belongs to a user.
    UserExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// No signup matches a token that opened.
    Signup,
    /// No developer portal (tenant taking developers) at this address.
    Portal,
    /// No user with that address in the admin's tenant.
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Database,
    PasswordQueue,
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    /// The refusal for a token of `purpose` the database says cannot be
    /// spent. A used signup token means a completed signup.
    pub fn token(purpose: Purpose, state: TokenState) -> Self {
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

    /// A token that does not open, or names nothing.
    pub fn invalid_token(purpose: Purpose) -> Self {
        Self::Token { purpose, fault: TokenFault::Invalid }
    }

    /// Adds a line to the chain of an internal error or an outage's cause;
    /// refusals are left as they are.
    pub fn context(self, what: &'static str) -> Self {
        match self {
            Self::Internal(e) => Self::Internal(e.context(what)),
            Self::Unavailable { what: w, retry_after, cause: Some(c) } => {
                Self::Unavailable { what: w, retry_after, cause: Some(c.context(what)) }
            }
            other => other,
        }
    }
}

impl From<Invalid> for Error {
    fn from(i: Invalid) -> Self {
        Self::Invalid { field: i.field, message: i.message }
    }
}

/// The fallback for a store error with no context of its own (the writer's
/// queue, a commit). What `store` calls unavailable (busy, locked, I/O,
/// unreachable) is an outage, not a bug.
impl From<store::Error> for Error {
    fn from(e: store::Error) -> Self {
        if e.is_unavailable() {
            return Self::Unavailable { what: Resource::Database, retry_after: Duration::from_secs(5), cause: Some(e.into()) };
        }
        Self::Internal(e.into())
    }
}

/// `.context("reading the signup")` on a store or serde call: its error
/// becomes the domain's, with that line on its chain.
pub trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, store::Error> {
    fn context(self, what: &'static str) -> Result<T, Error> {
        self.map_err(|e| Error::from(e).context(what))
    }
}

impl<T> Context<T> for Result<T, serde_json::Error> {
    fn context(self, what: &'static str) -> Result<T, Error> {
        self.map_err(|e| Error::Internal(anyhow::Error::new(e).context(what)))
    }
}

impl<T> Context<T> for Result<T, Error> {
    fn context(self, what: &'static str) -> Result<T, Error> {
        self.map_err(|e| e.context(what))
    }
}
