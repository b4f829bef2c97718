#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the test vectors.

Run from anywhere: `python3 fuzz/seeds/make_seeds.py`. The output is committed; rerun
after changing an input layout in core/src/fuzzing/.
"""
import base64, hashlib, hmac, json, os, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
SECRET = b"0123456789abcdef0123456789abcdef"

def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=")
def b64u_dec(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

# RFC 7515 appendix A tokens (A.1 HS256 with its own key, A.2 RS256, A.3 ES256).
PAYLOAD = b"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
A1 = b"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + PAYLOAD + b".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
A2 = b"eyJhbGciOiJSUzI1NiJ9." + PAYLOAD + b".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
A3 = b"eyJhbGciOiJFUzI1NiJ9." + PAYLOAD + b".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
N = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"

def mint(header, claims):
    signing = b64u(json.dumps(header, separators=(",", ":")).encode()) + b"." + b64u(claims)
    return signing + b"." + b64u(hmac.new(SECRET, signing, hashlib.sha256).digest())

CLAIMS = [
    b'{"sub":"alice","iss":"joe","aud":"api","exp":1700000600,"iat":1700000000,"nbf":1699999990}',
    b'{"sub":"b\\u00f6b","aud":["other","api"],"exp":1.7000006e9,"iat":-1.5,"scope":"read write","admin":true}',
    b'{"exp":9223372036854775808,"nbf":-0.0,"n":{"deep":[1,[2,{"x":null}]]},"jti":"\\ud83d\\ude00"}',
]

# DER helpers for the key seeds.
def der_len(n):
    if n < 128: return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b
def tlv(tag, body): return bytes([tag]) + der_len(len(body)) + body
def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80: b = b"\0" + b
    return tlv(0x02, b)
def pem(label, der):
    body = base64.b64encode(der).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode()

P256_SPKI = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + b64u_dec(X) + b64u_dec(Y)
RSA_PKCS1 = tlv(0x30, der_int(b64u_dec(N)) + der_int(b"\x01\x00\x01"))
RSA_SPKI = tlv(0x30, tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00") + tlv(0x03, b"\0" + RSA_PKCS1))
EC_JWK = json.dumps({"kty": "EC", "crv": "P-256", "kid": "es", "x": X, "y": Y}).encode()
RSA_JWK = json.dumps({"kty": "RSA", "kid": "rs", "alg": "RS256", "use": "sig", "e": "AQAB", "n": N}).encode()
OCT_JWK = json.dumps({"kty": "oct", "kid": "hs", "k": b64u(SECRET).decode()}).encode()

def mask(key, data): return bytes(b ^ key[i % 4] for i, b in enumerate(data))
KEY = bytes.fromhex("37fa213d")
def frame(op, payload, fin=True, masked=True):
    head = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    m = 0x80 if masked else 0
    if n < 126: head += bytes([m | n])
    elif n < 65536: head += bytes([m | 126]) + struct.pack(">H", n)
    else: head += bytes([m | 127]) + struct.pack(">Q", n)
    return head + (KEY + mask(KEY, payload) if masked else payload)

def client_stream(masked):
    return [
        frame(1, b"Hello", masked=masked),  # RFC 6455 §5.7
        frame(1, b"Hel", fin=False, masked=masked) + frame(0, b"lo", masked=masked),
        frame(9, b"Hello", masked=masked) + frame(10, b"Hello", masked=masked),
        frame(2, bytes(range(256)), masked=masked) + frame(1, "h\u00e9llo w\u00f6rld \U0001F600".encode(), masked=masked),
        frame(1, b"\xce\xba\xe1\xbd", fin=False, masked=masked) + frame(9, b"", masked=masked)
        + frame(0, b"\xb9\xcf\x83", masked=masked) + frame(8, struct.pack(">H", 1000) + b"bye", masked=masked),
    ]

REQUEST = (b"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n")
T = b"aGVsbG8.d29ybGQ.c2ln"
REQUESTS = [
    REQUEST + b"Authorization: Bearer " + T + b"\r\n\r\n",
    REQUEST.replace(b"?room=1", b"?token=" + T.replace(b".", b"%2E")) + b"\r\n",
    REQUEST + b"Origin: https://app.example\r\nSec-WebSocket-Protocol: chat, tollgate.bearer, " + T
    + b"\r\nCookie: a=b; session=" + T + b"\r\n\r\n",
    REQUEST.replace(b"Version: 13", b"Version: 8") + b"\r\n",
    b"GET /?t=" + T + b" HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" + frame(1, b"Hello"),
]
ACCEPT = b"CdXSYUsvsaMthlEXWDNURGWA/1o="  # for the fuzzer's fixed nonce [7; 16]
RESPONSES = [
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
    + ACCEPT + b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n" + frame(1, b"Hello", masked=False),
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
    + ACCEPT + b"\r\n\r\n",
    b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nWWW-Authenticate: Bearer error=\"invalid_token\", "
    b"error_description=\"expired\"\r\nContent-Length: 8\r\n\r\nexpired\n",
    b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n",
]

def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def main():
    for i, t in enumerate([A1, A2, A3, mint({"alg": "HS256", "typ": "JWT"}, CLAIMS[0])]):
        put("jwt_parse", f"token-{i}", t)
    for i, c in enumerate(CLAIMS):
        put("jwt_parse", f"claims-{i}", c)
    put("jwt_parse", "header", b'{"alg":"ES256","kid":"es","typ":"at+jwt","cty":"JWT"}')
    # jwt_verify: mode (rules | base << 2 | header << 4), time offset, token / claims.
    rfc_now = bytes([0 | 1 << 2]) + struct.pack("<i", -400)
    put("jwt_verify", "rs256-rfc7515-a2", rfc_now + A2)
    put("jwt_verify", "es256-rfc7515-a3", rfc_now + A3)
    for rules in range(4):
        mode = bytes([rules | 2 << 2 | (rules % 3) << 4]) + struct.pack("<i", 100)
        put("jwt_verify", f"hs256-rules-{rules}", mode + mint({"alg": "HS256", "typ": "JWT", "kid": "hs"}, CLAIMS[0]))
        put("jwt_verify", f"claims-rules-{rules}", mode + CLAIMS[rules % 3])
    for i, t in enumerate([b"\x03eyJhbGciOiJIUzI1NiJ9", b"\x00AQAB", b"\x05" + A1.split(b".")[2], b"\x00AB", b"\x07ab+/=",
                           b"\x02" + PAYLOAD]):
        put("base64url", f"seed-{i}", t)
    for name, data in [("p256.der", P256_SPKI), ("p256.pem", pem("PUBLIC KEY", P256_SPKI)),
                       ("rsa-spki.der", RSA_SPKI), ("rsa-pkcs1.pem", pem("RSA PUBLIC KEY", RSA_PKCS1)),
                       ("rsa-spki.pem", pem("PUBLIC KEY", RSA_SPKI)), ("ec.jwk", EC_JWK), ("rsa.jwk", RSA_JWK),
                       ("oct.jwk", OCT_JWK), ("set.jwks", b'{"keys":[' + EC_JWK + b"," + RSA_JWK + b"]}"),
                       ("private.pem", b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n")]:
        put("keys", name, data)
    for i, r in enumerate(REQUESTS):
        put("handshake_request", f"request-{i}", r)
    for i, r in enumerate(RESPONSES):
        put("handshake_response", f"response-{i}", r)
    # frames_chunked: buffer size (u16), limits, piece sizes, client stream.
    for i, s in enumerate(client_stream(True)):
        sizes = bytes([1, 7, 3, 64][: i % 4 + 1])
        put("frames_chunked", f"rfc6455-{i}", struct.pack("<H", 16 * i) + bytes([i * 5 % 16, len(sizes)]) + sizes + s)
    # conn_*: buffer size, (seed,) limits, then ops: 0 feed, 2 message, 3 fragment,
    # 4 frame header, 5 ping, 6 close, 7 poll_transmit.
    def ops(stream):
        out = b""
        for s in stream:
            out += b"\x00" + bytes([len(s)]) + s if len(s) < 256 else b"\x80" + bytes([len(s) // 16 + 1]) + s
            out += b"\x07"
        out += b"\x12\x05Hello, world" + b"\x03\x02abcd" + b"\x23\x02efgh" + b"\x04\x03xyzxyz"
        out += b"\x05\x05ping!" + b"\x06" + struct.pack("<H", 1000) + b"\x03bye" + b"\x07"
        return out
    put("conn_server", "exchange", struct.pack("<H", 200) + b"\x00" + ops(client_stream(True)[:3]))
    put("conn_server", "exchange-small", struct.pack("<H", 0) + b"\x02" + ops(client_stream(True)[3:]))
    put("conn_client", "exchange", struct.pack("<H", 200) + b"\x01\x00" + ops(client_stream(False)[:3]))
    put("conn_client", "exchange-small", struct.pack("<H", 0) + b"\x02\x02" + ops(client_stream(False)[3:]))
    for i, (offset, step, payload) in enumerate([(0, 1, b"Hello"), (3, 7, bytes(range(200))), (1, 32, b"x" * 67)]):
        put("unmask", f"seed-{i}", KEY + bytes([offset, step]) + payload)
    for i, (sizes, text) in enumerate([(b"", "h\u00e9llo w\u00f6rld \U0001F600".encode()),
                                       (b"\x01\x02", "\u03ba\u1f79\u03c3\u03bc\u03b5".encode()),
                                       (b"\x03", b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80"),
                                       (b"\x00\x05", b"\xf4\x90\x80\x80 \xc0\xaf")]):
        put("utf8", f"seed-{i}", bytes([len(sizes)]) + sizes + text)

main()
