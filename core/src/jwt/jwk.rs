//! TODO module doc.
