//! One error type for every handler and one RFC 9457 `application/problem+json` body.
//!
//! Internal causes never reach the body: they are logged once, here, inside the request span.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use simpul_app::{AppError, AttendanceError, AuthError, ReadError, SessionError, WriteError};
use simpul_domain::{DomainError, ErrorKind};
use simpul_store::StoreError;
use utoipa::ToSchema;

/// The problem body (RFC 9457) with Simpul's `rule` and `field` extensions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`https://simpul.id/problems/<slug>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, for humans.
    pub detail: String,
    /// The domain rule broken (`R1` … `R11`), where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The request field at fault (a dotted path), where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A request over many KIM (`POST /bimtek-sessions`) refused for some of them: one entry
    /// per failing KIM, each what the single-KIM route would have answered for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<CommunityProblem>>,
}

/// Why one KIM of a request over many KIM was refused: its place in the list and id, and the
/// problem the single-KIM route would answer for it (status, type, rule, field).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CommunityProblem {
    /// Its place in the request's `communities`, from 0.
    pub index: usize,
    /// The KIM's id.
    #[schema(format = Uuid)]
    pub id: String,
    /// The status the single-KIM route answers for it: 404 (no such KIM, or outside the
    /// token's scope), 409 (dissolved or suspended), 422 (a rule or an invalid field).
    pub status: u16,
    /// The problem type the single-KIM route answers for it.
    #[serde(rename = "type")]
    pub kind: String,
    /// The domain rule broken (`R1` … `R11`), where one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The request field at fault: `communities[<index>].id` or `….participants` for the
    /// entry's own, the session's field (`held_on`, `organizer_region`) or `status`.
    pub field: String,
    /// What is wrong, for humans.
    pub message: String,
}

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, has wrong types, unknown or missing fields.
    #[error("{detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
        /// Where, if known.
        field: Option<String>,
    },
    /// 401: no token, or one that is unknown or revoked.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 403: the token's role may not do this, or the region is outside its scope.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource, or one outside the token's scope.
    #[error("not found")]
    NotFound,
    /// 405: the path exists, but not with this method (`Allow` lists the ones it has).
    #[error("this method is not allowed here; `Allow` lists the ones that are")]
    MethodNotAllowed,
    /// 406: the `Accept` header asks for no type this resource offers.
    #[error("{0}")]
    NotAcceptable(String),
    /// 409: the current state conflicts (duplicate nomor induk, concurrent writers, lifecycle).
    #[error("{detail}")]
    Conflict {
        /// What conflicts.
        detail: String,
        /// The rule, if one is at stake.
        rule: Option<String>,
        /// The field, if one is at stake.
        field: Option<String>,
    },
    /// 409: a request with this `Idempotency-Key` is still in flight (or died with a server: it
    /// may be taken over after `retry_after` seconds).
    #[error("a request with this Idempotency-Key is still in progress; retry in {retry_after} s")]
    InProgress {
        /// Seconds until the key may be taken over (`Retry-After`).
        retry_after: u64,
    },
    /// 412: `If-Match` names another version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 408: the request's body did not arrive within the body-read timeout.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// 413: the body is larger than 1 MiB.
    #[error("request body is larger than 1 MiB")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    /// 413 or 415 for a body that is not JSON (an imported CSV): the status and why.
    #[error("{1}")]
    UnreadableBody(StatusCode, String),
    /// 422: a domain rule (or an idempotency key reused with another body).
    #[error("{0}")]
    Unprocessable(Box<DomainError>),
    /// 422: a request over many KIM that some of them refuse; one entry per failing KIM.
    #[error("{detail}")]
    Rejected {
        /// How many failed, of how many.
        detail: String,
        /// Every failing KIM.
        errors: Vec<CommunityProblem>,
    },
    /// 422: an `Idempotency-Key` sent again with a different body.
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyMismatch,
    /// 503: the database cannot be reached now.
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    /// 500: a bug or corrupt data; details only in the log.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Conflict { .. } | ApiError::InProgress { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::UnreadableBody(status, _) => *status,
            ApiError::Unprocessable(_)
            | ApiError::Rejected { .. }
            | ApiError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Malformed { .. } => "malformed-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::NotAcceptable(_) => "not-acceptable",
            ApiError::Conflict { .. } => "conflict",
            ApiError::InProgress { .. } => "request-in-progress",
            ApiError::PreconditionFailed(_) => "version-mismatch",
            ApiError::RequestTimeout => "request-timeout",
            ApiError::PayloadTooLarge => "payload-too-large",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::UnreadableBody(status, _) if *status == StatusCode::PAYLOAD_TOO_LARGE => {
                "payload-too-large"
            }
            ApiError::UnreadableBody(_, _) => "unsupported-media-type",
            ApiError::Unprocessable(error) if error.kind == ErrorKind::Rule => "rule-violated",
            ApiError::Unprocessable(_) => "invalid-field",
            ApiError::Rejected { .. } => "communities-rejected",
            ApiError::IdempotencyMismatch => "idempotency-key-reused",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The problem body for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (rule, field) = match self {
            ApiError::Malformed { field, .. } => (None, field.clone()),
            ApiError::Conflict { rule, field, .. } => (rule.clone(), field.clone()),
            ApiError::NotAcceptable(_) => (None, Some("Accept".to_owned())),
            ApiError::InProgress { .. } => (None, Some("Idempotency-Key".to_owned())),
            ApiError::Unprocessable(error) => {
                (error.rule.map(|r| r.to_string()), Some(error.field.clone()))
            }
            ApiError::Rejected { .. } => (None, Some("communities".to_owned())),
            _ => (None, None),
        };
        let errors = match self {
            ApiError::Rejected { errors, .. } => Some(errors.clone()),
            _ => None,
        };
        Problem {
            kind: format!("https://simpul.id/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            rule,
            field,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let status = self.status();
        let mut response = (status, problem_json(&self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            ApiError::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"simpul\""),
                );
            }
            ApiError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::InProgress { retry_after } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}

