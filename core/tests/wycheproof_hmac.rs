//! Wycheproof HMAC-SHA256 vectors through the public HS256 API.
//!
//! HS256 tags are always the full 32 bytes (RFC 7518 §3.2), so the groups with 128-bit
//! (truncated) tags are checked in two ways: `verify` must refuse every truncated tag,
//! valid or not, and the verdict itself is checked on the computed tag's prefix.
//! No key in the file looks like a public key, so every key is accepted.

#![cfg(feature = "hs256")]

use tollgate::jwt::alg::hs256::Hs256Secret;
use tollgate::jwt::error::JwtError;
use wycheproof::TestResult;
use wycheproof::mac::{TestName, TestSet};

#[test]
fn wycheproof_hmac_sha256() {
    let set = TestSet::load(TestName::HmacSha256).unwrap();
    let (mut passed, mut truncated) = (0, 0);
    for group in &set.test_groups {
        for test in &group.tests {
            let context = format!("tcId {} ({})", test.tc_id, test.comment);
            let secret = Hs256Secret::new(&test.key).unwrap();
            let computed = secret.sign(&test.msg);
            let tag_matches = computed.get(..test.tag.len()) == Some(&test.tag[..]);
            let expect_valid = match test.result {
                TestResult::Valid => true,
                TestResult::Invalid => false,
                TestResult::Acceptable => panic!("{context}: no acceptable cases expected"),
            };
            assert_eq!(tag_matches, expect_valid, "{context}");
            let verdict = secret.verify(&test.msg, &test.tag);
            if group.tag_size == 256 {
                assert_eq!(verdict.is_ok(), expect_valid, "{context}");
            } else {
                assert_eq!(verdict, Err(JwtError::InvalidSignature), "{context}");
                truncated += 1;
            }
            passed += 1;
        }
    }
    assert_eq!(passed, set.number_of_tests);
    eprintln!(
        "hmac_sha256: {passed}/{} passed ({truncated} truncated-tag cases refused by verify)",
        set.number_of_tests
    );
}
