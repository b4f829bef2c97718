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
        group.bench_function(BenchmarkId::new(*name, "jsonwebtoken"), |b| {
            b.iter(|| {
                black_box(
                    decode::<serde_json::Value>(black_box(&token), dec, &validation)
                        .expect("jsonwebtoken verifies"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
