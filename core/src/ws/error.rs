//! Errors of the WebSocket handshake and protocol.
