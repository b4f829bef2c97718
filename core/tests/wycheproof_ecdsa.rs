//! Wycheproof ECDSA P-256 / SHA-256 vectors through the public ES256 API.
//!
//! The P1363 file carries signatures in the JWS form (raw `r ‖ s`); every verdict must
//! match. The file has no `acceptable` cases. The DER-signature file checks the other
//! side of the encoding rule: ES256 never accepts an ASN.1 signature, so all of its cases,
//! valid ones included, must be refused.

#![cfg(feature = "es256")]

use tollgate::jwt::alg::es256::Es256PublicKey;
use tollgate::jwt::error::{JwtError, KeyError};
use tollgate::jwt::key::{Algorithm, Key};
use wycheproof::TestResult;
use wycheproof::ecdsa::{TestName, TestSet};

fn es256(key: Key) -> Es256PublicKey {
    match key {
        Key::Es256(key) => key,
        other => panic!("expected a P-256 key, got {other:?}"),
    }
}

/// Builds the group key from each encoding Wycheproof supplies and checks they agree.
fn group_key(group: &wycheproof::ecdsa::TestGroup) -> Es256PublicKey {
    let from_sec1 = Es256PublicKey::from_sec1(&group.key.key).unwrap();
    let from_der = es256(Key::from_public_key_der(&group.der).unwrap());
    let from_pem = es256(Key::from_public_key_pem(group.pem.as_bytes()).unwrap());
    assert_eq!(from_der, from_sec1);
    assert_eq!(from_pem, from_sec1);
    if let Some(jwk) = &group.jwk {
        let from_jwk = Es256PublicKey::from_affine(&jwk.affine_x, &jwk.affine_y).unwrap();
        assert_eq!(from_jwk, from_sec1);
    }
    from_sec1
}

#[test]
fn wycheproof_ecdsa_secp256r1_sha256_p1363() {
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let mut passed = 0;
    let mut valid = 0;
    for group in &set.test_groups {
        let key = group_key(group);
        for test in &group.tests {
            let result = key.verify(&test.msg, &test.sig);
            match test.result {
                TestResult::Valid => {
                    assert_eq!(result, Ok(()), "tcId {} ({})", test.tc_id, test.comment);
                    valid += 1;
                }
                TestResult::Invalid => assert_eq!(
                    result,
                    Err(JwtError::InvalidSignature),
                    "tcId {} ({})",
                    test.tc_id,
                    test.comment
                ),
                TestResult::Acceptable => {
                    panic!("tcId {}: no acceptable cases expected", test.tc_id)
                }
            }
            passed += 1;
        }
    }
    assert_eq!(passed, set.number_of_tests);
    assert!(valid > 0);
    eprintln!(
        "ecdsa_secp256r1_sha256_p1363: {passed}/{} passed",
        set.number_of_tests
    );
}

#[test]
fn wycheproof_ecdsa_secp256r1_sha256_der_signatures_are_all_refused() {
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256).unwrap();
    let mut refused = 0;
    for group in &set.test_groups {
        let key = group_key(group);
        for test in &group.tests {
            assert_eq!(
                key.verify(&test.msg, &test.sig),
                Err(JwtError::InvalidSignature),
                "tcId {} ({})",
                test.tc_id,
                test.comment
            );
            refused += 1;
        }
    }
    assert_eq!(refused, set.number_of_tests);
    eprintln!(
        "ecdsa_secp256r1_sha256 (DER): {refused}/{} refused",
        set.number_of_tests
    );
}

#[test]
fn wycheproof_keys_on_other_curves_are_unsupported() {
    for name in [
        TestName::EcdsaSecp384r1Sha384P1363,
        TestName::EcdsaSecp521r1Sha512P1363,
        TestName::EcdsaSecp256k1Sha256P1363,
        TestName::EcdsaBrainpool256r1Sha256P1363,
    ] {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            assert_eq!(
                Key::from_public_key_der(&group.der).unwrap_err(),
                KeyError::UnsupportedKeyType,
                "{name:?}"
            );
            assert_eq!(
                Key::from_public_key_pem(group.pem.as_bytes()).unwrap_err(),
                KeyError::UnsupportedKeyType,
                "{name:?}"
            );
            assert!(tollgate::jwt::key::looks_like_public_key(&group.der));
        }
    }
}

#[test]
fn wycheproof_p256_keys_are_es256() {
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let group = &set.test_groups[0];
    let key = Key::from_public_key_der(&group.der).unwrap();
    assert_eq!(key.algorithm(), Algorithm::ES256);
}
