//! The `tollgate` command-line program.

fn main() {}
