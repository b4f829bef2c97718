//! OpenID Connect Discovery 1.0: from an issuer URL to its `jwks_uri`.

use serde::Deserialize;

use super::error::JwksError;
use super::remote::{JwksConfig, checked_url, client, get};

/// What tollgate takes from an OpenID provider's configuration document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// The issuer, identical to the configured one (the value `iss` must have).
    pub issuer: String,
    /// Where the provider publishes its JWK Set.
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct Document {
    issuer: String,
    jwks_uri: String,
}

/// The configuration document's URL: the issuer without a trailing `/`, then
/// `/.well-known/openid-configuration` (Discovery §4).
fn configuration_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Reads `{issuer}/.well-known/openid-configuration` and returns its `jwks_uri`.
///
/// The document's `issuer` must equal `issuer` exactly (Discovery §4.3), so a
/// configuration served for another issuer is refused, and `jwks_uri` must be an
/// acceptable URL (`https://`, or `http://` to a loopback host).
///
/// # Errors
/// [`JwksError::InvalidUrl`] for the issuer or the `jwks_uri`, the fetch errors,
/// [`JwksError::Discovery`] when the document lacks string `issuer`/`jwks_uri`,
/// [`JwksError::IssuerMismatch`].
pub async fn discover(issuer: &str, config: &JwksConfig) -> Result<Discovery, JwksError> {
    checked_url(issuer)?;
    let url = checked_url(&configuration_url(issuer))?;
    let (_headers, body) = get(&client(config, &url)?, &url, config.max_document_bytes).await?;
    let document: Document =
        serde_json::from_slice(&body).map_err(|e| JwksError::Discovery(e.to_string()))?;
    if document.issuer != issuer {
        return Err(JwksError::IssuerMismatch {
            expected: issuer.to_owned(),
            found: document.issuer,
        });
    }
    checked_url(&document.jwks_uri)?;
    Ok(Discovery {
        issuer: document.issuer,
        jwks_uri: document.jwks_uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_url_drops_one_trailing_slash_of_the_issuer() {
        assert_eq!(
            configuration_url("https://login.example.com/"),
            "https://login.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            configuration_url("https://example.com/realms/chat"),
            "https://example.com/realms/chat/.well-known/openid-configuration"
        );
    }
}
