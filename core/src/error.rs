//! Leaf errors shared by several domains.

use core::fmt;

/// A caller-provided buffer was too small for the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall;

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("buffer too small")
    }
}

impl core::error::Error for BufferTooSmall {}
