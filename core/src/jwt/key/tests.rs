//! Key parsing against fixtures generated at test time by the `rsa` and `p256` crates.

extern crate std;

use std::string::String;
use std::vec::Vec;
use std::{format, vec};

use base64ct::Encoding as _;
use p256::ecdsa::signature::Signer;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::*;
use crate::jwt::alg::es256::Es256PublicKey;
use crate::jwt::alg::hs256::Hs256Secret;
use crate::jwt::alg::rs256::Rs256PublicKey;

/// SplitMix64: deterministic fixtures, so a failure reproduces.
struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for TestRng {}

fn base64(bytes: &[u8]) -> String {
    let mut buf = [0u8; 2048];
    String::from(base64ct::Base64::encode(bytes, &mut buf).unwrap())
}

fn rsa_key(bits: usize, seed: u64) -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::new(&mut TestRng(seed), bits).unwrap()
}

fn p256_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap()
}

fn rsa_sign(key: &rsa::RsaPrivateKey, message: &[u8]) -> Vec<u8> {
    key.sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
        .unwrap()
}

fn expect_rsa(key: &Key) -> &Rs256PublicKey {
    match key {
        Key::Rs256(k) => k,
        other => panic!("expected an RSA key, got {other:?}"),
    }
}

fn expect_es256(key: &Key) -> &Es256PublicKey {
    match key {
        Key::Es256(k) => k,
        other => panic!("expected a P-256 key, got {other:?}"),
    }
}

