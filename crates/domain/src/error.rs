//! The one error type of the service, in Graph's vocabulary. The HTTP layer renders it as Graph's
//! `{"error":{"code","message","innerError":{...}}}` envelope.

use std::borrow::Cow;

/// The HTTP-level outcome class of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Gone,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    Throttled,
    NotImplemented,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::Gone => 410,
            ErrorKind::PreconditionFailed => 412,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
            ErrorKind::Throttled => 429,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// An API outcome other than success: a kind (the HTTP status), Graph's error code and a message
/// for developers. Internal errors keep their cause for the log and show clients a generic text.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct GraphError {
    pub kind: ErrorKind,
    pub code: Cow<'static, str>,
    pub message: String,
    /// For `Internal`: the cause, logged with the request id and never sent to the client.
    pub cause: Option<String>,
    /// For `Throttled` (and injected faults): seconds for the `Retry-After` header.
    pub retry_after: Option<u64>,
    /// For `MethodNotAllowed`: the methods the resource serves, for the `Allow` header.
    pub allow: Option<&'static str>,
}

pub type GraphResult<T> = Result<T, GraphError>;

impl GraphError {
    pub fn new(kind: ErrorKind, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        GraphError { kind, code: code.into(), message: message.into(), cause: None, retry_after: None, allow: None }
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// Names the methods the resource serves (`GET, POST`), sent as `Allow` with a 405.
    pub fn with_allow(mut self, methods: &'static str) -> Self {
        self.allow = Some(methods);
        self
    }

    /// Graph's answer when an app exceeds a mailbox's limits: 429 with `Retry-After`.
    pub fn throttled(message: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(ErrorKind::Throttled, "ApplicationThrottled", message);
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }

    pub fn item_not_found() -> Self {
        Self::new(ErrorKind::NotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
    }

    pub fn id_malformed() -> Self {
        Self::bad_request("ErrorInvalidIdMalformed", "Id is malformed.")
    }

    pub fn id_empty() -> Self {
        Self::bad_request("ErrorInvalidIdEmpty", "Id must be non-empty.")
    }

    pub fn access_denied() -> Self {
        Self::new(ErrorKind::Forbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    }

    pub fn invalid_user(user: &str) -> Self {
        Self::new(ErrorKind::NotFound, "ErrorInvalidUser", format!("The requested user '{user}' is invalid."))
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, "InvalidAuthenticationToken", message)
    }

    pub fn invalid_filter(message: impl Into<String>) -> Self {
        Self::bad_request("ErrorInvalidUrlQueryFilter", message)
    }

    pub fn unknown_property(name: &str, type_name: &str) -> Self {
        Self::bad_request(
            "RequestBodyRead",
            format!(
                "The property '{name}' does not exist on type '{type_name}'. Make sure to only use property names that are defined by the type or mark the type as open type."
            ),
        )
    }

    pub fn read_only_property(name: &str) -> Self {
        Self::bad_request("ErrorInvalidProperty", format!("The property '{name}' is read-only and cannot be set."))
    }

    pub fn wrong_type(name: &str, expected: &str) -> Self {
        Self::bad_request(
            "RequestBodyRead",
            format!("Cannot convert the value of property '{name}' to the expected type '{expected}'."),
        )
    }

    pub fn change_key_mismatch() -> Self {
        Self::new(
            ErrorKind::PreconditionFailed,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
        )
    }

    pub fn folder_exists() -> Self {
        Self::new(ErrorKind::Conflict, "ErrorFolderExists", "A folder with the specified name already exists.")
    }

    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::bad_request("BadRequest", message)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        GraphError {
            kind: ErrorKind::Internal,
            code: "generalException".into(),
            message: "An internal server error occurred.".into(),
            cause: Some(cause.to_string()),
            retry_after: None,
            allow: None,
        }
    }
}
