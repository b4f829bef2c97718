//! The shapes of DER key files: `SubjectPublicKeyInfo` (RFC 5280 §4.1), PKCS#1
//! `RSAPublicKey` (RFC 8017 §A.1.1), and just enough of the private-key formats
//! (PKCS#8, PKCS#1, SEC1) to name them and refuse them.

use super::der::{self, Reader};
use crate::jwt::error::KeyError;

/// `rsaEncryption` (1.2.840.113549.1.1.1), contents octets.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// `id-ecPublicKey` (1.2.840.10045.2.1), contents octets.
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `prime256v1` / `secp256r1` (1.2.840.10045.3.1.7), contents octets.
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// Tag of an explicit `[0]` (the version of a `tbsCertificate`).
const CONTEXT_0_CONSTRUCTED: u8 = 0xa0;
/// A complete DER `NULL`.
const NULL_ELEMENT: &[u8] = &[der::NULL, 0x00];

/// What a DER key file holds, with borrowed key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DerKey<'a> {
    /// An RSA public key: big-endian magnitudes of the modulus and exponent.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// A P-256 public key: the SEC1 point octets.
    P256 { point: &'a [u8] },
    /// A well-formed `SubjectPublicKeyInfo` for an algorithm or curve tollgate does not implement.
    OtherPublic,
    /// A PKCS#8, PKCS#1 or SEC1 private key.
    Private,
    /// An X.509 certificate: it carries a public key, but certificates are not accepted
    /// as keys (nothing here checks their validity or chain).
    Certificate,
}

/// Any DER key: `SubjectPublicKeyInfo`, `RSAPublicKey`, a private key, or a certificate.
pub(crate) fn parse_any(der: &[u8]) -> Result<DerKey<'_>, KeyError> {
    Reader::read_all(der, |outer| {
        outer.read_nested(der::SEQUENCE, |body| match body.peek_tag() {
            Some(der::SEQUENCE) => spki_or_certificate_body(body),
            Some(der::INTEGER) => integer_led_body(body),
            _ => Err(KeyError::Malformed),
        })
    })
}

/// A `SubjectPublicKeyInfo`, and nothing else.
pub(crate) fn parse_spki(der: &[u8]) -> Result<DerKey<'_>, KeyError> {
    Reader::read_all(der, |outer| outer.read_nested(der::SEQUENCE, spki_body))
}

/// A PKCS#1 `RSAPublicKey`, and nothing else.
pub(crate) fn parse_rsa_public_key(der: &[u8]) -> Result<DerKey<'_>, KeyError> {
    Reader::read_all(der, |outer| {
        outer.read_nested(der::SEQUENCE, rsa_public_key_body)
    })
}

/// A `SubjectPublicKeyInfo` starts `SEQUENCE { OID …`; a certificate's `tbsCertificate`
/// starts with its `[0]` version or, in version 1, the serial number `INTEGER`.
fn spki_or_certificate_body<'a>(body: &mut Reader<'a>) -> Result<DerKey<'a>, KeyError> {
    let mut lookahead = *body;
    let first = lookahead.read(der::SEQUENCE)?;
    if matches!(first.first(), Some(&(CONTEXT_0_CONSTRUCTED | der::INTEGER))) {
        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
        body.read(der::SEQUENCE)?;
        body.read(der::SEQUENCE)?;
        body.read(der::BIT_STRING)?;
        return Ok(DerKey::Certificate);
    }
    spki_body(body)
}

/// `SEQUENCE { AlgorithmIdentifier, BIT STRING }`, after the outer tag and length.
fn spki_body<'a>(body: &mut Reader<'a>) -> Result<DerKey<'a>, KeyError> {
    let (algorithm, parameters) = body.read_nested(der::SEQUENCE, |algorithm_identifier| {
        let algorithm = algorithm_identifier.read(der::OBJECT_IDENTIFIER)?;
        let parameters = algorithm_identifier.remaining();
        // `parameters ANY OPTIONAL`: absent or exactly one element.
        if !algorithm_identifier.is_empty() {
            algorithm_identifier.read_any()?;
        }
        Ok((algorithm, parameters))
    })?;
    let subject_public_key = body.read_octet_aligned_bit_string()?;
    match algorithm {
        RSA_ENCRYPTION => {
            // RFC 3279 §2.3.1: the parameters field MUST be NULL.
            if parameters != NULL_ELEMENT {
                return Err(KeyError::Malformed);
            }
            Reader::read_all(subject_public_key, |inner| {
                inner.read_nested(der::SEQUENCE, rsa_public_key_body)
            })
        }
        EC_PUBLIC_KEY => {
            // RFC 5480 §2.1.1: namedCurve is the only form in use; explicit curve
            // parameters (or implicitCA) are refused like any other curve.
            let mut parameters = Reader::new(parameters);
            let named_curve = match parameters.peek_tag() {
                Some(der::OBJECT_IDENTIFIER) => parameters.read(der::OBJECT_IDENTIFIER)?,
                _ => return Ok(DerKey::OtherPublic),
            };
            if named_curve == PRIME256V1 {
                Ok(DerKey::P256 {
                    point: subject_public_key,
                })
            } else {
                Ok(DerKey::OtherPublic)
            }
        }
        _ => Ok(DerKey::OtherPublic),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, after the
/// outer tag and length.
fn rsa_public_key_body<'a>(body: &mut Reader<'a>) -> Result<DerKey<'a>, KeyError> {
    let n = body.read_unsigned_integer()?;
    let e = body.read_unsigned_integer()?;
    Ok(DerKey::Rsa { n, e })
}

/// A SEQUENCE that starts with an INTEGER: a PKCS#1 public key (exactly two integers),
/// or a private key whose first element is its version, 0 or 1:
/// PKCS#8 `{ version, AlgorithmIdentifier, OCTET STRING, … }`,
/// PKCS#1 `{ version, n, e, d, p, q, … }`, SEC1 `{ 1, OCTET STRING, … }`.
fn integer_led_body<'a>(body: &mut Reader<'a>) -> Result<DerKey<'a>, KeyError> {
    let mut lookahead = *body;
    let first = lookahead.read(der::INTEGER)?;
    let second_tag = lookahead.peek_tag();
    lookahead.read_any()?;
    if second_tag == Some(der::INTEGER) && lookahead.is_empty() {
        return rsa_public_key_body(body);
    }
    let is_version = matches!(first, [0x00] | [0x01]);
    let is_private_shape = matches!(
        second_tag,
        Some(der::SEQUENCE | der::INTEGER | der::OCTET_STRING)
    );
    if !(is_version && is_private_shape) {
        return Err(KeyError::Malformed);
    }
    body.skip_rest()?;
    Ok(DerKey::Private)
}
