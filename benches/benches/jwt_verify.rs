//! JWT verification with iss/aud/exp/nbf checks: tollgate vs jsonwebtoken (pure-Rust backend), same tokens.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use tollgate_benches::*;

fn mint(alg: Algorithm, key: &EncodingKey) -> String {
    let claims: serde_json::Value =
        serde_json::from_str(&claims_json(now())).expect("fixture claims");
    encode(&Header::new(alg), &claims, key).expect("jsonwebtoken signs the fixture")
}

fn jsonwebtoken_validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.validate_nbf = true;
    v
}

fn tollgate_key(name: &str) -> tollgate::jwt::Key {
    use tollgate::jwt::{Key, alg::hs256::Hs256Secret};
    match name {
        "HS256" => Key::Hs256(Hs256Secret::new(HS256_SECRET).expect("hs256 secret")),
        "ES256" => Key::from_public_key_pem(ES256_PUBLIC_PEM.as_bytes()).expect("es256 key"),
        _ => Key::from_public_key_pem(RS256_PUBLIC_PEM.as_bytes()).expect("rs256 key"),
    }
}

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "HS256",
            Algorithm::HS256,
            EncodingKey::from_secret(HS256_SECRET),
            DecodingKey::from_secret(HS256_SECRET),
        ),
        (
            "ES256",
            Algorithm::ES256,
            EncodingKey::from_ec_pem(ES256_PRIVATE_PEM.as_bytes()).expect("es256 key"),
            DecodingKey::from_ec_pem(ES256_PUBLIC_PEM.as_bytes()).expect("es256 key"),
        ),
        (
            "RS256",
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RS256_PRIVATE_PEM.as_bytes()).expect("rs256 key"),
            DecodingKey::from_rsa_pem(RS256_PUBLIC_PEM.as_bytes()).expect("rs256 key"),
        ),
    ];
    let mut group = c.benchmark_group("jwt_verify");
    for (name, alg, enc, dec) in &cases {
        let token = mint(*alg, enc);
        let validation = jsonwebtoken_validation(*alg);
        let key = tollgate_key(name);
        let rules = tollgate::jwt::Validation::new()
            .issuers(&[ISSUER])
            .audiences(&[AUDIENCE]);
        let now = now();
        let mut scratch = [0u8; 1024];
        group.bench_function(BenchmarkId::new(*name, "tollgate"), |b| {
            b.iter(|| {
                let verified = tollgate::jwt::verify(
                    black_box(token.as_bytes()),
                    &key,
                    &rules,
                    now,
                    &mut scratch,
                )
                .expect("tollgate verifies");
                black_box(verified.registered().exp());
            })
        });
        group.bench_function(BenchmarkId::new(*name, "jsonwebtoken"), |b| {
            b.iter(|| {
                black_box(
                    decode::<serde_json::Value>(black_box(&token), dec, &validation)
                        .expect("jsonwebtoken verifies"),
                )
            })
        });
    }
    // The floor for ES256: a bare p256 verification of the same signing input, no parsing.
    let token = mint(Algorithm::ES256, &cases[1].2);
    let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
    let mut sig = [0u8; 64];
    tollgate::base64url::decode(signature.as_bytes(), &mut sig).expect("signature");
    let sig = p256::ecdsa::Signature::from_slice(&sig).expect("p1363 signature");
    let vk = <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_pem(
        ES256_PUBLIC_PEM,
    )
    .expect("es256 key");
    group.bench_function(BenchmarkId::new("ES256", "p256_bare"), |b| {
        b.iter(|| {
            use p256::ecdsa::signature::Verifier;
            vk.verify(black_box(signing_input.as_bytes()), &sig)
                .expect("p256 verifies")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
