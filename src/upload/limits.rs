//! The limits of an upload (CONTRACT §4, §9) and their refusals: the largest file (413), the
//! text field and form sizes, the field and file counts FastAPI enforces (400), and the 413
//! judged from `Content-Length` alone, before a byte of the body is read.

use super::disposition::split_params;
use crate::error::ApiError;

pub(super) const TEXT_TOO_LARGE: &str = "Part exceeded maximum size of 1024KB.";
pub(super) const TOO_MANY_FIELDS: &str = "Too many fields. Maximum number of fields is 1000.";
pub(super) const TOO_MANY_FILES: &str = "Too many files. Maximum number of files is 1000.";
/// FastAPI's cap on one text field, and taskd's on a form-urlencoded body (CONTRACT §4, §9).
pub(super) const MAX_TEXT_BYTES: u64 = 1024 * 1024;
pub(super) const MAX_FIELDS: usize = 1000;
pub(super) const MAX_FILES: usize = 1000;
/// Room for boundaries, part headers and small text fields beside the largest acceptable file,
/// when judging a declared `Content-Length` before reading.
pub(super) const FRAMING_ALLOWANCE: u64 = 64 * 1024;

/// Limits applied while reading an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest accepted file part in bytes; one more byte is a 413.
    pub max_file_bytes: u64,
}

/// The 413 that [`read_file_field_into`](super::read_file_field_into) answers from the declared length alone, for a
/// `multipart/form-data` body declared larger than the largest acceptable file plus room for
/// its framing. A conditional upload needs it on its own: CONTRACT §11 refuses by the declared
/// length, then by the preconditions, and only then reads the body.
///
/// # Errors
/// 413 `File too large (limit N bytes)`.
pub fn check_declared_length(
    content_type: Option<&str>,
    size_hint: Option<u64>,
    limits: UploadLimits,
) -> Result<(), ApiError> {
    let is_form = content_type.is_some_and(|value| {
        let (media_type, _) = split_params(value.as_bytes());
        media_type.eq_ignore_ascii_case(b"multipart/form-data")
    });
    if is_form && declared_too_long(size_hint, limits) {
        return Err(too_large(limits));
    }
    Ok(())
}

/// Whether a body declared `size_hint` bytes long cannot hold an acceptable file: larger than
/// the biggest one plus room for the framing.
pub(super) fn declared_too_long(size_hint: Option<u64>, limits: UploadLimits) -> bool {
    size_hint.is_some_and(|length| length > limits.max_file_bytes.saturating_add(FRAMING_ALLOWANCE))
}

/// 413 for a file over the upload limit.
pub(super) fn too_large(limits: UploadLimits) -> ApiError {
    let limit = limits.max_file_bytes;
    ApiError::PayloadTooLarge(format!("File too large (limit {limit} bytes)"))
}
