//! Client ↔ server handshakes in memory: the client writes, the server parses, extracts
//! the token and answers, the client validates the answer.

use tollgate::ws::handshake::{
    ClientRequest, EMPTY_HEADER, HandshakeError, Rejection, ResponseError, ServerConfig, Status,
    TokenSource, TokenSourceKind, write_rejection,
};

const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

const SOURCES: [TokenSource<'static>; 4] = [
    TokenSource::AuthorizationBearer,
    TokenSource::Subprotocol {
        marker: "tollgate.bearer",
    },
    TokenSource::Query { name: "token" },
    TokenSource::Cookie { name: "session" },
];

/// What the server saw and what the client concluded.
#[derive(Debug, PartialEq)]
struct Outcome {
    token: String,
    source: TokenSourceKind,
    protocol: Option<&'static str>,
    response: Vec<u8>,
}

fn run(
    request: ClientRequest<'static>,
    server: &ServerConfig<'static>,
) -> Result<Outcome, ResponseError> {
    let mut wire = [0_u8; 1024];
    let (len, client) = request
        .write_with_key(*b"0123456789abcdef", &mut wire)
        .unwrap();

    let mut headers = [EMPTY_HEADER; 16];
    let mut response = [0_u8; 512];
    let mut decode = [0_u8; 512];
    let (response_len, token) = match server.parse_request(&wire[..len], &mut headers) {
        Ok(Status::Complete(parsed)) => {
            assert_eq!(parsed.head_len(), len);
            match server.extract_token(&parsed, &mut decode) {
                Ok(token) => {
                    let protocol = server.select_protocol(&parsed);
                    let n = parsed.write_accept(protocol, &[], &mut response).unwrap();
                    (n, Some((String::from(token.as_str()), token.source())))
                }
                Err(error) => (write_rejection(error, &mut response).unwrap(), None),
            }
        }
        Ok(Status::Partial) => panic!("the client wrote an incomplete request"),
        Err(error) => (write_rejection(error, &mut response).unwrap(), None),
    };

    let mut headers = [EMPTY_HEADER; 16];
    let response = &response[..response_len];
    let Status::Complete(accepted) = client.parse_response(response, &mut headers)? else {
        panic!("the server wrote an incomplete response");
    };
    assert_eq!(accepted.head_len(), response_len);
    let (token, source) = token.expect("101 without token");
    Ok(Outcome {
        token,
        source,
        protocol: accepted.protocol(),
        response: response.to_vec(),
    })
}

fn server() -> ServerConfig<'static> {
    ServerConfig::new()
        .with_token_sources(&SOURCES)
        .with_protocols(&["chat.v2", "chat.v1"])
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn bearer_header_round_trip() {
    let outcome = run(
        ClientRequest::new("example.com", "/ws").with_bearer(JWT),
        &server(),
    )
    .unwrap();
    assert_eq!(outcome.token, JWT);
    assert_eq!(outcome.source, TokenSourceKind::AuthorizationBearer);
    assert_eq!(outcome.protocol, None);
}

#[test]
fn query_token_round_trip() {
    let request = ClientRequest::new("example.com", "/ws?room=7").with_query_token("token", JWT);
    let outcome = run(request, &server()).unwrap();
    assert_eq!(outcome.token, JWT);
    assert_eq!(outcome.source, TokenSourceKind::Query);
}

#[test]
fn query_token_needing_escapes_round_trip() {
    let request =
        ClientRequest::new("example.com", "/ws").with_query_token("token", "opaque+token/with==");
    let outcome = run(request, &server()).unwrap();
    assert_eq!(outcome.token, "opaque+token/with==");
}

#[test]
fn subprotocol_token_round_trip_answers_the_marker_and_never_the_token() {
    let request =
        ClientRequest::new("example.com", "/ws").with_token_protocol("tollgate.bearer", JWT);
    let outcome = run(request, &server()).unwrap();
    assert_eq!(outcome.token, JWT);
    assert_eq!(outcome.source, TokenSourceKind::Subprotocol);
    assert_eq!(outcome.protocol, Some("tollgate.bearer"));
    assert!(!contains(&outcome.response, JWT));
}