#[test]
fn rsa_spki_and_pkcs1_in_der_and_pem_parse_to_the_same_key() {
    let private = rsa_key(2048, 1);
    let public = private.to_public_key();
    let expected = Rs256PublicKey::from_components(
        &public.n_bytes(),
        &public.e().to_be_bytes_trimmed_vartime(),
    )
    .unwrap();
    let spki_der = public.to_public_key_der().unwrap();
    let pkcs1_der = public.to_pkcs1_der().unwrap();
    let spki_pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let pkcs1_pem = public.to_pkcs1_pem(LineEnding::CRLF).unwrap();
    assert!(spki_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    let parsed = [
        Key::from_public_key_der(spki_der.as_bytes()).unwrap(),
        Key::from_public_key_der(pkcs1_der.as_bytes()).unwrap(),
        Key::from_public_key_pem(spki_pem.as_bytes()).unwrap(),
        Key::from_public_key_pem(pkcs1_pem.as_bytes()).unwrap(),
        Key::from_public_key(spki_pem.as_bytes()).unwrap(),
        Key::from_public_key(pkcs1_der.as_bytes()).unwrap(),
    ];
    let message = b"header.payload";
    let signature = rsa_sign(&private, message);
    for key in &parsed {
        assert_eq!(key.algorithm(), Algorithm::RS256);
        assert_eq!(expect_rsa(key), &expected);
        assert_eq!(key.verify_signature(message, &signature), Ok(()));
        assert_eq!(
            key.verify_signature(b"header.payloaD", &signature),
            Err(JwtError::InvalidSignature)
        );
    }
}

#[test]
fn rsa_signatures_from_the_rsa_crate_verify_with_exponent_3() {
    let private =
        rsa::RsaPrivateKey::new_with_exp(&mut TestRng(2), 2048, rsa::BoxedUint::from(3u64))
            .unwrap();
    let key = Key::from_public_key_der(
        private
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(expect_rsa(&key).exponent(), 3);
    for message in [&b""[..], b"a", &[0x5a; 1000]] {
        let signature = rsa_sign(&private, message);
        assert_eq!(key.verify_signature(message, &signature), Ok(()));
    }
}

#[test]
fn rsa_key_below_2048_bits_is_unsupported_in_every_encoding() {
    let public = rsa_key(1024, 3).to_public_key();
    let spki_pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let pkcs1_pem = public.to_pkcs1_pem(LineEnding::LF).unwrap();
    for result in [
        Key::from_public_key_der(public.to_public_key_der().unwrap().as_bytes()),
        Key::from_public_key_der(public.to_pkcs1_der().unwrap().as_bytes()),
        Key::from_public_key_pem(spki_pem.as_bytes()),
        Key::from_public_key_pem(pkcs1_pem.as_bytes()),
    ] {
        assert_eq!(result.unwrap_err(), KeyError::UnsupportedKeySize);
    }
}

#[test]
fn private_keys_are_refused_as_unsupported_key_type() {
    let rsa_private = rsa_key(2048, 4);
    let p256_private = p256_key();
    let secret_key = p256::SecretKey::from_slice(&[0x42; 32]).unwrap();
    let ders: [Vec<u8>; 4] = [
        rsa_private.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        rsa_private.to_pkcs8_der().unwrap().as_bytes().to_vec(),
        p256_private.to_pkcs8_der().unwrap().as_bytes().to_vec(),
        secret_key.to_sec1_der().unwrap().to_vec(),
    ];
    for der in &ders {
        assert_eq!(
            Key::from_public_key_der(der).unwrap_err(),
            KeyError::UnsupportedKeyType
        );
        assert!(looks_like_public_key(der));
    }
    let pems: [String; 3] = [
        String::from(rsa_private.to_pkcs1_pem(LineEnding::LF).unwrap().as_str()),
        String::from(rsa_private.to_pkcs8_pem(LineEnding::LF).unwrap().as_str()),
        String::from(secret_key.to_sec1_pem(LineEnding::LF).unwrap().as_str()),
    ];
    for pem in &pems {
        assert_eq!(
            Key::from_public_key_pem(pem.as_bytes()).unwrap_err(),
            KeyError::UnsupportedKeyType
        );
    }
}

#[test]
fn p256_spki_in_der_and_pem_parses_and_verifies() {
    let signing = p256_key();
    let verifying = signing.verifying_key();
    let der = verifying.to_public_key_der().unwrap();
    let pem = verifying.to_public_key_pem(LineEnding::LF).unwrap();
    let expected = Es256PublicKey::from_sec1(&verifying.to_sec1_bytes()).unwrap();
    let message = b"header.payload";
    let signature: p256::ecdsa::Signature = signing.sign(message);
    for key in [
        Key::from_public_key_der(der.as_bytes()).unwrap(),
        Key::from_public_key_pem(pem.as_bytes()).unwrap(),
        Key::from_public_key(der.as_bytes()).unwrap(),
    ] {
        assert_eq!(key.algorithm(), Algorithm::ES256);
        assert_eq!(expect_es256(&key), &expected);
        assert_eq!(key.verify_signature(message, &signature.to_bytes()), Ok(()));
        assert_eq!(
            key.verify_signature(message, signature.to_der().as_bytes()),
            Err(JwtError::InvalidSignature)
        );
    }
}

/// `SEQUENCE { SEQUENCE { algorithm, parameters }, BIT STRING { 00 ‖ key } }`
fn spki(algorithm_and_parameters: &[u8], key: &[u8]) -> Vec<u8> {
    let mut algorithm = vec![0x30, algorithm_and_parameters.len() as u8];
    algorithm.extend_from_slice(algorithm_and_parameters);
    let mut bit_string = vec![0x03, key.len() as u8 + 1, 0x00];
    bit_string.extend_from_slice(key);
    let mut out = vec![0x30, (algorithm.len() + bit_string.len()) as u8];
    out.extend_from_slice(&algorithm);
    out.extend_from_slice(&bit_string);
    out
}

/// `SEQUENCE { contents }` with a minimal length of up to two octets.
fn sequence(contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = match len {
        0..=0x7f => vec![0x30, len as u8],
        0x80..=0xff => vec![0x30, 0x81, len as u8],
        _ => vec![0x30, 0x82, (len >> 8) as u8, len as u8],
    };
    out.extend_from_slice(contents);
    out
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_PRIME256V1: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_SECP384R1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

fn p256_point() -> Vec<u8> {
    p256_key()
        .verifying_key()
        .to_sec1_point(false)
        .as_bytes()
        .to_vec()
}

#[test]
fn hand_built_p256_spki_parses() {
    let der = spki(&[OID_EC_PUBLIC_KEY, OID_PRIME256V1].concat(), &p256_point());
    assert_eq!(
        Key::from_public_key_der(&der).unwrap().algorithm(),
        Algorithm::ES256
    );
}

#[test]
fn other_curves_and_algorithms_are_unsupported_key_types() {
    let ed25519 = spki(OID_ED25519, &[0x11; 32]);
    let p384 = spki(&[OID_EC_PUBLIC_KEY, OID_SECP384R1].concat(), &[0x04; 97]);
    let explicit_curve = spki(&[OID_EC_PUBLIC_KEY, &[0x30, 0x00]].concat(), &p256_point());
    let rsa_pss = spki(
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
        ],
        &[0x30, 0x00],
    );
    for der in [&ed25519, &p384, &explicit_curve, &rsa_pss] {
        assert_eq!(
            Key::from_public_key_der(der).unwrap_err(),
            KeyError::UnsupportedKeyType
        );
        assert!(looks_like_public_key(der), "{der:02x?}");
    }
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64(&[1u8, 2, 3])
    );
    assert_eq!(
        Key::from_public_key_pem(pem.as_bytes()).unwrap_err(),
        KeyError::UnsupportedKeyType
    );
}

#[test]
fn certificate_shaped_der_is_an_unsupported_key_type() {
    let signature_algorithm = [
        0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
    ];
    let p256_spki = spki(&[OID_EC_PUBLIC_KEY, OID_PRIME256V1].concat(), &p256_point());
    for version in [&[0xa0, 0x03, 0x02, 0x01, 0x02][..], &[0x02, 0x01, 0x07]] {
        // tbsCertificate, abridged to a version or serial, an algorithm and a key.
        let tbs = sequence(&[version, &signature_algorithm[..], &p256_spki].concat());
        let certificate = sequence(
            &[
                &tbs[..],
                &signature_algorithm,
                &[0x03, 0x03, 0x00, 0xaa, 0xbb],
            ]
            .concat(),
        );
        assert_eq!(
            Key::from_public_key_der(&certificate).unwrap_err(),
            KeyError::UnsupportedKeyType
        );
        assert!(looks_like_public_key(&certificate));
    }
}

#[test]
fn p256_spki_with_invalid_point_is_invalid_key() {
    let mut point = p256_point();
    point[64] ^= 1;
    let der = spki(&[OID_EC_PUBLIC_KEY, OID_PRIME256V1].concat(), &point);
    assert_eq!(
        Key::from_public_key_der(&der).unwrap_err(),
        KeyError::InvalidKey
    );
}

#[test]
fn rsa_spki_requires_null_parameters() {
    let public = rsa_key(2048, 1).to_public_key();
    let pkcs1 = public.to_pkcs1_der().unwrap();
    let rsa_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    // Lengths exceed one byte, so build with long-form lengths by hand.
    let build = |parameters: &[u8]| {
        let mut algorithm = vec![0x30, (rsa_oid.len() + parameters.len()) as u8];
        algorithm.extend_from_slice(&rsa_oid);
        algorithm.extend_from_slice(parameters);
        let key = pkcs1.as_bytes();
        let bit_len = key.len() + 1;
        let mut bit_string = vec![0x03, 0x82, (bit_len >> 8) as u8, bit_len as u8, 0x00];
        bit_string.extend_from_slice(key);
        let body_len = algorithm.len() + bit_string.len();
        let mut out = vec![0x30, 0x82, (body_len >> 8) as u8, body_len as u8];
        out.extend_from_slice(&algorithm);
        out.extend_from_slice(&bit_string);
        out
    };
    assert_eq!(
        build(&[0x05, 0x00]),
        public.to_public_key_der().unwrap().as_bytes()
    );
    assert!(Key::from_public_key_der(&build(&[0x05, 0x00])).is_ok());
    assert_eq!(
        Key::from_public_key_der(&build(&[])).unwrap_err(),
        KeyError::Malformed
    );
    assert_eq!(
        Key::from_public_key_der(&build(&[0x05, 0x00, 0x05, 0x00])).unwrap_err(),
        KeyError::Malformed
    );
}

#[test]
fn negative_modulus_is_invalid_key() {
    // SEQUENCE { INTEGER -1…, INTEGER 3 }
    let mut der = vec![0x30, 0x82, 0x01, 0x07, 0x02, 0x82, 0x01, 0x00];
    der.extend_from_slice(&[0xff; 256]);
    der.extend_from_slice(&[0x02, 0x01, 0x03]);
    assert_eq!(
        Key::from_public_key_der(&der).unwrap_err(),
        KeyError::InvalidKey
    );
}

#[test]
fn truncated_trailing_and_garbage_der_never_panics_and_is_refused() {
    let rsa = rsa_key(2048, 1).to_public_key();
    let inputs: [Vec<u8>; 3] = [
        rsa.to_public_key_der().unwrap().as_bytes().to_vec(),
        rsa.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        p256_key()
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec(),
    ];
    for der in &inputs {
        assert!(Key::from_public_key_der(der).is_ok());
        for len in 0..der.len() {
            assert!(Key::from_public_key_der(&der[..len]).is_err(), "len {len}");
        }
        for trailing in [&[0x00][..], &[0x05, 0x00], b"\n"] {
            let mut longer = der.clone();
            longer.extend_from_slice(trailing);
            assert_eq!(
                Key::from_public_key_der(&longer).unwrap_err(),
                KeyError::Malformed
            );
        }
        // Flip every bit of the headers and a sample of the body: whatever the result,
        // no panic, and a changed structure is never silently accepted as the same key.
        let original = Key::from_public_key_der(der).unwrap();
        for index in 0..der.len() {
            for bit in 0..8 {
                let mut mutated = der.clone();
                mutated[index] ^= 1 << bit;
                if let Ok(key) = Key::from_public_key_der(&mutated) {
                    assert_ne!(format!("{key:?}"), format!("{original:?}"));
                }
            }
        }
    }
    let mut state = TestRng(99);
    for len in [0usize, 1, 2, 3, 16, 64, 300, 600] {
        for _ in 0..200 {
            let mut garbage = vec![0u8; len];
            rand_core::TryRng::try_fill_bytes(&mut state, &mut garbage).unwrap();
            if let Some(first) = garbage.first_mut() {
                *first = 0x30;
            }
            let _ = Key::from_public_key_der(&garbage);
            let _ = Key::from_public_key_pem(&garbage);
            let _ = looks_like_public_key(&garbage);
        }
    }
}

#[test]
fn pem_body_must_match_its_label() {
    let public = rsa_key(2048, 1).to_public_key();
    let spki_pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let swapped = spki_pem.replace("PUBLIC KEY", "RSA PUBLIC KEY");
    assert_eq!(
        Key::from_public_key_pem(swapped.as_bytes()).unwrap_err(),
        KeyError::Malformed
    );
}

#[test]
fn pem_with_unwrapped_or_odd_line_lengths_parses() {
    let der = p256_key().verifying_key().to_public_key_der().unwrap();
    let body = base64(der.as_bytes());
    let one_line = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----");
    let mut wrapped = String::from("-----BEGIN PUBLIC KEY-----\r\n");
    for chunk in body.as_bytes().chunks(13) {
        wrapped.push_str(core::str::from_utf8(chunk).unwrap());
        wrapped.push_str("\r\n");
    }
    wrapped.push_str("-----END PUBLIC KEY-----\r\n");
    for pem in [one_line, wrapped] {
        assert_eq!(
            Key::from_public_key_pem(pem.as_bytes())
                .unwrap()
                .algorithm(),
            Algorithm::ES256
        );
    }
}

#[test]
fn pem_too_large_for_any_supported_key_is_unsupported_size() {
    let body = "A".repeat(PEM_SCRATCH_LEN);
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
    assert_eq!(
        Key::from_public_key_pem(pem.as_bytes()).unwrap_err(),
        KeyError::UnsupportedKeySize
    );
}

#[test]
fn public_keys_in_every_form_look_like_public_keys() {
    let rsa = rsa_key(2048, 1).to_public_key();
    let p256 = p256_key();
    let spki_der = rsa.to_public_key_der().unwrap().as_bytes().to_vec();
    let mut spki_der_newline = spki_der.clone();
    spki_der_newline.push(b'\n');
    let forms: [Vec<u8>; 8] = [
        spki_der,
        spki_der_newline,
        rsa.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        rsa.to_public_key_pem(LineEnding::LF).unwrap().into_bytes(),
        p256.verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec(),
        b"  \n-----BEGIN ANYTHING-----".to_vec(),
        br#"{"kty":"EC","crv":"P-256","x":"..","y":".."}"#.to_vec(),
        b"\n { \"keys\": [] }\n".to_vec(),
    ];
    for form in &forms {
        assert!(looks_like_public_key(form), "{form:02x?}");
        assert_eq!(
            Hs256Secret::new(form).unwrap_err(),
            KeyError::SecretLooksLikePublicKey
        );
    }
}

#[test]
fn ordinary_secrets_do_not_look_like_public_keys() {
    let mut random = [0u8; 32];
    rand_core::TryRng::try_fill_bytes(&mut TestRng(7), &mut random).unwrap();
    let mut brace_led = random;
    brace_led[0] = b'{';
    for secret in [
        &b"your-256-bit-secret"[..],
        b"{not json",
        b"-----not pem",
        &random,
        &brace_led,
        &[0x30, 0x03, 0x02, 0x01, 0x05],
    ] {
        assert!(!looks_like_public_key(secret), "{secret:02x?}");
        assert!(Hs256Secret::new(secret).is_ok());
    }
}

#[test]
fn key_sizes_stay_small() {
    // A key set holds several keys; these bounds catch an accidental blow-up (such as
    // caching 4096-bit Montgomery parameters, about 1.6 KB, in every RSA key).
    assert!(
        size_of::<Rs256PublicKey>() <= 544,
        "{}",
        size_of::<Rs256PublicKey>()
    );
    assert!(
        size_of::<Es256PublicKey>() <= 128,
        "{}",
        size_of::<Es256PublicKey>()
    );
    assert!(size_of::<Key>() <= 544, "{}", size_of::<Key>());
}
