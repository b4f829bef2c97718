// Signs and verifies JWTs with Node's `jsonwebtoken` and `jose`, for tollgate's interop tests.
//
//   node interop.mjs sign   LIB ALG KEYFILE CLAIMS_JSON [HEADER_JSON]   -> prints the token
//   node interop.mjs verify LIB ALG KEYFILE TOKEN [OPTIONS_JSON]        -> prints {"valid":..}
//   node interop.mjs jwk    KEYFILE KID ALG                              -> prints a public JWK
//
// LIB is `jsonwebtoken` or `jose`. KEYFILE holds the HMAC secret's exact bytes (HS256) or a
// PEM key: PKCS#8 private key for signing, SPKI public key for verifying.
// OPTIONS_JSON: {"issuer": "...", "audience": "...", "now": UNIX}.
// Verification results always exit 0; `error` names the library's own error class/code.
import { readFileSync } from "node:fs";
import { createPrivateKey, createPublicKey, createSecretKey } from "node:crypto";
import jsonwebtoken from "jsonwebtoken";
import * as jose from "jose";

const [command, ...rest] = process.argv.slice(2);

function keyFor(alg, file, usage) {
  const bytes = readFileSync(file);
  if (alg === "HS256") return createSecretKey(bytes);
  return usage === "sign" ? createPrivateKey(bytes) : createPublicKey(bytes);
}

async function sign(lib, alg, file, claimsJson, headerJson) {
  const claims = JSON.parse(claimsJson);
  const header = headerJson ? JSON.parse(headerJson) : {};
  const key = keyFor(alg, file, "sign");
  if (lib === "jsonwebtoken") {
    // noTimestamp: the claims given are used exactly (iat included by the caller).
    return jsonwebtoken.sign(claims, key, { algorithm: alg, header: { ...header, alg }, noTimestamp: true });
  }
  return new jose.SignJWT(claims).setProtectedHeader({ typ: "JWT", ...header, alg }).sign(key);
}

async function verify(lib, alg, file, token, optionsJson) {
  const options = optionsJson ? JSON.parse(optionsJson) : {};
  const key = keyFor(alg, file, "verify");
  try {
    let claims;
    if (lib === "jsonwebtoken") {
      claims = jsonwebtoken.verify(token, key, {
        algorithms: [alg],
        issuer: options.issuer,
        audience: options.audience,
        clockTimestamp: options.now,
      });
    } else {
      const result = await jose.jwtVerify(token, key, {
        algorithms: [alg],
        issuer: options.issuer,
        audience: options.audience,
        currentDate: options.now === undefined ? undefined : new Date(options.now * 1000),
      });
      claims = result.payload;
    }
    return { valid: true, claims };
  } catch (err) {
    return { valid: false, error: err.code ?? err.name, message: String(err.message) };
  }
}

async function jwk(file, kid, alg) {
  const exported = await jose.exportJWK(createPublicKey(readFileSync(file)));
  return JSON.stringify({ ...exported, kid, alg, use: "sig" });
}

try {
  if (command === "sign") {
    process.stdout.write((await sign(...rest)) + "\n");
  } else if (command === "verify") {
    process.stdout.write(JSON.stringify(await verify(...rest)) + "\n");
  } else if (command === "jwk") {
    process.stdout.write((await jwk(...rest)) + "\n");
  } else {
    process.stderr.write(`unknown command ${command}\n`);
    process.exit(2);
  }
} catch (err) {
  process.stderr.write(`interop.mjs: ${err.stack ?? err}\n`);
  process.exit(2);
}