#[test]
fn subprotocol_token_with_application_protocols_round_trip() {
    let request = ClientRequest::new("example.com", "/ws")
        .with_protocols(&["chat.v1", "chat.v2"])
        .with_token_protocol("tollgate.bearer", JWT);
    let outcome = run(request, &server()).unwrap();
    assert_eq!(outcome.protocol, Some("chat.v2"));
    assert!(!contains(&outcome.response, JWT));
}

#[test]
fn cookie_token_round_trip() {
    let request = ClientRequest::new("example.com", "/ws")
        .with_headers(&[("Cookie", "theme=dark; session=abc.def.ghi")]);
    let outcome = run(request, &server()).unwrap();
    assert_eq!(outcome.token, "abc.def.ghi");
    assert_eq!(outcome.source, TokenSourceKind::Cookie);
}

#[test]
fn same_token_in_every_source_round_trip() {
    let request = ClientRequest::new("example.com", "/ws")
        .with_bearer(JWT)
        .with_query_token("token", JWT)
        .with_token_protocol("tollgate.bearer", JWT);
    assert_eq!(
        run(request, &server()).unwrap().source,
        TokenSourceKind::AuthorizationBearer
    );
}

fn rejected(result: Result<Outcome, ResponseError>) -> (u16, Option<String>) {
    match result {
        Err(ResponseError::Rejected(rejected)) => (
            rejected.status(),
            rejected.error_description().map(String::from),
        ),
        other => panic!("not rejected: {other:?}"),
    }
}

#[test]
fn conflicting_tokens_are_refused_with_400() {
    let request = ClientRequest::new("example.com", "/ws")
        .with_bearer(JWT)
        .with_query_token("token", "other.token.x");
    assert_eq!(
        rejected(run(request, &server())),
        (400, Some("conflicting_tokens".into()))
    );
}

#[test]
fn missing_token_is_refused_with_401_and_no_description() {
    let request = ClientRequest::new("example.com", "/ws");
    assert_eq!(rejected(run(request, &server())), (401, None));
}

#[test]
fn malformed_token_is_refused_with_401_malformed() {
    let request =
        ClientRequest::new("example.com", "/ws").with_headers(&[("Cookie", "session=a$b")]);
    assert_eq!(
        rejected(run(request, &server())),
        (401, Some("malformed".into()))
    );
}

#[test]
fn refused_origin_is_403() {
    let server = server().with_allowed_origins(&["https://app.example"]);
    let request = ClientRequest::new("example.com", "/ws")
        .with_bearer(JWT)
        .with_origin("https://evil.example");
    assert_eq!(rejected(run(request, &server)), (403, None));
    let request = ClientRequest::new("example.com", "/ws")
        .with_bearer(JWT)
        .with_origin("https://app.example");
    assert!(run(request, &server).is_ok());
}

#[test]
fn verifier_refusal_reaches_the_client_as_its_stable_code() {
    let mut response = [0_u8; 256];
    let len = Rejection::invalid_token("expired")
        .write(&mut response)
        .unwrap();
    let mut wire = [0_u8; 512];
    let (_, client) = ClientRequest::new("h", "/")
        .with_bearer(JWT)
        .write_with_key([9; 16], &mut wire)
        .unwrap();
    let mut headers = [EMPTY_HEADER; 16];
    let Err(ResponseError::Rejected(rejected)) =
        client.parse_response(&response[..len], &mut headers)
    else {
        panic!("not rejected");
    };
    assert_eq!(
        (rejected.status(), rejected.error_description()),
        (401, Some("expired"))
    );
}

#[test]
fn oversized_request_is_refused_with_431() {
    let big = "x".repeat(9000);
    let request = format!("GET / HTTP/1.1\r\nHost: h\r\nX-Big: {big}\r\n\r\n");
    let mut headers = [EMPTY_HEADER; 16];
    let error = ServerConfig::new()
        .parse_request(request.as_bytes(), &mut headers)
        .unwrap_err();
    assert_eq!(error, HandshakeError::RequestTooLarge);
    let mut response = [0_u8; 256];
    let len = write_rejection(error, &mut response).unwrap();
    assert!(response[..len].starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    let partial = &request.as_bytes()[..8200];
    let mut headers = [EMPTY_HEADER; 16];
    assert_eq!(
        ServerConfig::new().parse_request(partial, &mut headers),
        Err(HandshakeError::RequestTooLarge)
    );
}
