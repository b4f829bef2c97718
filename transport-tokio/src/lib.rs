//! tollgate on tokio: authenticated WebSocket servers and the `tollgate` command-line program.