fn problem_json(problem: &Problem) -> String {
    serde_json::to_string(problem)
        .unwrap_or_else(|_| format!("{{\"status\":{},\"title\":\"Error\"}}", problem.status))
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Domain(error) => match error.kind {
                ErrorKind::NotFormed => ApiError::NotFound,
                ErrorKind::AlreadyFormed | ErrorKind::Dissolved | ErrorKind::Suspended => {
                    ApiError::Conflict {
                        detail: error.message.clone(),
                        rule: error.rule.map(|r| r.to_string()),
                        field: Some(error.field.clone()),
                    }
                }
                ErrorKind::Rule | ErrorKind::Invalid => ApiError::Unprocessable(Box::new(error)),
            },
            AppError::VersionMismatch { expected, actual } => {
                ApiError::PreconditionFailed(format!(
                    "If-Match names version {expected}, but the community is at version {actual}"
                ))
            }
            AppError::Conflict { .. } => ApiError::Conflict {
                detail: error.to_string(),
                rule: None,
                field: None,
            },
            AppError::DuplicateRegistrationNumber { .. } => ApiError::Conflict {
                detail: error.to_string(),
                rule: Some("R8".to_owned()),
                field: Some("number".to_owned()),
            },
            AppError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                ApiError::Unavailable
            }
            StoreError::IdempotencyClaimLost(_) => ApiError::Conflict {
                detail: error.to_string(),
                rule: None,
                field: Some("Idempotency-Key".to_owned()),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// A request body that could not be read: 408 when the body-read timeout ran out, otherwise
    /// 400 with the cause.
    pub fn unreadable_body(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(current) = cause {
            if current.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::RequestTimeout;
            }
            cause = current.source();
        }
        ApiError::Malformed {
            detail: format!("cannot read the request body: {error}"),
            field: None,
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Auth(error) => error.into(),
            WriteError::App(error) => error.into(),
            WriteError::IdTaken => ApiError::Conflict {
                detail: error.to_string(),
                rule: None,
                field: Some("id".to_owned()),
            },
            WriteError::IdempotencyMismatch => ApiError::IdempotencyMismatch,
            WriteError::InProgress { retry_after } => ApiError::InProgress { retry_after },
            WriteError::Erased(_) => ApiError::Conflict {
                detail: error.to_string(),
                rule: None,
                field: Some("person_id".to_owned()),
            },
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        let detail = error.to_string();
        match error {
            SessionError::Invalid { field, .. } => ApiError::Malformed {
                detail,
                field: Some(field.to_owned()),
            },
            SessionError::Rejected { failures, .. } => {
                let errors = failures
                    .into_iter()
                    .map(|failure| {
                        let field = failure.field();
                        let single = match failure.error {
                            AttendanceError::NotFound => ApiError::NotFound,
                            AttendanceError::Refused(error) => AppError::Domain(error).into(),
                        };
                        let problem = single.problem();
                        let message = match single {
                            ApiError::NotFound => {
                                "no such KIM, or one outside this token's scope".to_owned()
                            }
                            _ => problem.detail,
                        };
                        CommunityProblem {
                            index: failure.index,
                            id: failure.community_id,
                            status: problem.status,
                            kind: problem.kind,
                            rule: problem.rule,
                            field,
                            message,
                        }
                    })
                    .collect();
                ApiError::Rejected { detail, errors }
            }
            SessionError::Write(error) => error.into(),
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Auth(error) => error.into(),
            ReadError::Invalid { field, detail } => ApiError::Malformed {
                detail: format!("{field}: {detail}"),
                field: Some(field.to_owned()),
            },
            ReadError::NotReached(_) => ApiError::Unavailable,
            ReadError::Store(error) => error.into(),
            ReadError::ReadModel(error) => ApiError::Internal(error),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::NotFound => ApiError::NotFound,
            AuthError::Forbidden { reason } => ApiError::Forbidden(reason),
        }
    }
}
