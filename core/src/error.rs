//! Errors: what stops a conversion. Lossy successes are degradations, not errors.

/// Anthropic error types, with the HTTP status each one is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorType {
    /// 400.
    InvalidRequestError,
    /// 401.
    AuthenticationError,
    /// 402.
    BillingError,
    /// 403.
    PermissionError,
    /// 404.
    NotFoundError,
    /// 413.
    RequestTooLarge,
    /// 429.
    RateLimitError,
    /// 500.
    ApiError,
    /// 504.
    TimeoutError,
    /// 529.
    OverloadedError,
}

impl ErrorType {
    /// The wire name, e.g. `rate_limit_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequestError => "invalid_request_error",
            Self::AuthenticationError => "authentication_error",
            Self::BillingError => "billing_error",
            Self::PermissionError => "permission_error",
            Self::NotFoundError => "not_found_error",
            Self::RequestTooLarge => "request_too_large",
            Self::RateLimitError => "rate_limit_error",
            Self::ApiError => "api_error",
            Self::TimeoutError => "timeout_error",
            Self::OverloadedError => "overloaded_error",
        }
    }

    /// The HTTP status Anthropic answers this type with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequestError => 400,
            Self::AuthenticationError => 401,
            Self::BillingError => 402,
            Self::PermissionError => 403,
            Self::NotFoundError => 404,
            Self::RequestTooLarge => 413,
            Self::RateLimitError => 429,
            Self::ApiError => 500,
            Self::TimeoutError => 504,
            Self::OverloadedError => 529,
        }
    }
}

/// A request that cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is not valid JSON.
    #[error("request body is not valid JSON: {0}")]
    Json(String),
    /// A field is missing or has the wrong type; the message names its path.
    #[error("{path}: {message}")]
    Invalid {
        /// Dotted path, Anthropic style: `messages.3.content.1`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl RequestError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The Anthropic error type this is answered with.
    pub fn error_type(&self) -> ErrorType {
        ErrorType::InvalidRequestError
    }

    /// A stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Json(_) => "invalid_json",
            Self::Invalid { .. } => "invalid_field",
        }
    }
}

/// The Anthropic error body `{"type":"error","error":{"type":…,"message":…}}`.
pub fn error_body(error_type: ErrorType, message: &str) -> String {
    serde_json::json!({"type": "error", "error": {"type": error_type.as_str(), "message": message}})
        .to_string()
}
