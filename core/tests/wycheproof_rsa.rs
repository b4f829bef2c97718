//! Wycheproof RSASSA-PKCS1-v1_5 / SHA-256 vectors through the public RS256 API.
//!
//! `acceptable` cases: each file has one, "Missing NULL in the ASN encoding" (a
//! `DigestInfo` whose `AlgorithmIdentifier` omits the NULL parameters). We **reject** it:
//! verification compares the decrypted block with the single encoding RFC 8017 §9.2
//! produces (NULL present), so exactly one signature value verifies per message, and no
//! parser of the decrypted block exists to be lenient. BoringSSL, Go and ring do the same.
//!
//! Key sizes: every key in the 2048 file is supported, those of the 3072 and 4096 files
//! when the `rs256-3072`/`rs256-4096` features allow them (and are refused when the key is
//! built otherwise); the 8192-bit file checks that larger keys are always refused.

#![cfg(feature = "rs256")]

use tollgate::jwt::alg::rs256::Rs256PublicKey;
use tollgate::jwt::error::{JwtError, KeyError};
use tollgate::jwt::key::Key;
use wycheproof::TestResult;
use wycheproof::rsa_pkcs1_verify::{TestGroup, TestName, TestSet};

fn rs256(key: Key) -> Rs256PublicKey {
    match key {
        Key::Rs256(key) => key,
        other => panic!("expected an RSA key, got {other:?}"),
    }
}

/// Builds the group key from each encoding Wycheproof supplies and checks they agree.
fn group_key(group: &TestGroup) -> Result<Rs256PublicKey, KeyError> {
    let from_components = Rs256PublicKey::from_components(&group.key.n, &group.key.e);
    let from_spki = Key::from_public_key_der(&group.der).map(rs256);
    let from_pkcs1 = Key::from_public_key_der(&group.asn_key).map(rs256);
    let from_pem = Key::from_public_key_pem(group.pem.as_bytes()).map(rs256);
    assert_eq!(from_spki, from_components);
    assert_eq!(from_pkcs1, from_components);
    assert_eq!(from_pem, from_components);
    if let Some(jwk) = &group.jwk {
        assert_eq!(
            Rs256PublicKey::from_components(&jwk.n, &jwk.e),
            from_components
        );
    }
    from_components
}

fn run(name: TestName, bits: u32) {
    let set = TestSet::load(name).unwrap();
    let (mut passed, mut acceptable_rejected) = (0, 0);
    for group in &set.test_groups {
        assert_eq!(group.key_size, bits as usize);
        let key = group_key(group).unwrap();
        assert_eq!(key.modulus_bits(), bits);
        for test in &group.tests {
            let result = key.verify(&test.msg, &test.sig);
            let context = format!(
                "{name:?} tcId {} ({}) {:?}",
                test.tc_id, test.comment, test.flags
            );
            match test.result {
                TestResult::Valid => assert_eq!(result, Ok(()), "{context}"),
                TestResult::Invalid => {
                    assert_eq!(result, Err(JwtError::InvalidSignature), "{context}")
                }
                TestResult::Acceptable => {
                    assert_eq!(result, Err(JwtError::InvalidSignature), "{context}");
                    acceptable_rejected += 1;
                }
            }
            passed += 1;
        }
    }
    assert_eq!(passed, set.number_of_tests);
    eprintln!(
        "{name:?}: {passed}/{} passed ({acceptable_rejected} acceptable, rejected)",
        set.number_of_tests
    );
}

#[test]
fn wycheproof_rsa_signature_2048_sha256() {
    run(TestName::Rsa2048Sha256, 2048);
}

#[cfg(any(feature = "rs256-3072", feature = "rs256-4096"))]
#[test]
fn wycheproof_rsa_signature_3072_sha256() {
    run(TestName::Rsa3072Sha256, 3072);
}

#[cfg(feature = "rs256-4096")]
#[test]
fn wycheproof_rsa_signature_4096_sha256() {
    run(TestName::Rsa4096Sha256, 4096);
}

fn refused_at_construction(name: TestName) {
    let set = TestSet::load(name).unwrap();
    assert!(!set.test_groups.is_empty());
    for group in &set.test_groups {
        assert_eq!(group_key(group), Err(KeyError::UnsupportedKeySize));
    }
}

#[cfg(not(any(feature = "rs256-3072", feature = "rs256-4096")))]
#[test]
fn wycheproof_rsa_3072_keys_are_refused_without_their_feature() {
    refused_at_construction(TestName::Rsa3072Sha256);
}

#[cfg(not(feature = "rs256-4096"))]
#[test]
fn wycheproof_rsa_4096_keys_are_refused_without_their_feature() {
    refused_at_construction(TestName::Rsa4096Sha256);
}

#[test]
fn wycheproof_rsa_8192_keys_are_refused_at_construction() {
    refused_at_construction(TestName::Rsa8192Sha256);
}

/// A signature over another hash's `DigestInfo` never verifies as RS256, except the
/// `WrongHash` cases whose message really was signed with SHA-256: those must verify.
#[test]
fn wycheproof_signatures_over_other_hashes_never_verify_as_rs256() {
    let mut sha256_cases = 0;
    for name in [
        TestName::Rsa2048Sha384,
        TestName::Rsa2048Sha512,
        TestName::Rsa2048Sha224,
    ] {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let key = group_key(group).unwrap();
            for test in &group.tests {
                let result = key.verify(&test.msg, &test.sig);
                let context = format!("{name:?} tcId {} ({})", test.tc_id, test.comment);
                if test.comment.contains("hashed with SHA-256 instead") {
                    assert_eq!(result, Ok(()), "{context}");
                    sha256_cases += 1;
                } else {
                    assert_eq!(result, Err(JwtError::InvalidSignature), "{context}");
                }
            }
        }
    }
    assert!(sha256_cases > 0);
}
