//! Entry points for the cargo-fuzz targets (compiled only under `cfg(fuzzing)`).
