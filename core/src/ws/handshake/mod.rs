//! The HTTP/1.1 upgrade handshake (RFC 6455 §4) and access-token extraction.
//!
//! Server flow, every step borrowing caller buffers:
//!
//! 1. [`ServerConfig::parse_request`] → [`Status::Partial`] (read more) or a validated
//!    [`Request`] (or a [`HandshakeError`], answered with [`Rejection`]).
//! 2. [`ServerConfig::extract_token`] → a [`Token`] for the JWT verifier (or
//!    [`HandshakeError::MissingToken`] and friends, answered with 401).
//! 3. On a verified token, [`ServerConfig::select_protocol`] and [`Request::write_accept`]
//!    write the 101; on a refused one, [`Rejection::invalid_token`] with the verifier's
//!    stable code writes the 401.
//! 4. Bytes after [`Request::head_len`] are the first WebSocket frames.
//!
//! Client flow: [`ClientRequest::write`] → send → [`ClientHandshake::parse_response`].
//!
//! ```
//! use tollgate::ws::handshake::{ClientRequest, EMPTY_HEADER, ServerConfig, Status};
//!
//! let mut request = [0_u8; 512];
//! let (len, client) = ClientRequest::new("example.com", "/chat")
//!     .with_bearer("aGVsbG8.d29ybGQ.c2ln")
//!     .write_with_key([7; 16], &mut request)?;
//!
//! let server = ServerConfig::new();
//! let mut headers = [EMPTY_HEADER; 16];
//! let Status::Complete(parsed) = server.parse_request(&request[..len], &mut headers)? else {
//!     unreachable!("the request is complete");
//! };
//! let mut decode = [0_u8; 256];
//! assert_eq!(server.extract_token(&parsed, &mut decode)?.as_str(), "aGVsbG8.d29ybGQ.c2ln");
//!
//! let mut response = [0_u8; 256];
//! let len = parsed.write_accept(server.select_protocol(&parsed), &[], &mut response)?;
//! let mut headers = [EMPTY_HEADER; 16];
//! let accepted = client.parse_response(&response[..len], &mut headers)?;
//! assert!(accepted.is_complete());
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

pub mod accept;
pub mod client;
pub mod error;
mod http;
pub mod response;
pub mod server;
pub mod token;

pub use accept::accept_key;
pub use client::{Accepted, ClientHandshake, ClientRequest};
pub use error::{Challenge, HandshakeError, Rejected, ResponseError, WriteError};
pub use httparse::{EMPTY_HEADER, Header, Status};
pub use response::{Rejection, write_rejection};
pub use server::{Request, ServerConfig};
pub use token::{Token, TokenSource, TokenSourceKind, extract_token};
