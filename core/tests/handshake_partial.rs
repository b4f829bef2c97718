//! Incremental input: every split point of a request and of a response is `Partial`
//! until the head is complete, and bytes after the head are reported, not consumed.

use tollgate::ws::handshake::{ClientRequest, EMPTY_HEADER, ResponseError, ServerConfig, Status};

const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

fn full_request(wire: &mut [u8]) -> (usize, tollgate::ws::handshake::ClientHandshake<'static>) {
    ClientRequest::new("example.com", "/ws?room=1")
        .with_query_token("token", JWT)
        .with_bearer(JWT)
        .with_protocols(&["chat"])
        .with_token_protocol("tollgate.bearer", JWT)
        .with_origin("https://app.example")
        .with_headers(&[("Cookie", "a=b")])
        .write_with_key([3; 16], wire)
        .unwrap()
}

#[test]
fn request_is_partial_at_every_split_point() {
    let mut wire = [0_u8; 1024];
    let (len, _) = full_request(&mut wire);
    let server = ServerConfig::new().with_protocols(&["chat"]);
    for split in 0..len {
        let mut headers = [EMPTY_HEADER; 16];
        assert_eq!(
            server.parse_request(&wire[..split], &mut headers),
            Ok(Status::Partial),
            "split at {split}"
        );
    }
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(request)) = server.parse_request(&wire[..len], &mut headers) else {
        panic!("complete request refused");
    };
    assert_eq!(request.head_len(), len);
}

#[test]
fn pipelined_bytes_after_the_request_are_left_for_the_codec() {
    let mut wire = [0_u8; 1024];
    let (len, _) = full_request(&mut wire);
    let frame = [
        0x81,
        0x85,
        1,
        2,
        3,
        4,
        b'h' ^ 1,
        b'e' ^ 2,
        b'l' ^ 3,
        b'l' ^ 4,
        b'o' ^ 1,
    ];
    wire[len..len + frame.len()].copy_from_slice(&frame);
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(request)) =
        ServerConfig::new().parse_request(&wire[..len + frame.len()], &mut headers)
    else {
        panic!("request refused");
    };
    assert_eq!(&wire[request.head_len()..len + frame.len()], &frame);
}

#[test]
fn response_is_partial_at_every_split_point_and_leaves_frames() {
    let mut wire = [0_u8; 1024];
    let (len, client) = full_request(&mut wire);
    let server = ServerConfig::new().with_protocols(&["chat"]);
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(request)) = server.parse_request(&wire[..len], &mut headers) else {
        panic!("request refused");
    };
    let mut response = [0_u8; 512];
    let head = request
        .write_accept(server.select_protocol(&request), &[], &mut response)
        .unwrap();
    let frame = [0x81, 0x02, b'h', b'i'];
    response[head..head + frame.len()].copy_from_slice(&frame);

    for split in 0..head {
        let mut headers = [EMPTY_HEADER; 16];
        assert_eq!(
            client.parse_response(&response[..split], &mut headers),
            Ok(Status::Partial),
            "split at {split}"
        );
    }
    let mut headers = [EMPTY_HEADER; 16];
    let Ok(Status::Complete(accepted)) =
        client.parse_response(&response[..head + frame.len()], &mut headers)
    else {
        panic!("response refused");
    };
    assert_eq!(accepted.head_len(), head);
    assert_eq!(accepted.protocol(), Some("chat"));
    assert_eq!(&response[accepted.head_len()..head + frame.len()], &frame);
}

#[test]
fn refusal_is_partial_until_its_head_is_complete() {
    let mut wire = [0_u8; 1024];
    let (_, client) = full_request(&mut wire);
    let refusal =
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer error=\"invalid_token\", \
        error_description=\"expired\"\r\nContent-Length: 8\r\n\r\nexpired\n";
    let head = refusal.len() - 8;
    for split in 0..head {
        let mut headers = [EMPTY_HEADER; 16];
        assert_eq!(
            client.parse_response(&refusal[..split], &mut headers),
            Ok(Status::Partial)
        );
    }
    let mut headers = [EMPTY_HEADER; 16];
    let Err(ResponseError::Rejected(rejected)) =
        client.parse_response(&refusal[..head], &mut headers)
    else {
        panic!("not rejected");
    };
    assert_eq!(rejected.error_description(), Some("expired"));
}

#[test]
fn corrupting_any_byte_never_panics() {
    let mut wire = [0_u8; 1024];
    let (len, _) = full_request(&mut wire);
    let server = ServerConfig::new().with_protocols(&["chat"]);
    for index in 0..len {
        for value in [0_u8, b'\r', b'\n', b' ', b',', b'%', b'=', b':', 0x80, 0xff] {
            let mut corrupted = wire;
            corrupted[index] = value;
            let mut headers = [EMPTY_HEADER; 16];
            if let Ok(Status::Complete(request)) =
                server.parse_request(&corrupted[..len], &mut headers)
            {
                let mut decode = [0_u8; 64];
                let _ = server.extract_token(&request, &mut decode);
                let _ = server.select_protocol(&request);
            }
        }
    }
}
