//! Builds in the in-memory engine (being written).

use std::collections::VecDeque;

use super::{MemoryImageService, Step};
use crate::error::{ImageError, Result};
use crate::model::BuildOptions;

/// Plans a build; returns the steps to stream.
pub(super) fn plan(
    _service: &MemoryImageService,
    _context_tar: &[u8],
    _options: &BuildOptions,
) -> Result<VecDeque<Step>> {
    Err(ImageError::not_supported("build", "memory"))
}
