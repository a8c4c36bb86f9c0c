//! gRPC services, one file each: `ledger_service.rs` ([`LedgerApi`]), `coalition_service.rs`
//! ([`CoalitionApi`]), `report_service.rs` ([`ReportApi`]), `audit_service.rs` ([`AuditApi`]); `limits.rs`
//! the rate limits; `verifying.rs` SubmitBatch's verification queue. Handlers only delegate: decode the
//! request, call [`crate::ledger::Ledger`] (reads through its `ReadView`), encode the answer. Errors become
//! `tonic::Status` in exactly one place, [`status`].
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

mod audit_service;
mod coalition_service;
mod ledger_service;
pub mod limits;
mod report_service;
mod verifying;

pub use audit_service::AuditApi;
pub use coalition_service::CoalitionApi;
pub use ledger_service::LedgerApi;
pub use report_service::ReportApi;

use crate::error::{Error, Kind};

/// The `type` of the google.rpc.PreconditionFailure violation a FAILED_PRECONDITION carries: a rule of the
/// ledger's current state.
pub const PRECONDITION_TYPE: &str = "STATE";

/// The one mapping from [`Error`] to gRPC status. Internal errors are logged and never detailed to clients.
///
/// The message is the error's text (`field: rule`). An error that names a field also carries the standard
/// rich error details (google.rpc.Status details, `grpc-status-details-bin`): INVALID_ARGUMENT a
/// `BadRequest` with one field violation {field, rule}; FAILED_PRECONDITION a `PreconditionFailure` with one
/// violation {type [`PRECONDITION_TYPE`], subject = field, rule}, since the request is well formed and it is
/// the ledger's state that refuses it (AIP-193). Other codes carry no details.
pub fn status(e: Error) -> Status {
    use tonic::Code;
    let code = match e.kind {
        Kind::InvalidArgument => Code::InvalidArgument,
        Kind::PermissionDenied => Code::PermissionDenied,
        Kind::NotFound => Code::NotFound,
        Kind::AlreadyExists => Code::AlreadyExists,
        Kind::FailedPrecondition => Code::FailedPrecondition,
        Kind::ResourceExhausted => Code::ResourceExhausted,
        Kind::Unavailable => Code::Unavailable,
        Kind::DataLoss => {
            tracing::error!(error = %e, "corrupt stored data");
            Code::DataLoss
        }
        Kind::Internal => {
            tracing::error!(error = %e, "internal error");
            return Status::internal("internal error (logged on the server)");
        }
    };
    let e = e.in_json_names();
    let message = e.to_string();
    if e.field.is_empty() {
        return Status::new(code, message);
    }
    let (field, rule) = (e.field.to_string(), e.message);
    let details = match code {
        Code::InvalidArgument => ErrorDetails::with_bad_request_violation(field, rule),
        Code::FailedPrecondition => ErrorDetails::with_precondition_failure_violation(PRECONDITION_TYPE, field, rule),
        _ => return Status::new(code, message),
    };
    Status::with_error_details(code, message, details)
}

/// Work short enough to run on the async worker (one signature check, a proof from cached pages: tens of
/// microseconds). Handing it to the blocking pool would cost more in thread hand-offs than it saves; no
/// connection is held across an `.await`.
fn inline<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Status> {
    f().map_err(status)
}

/// Run long blocking work (a batch's signatures, bulk reads) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f).await.map_err(|e| status(Error::internal(format!("task: {e}"))))?.map_err(status)
}
