"""Signs and verifies JWTs with PyJWT, for tollgate's interop tests.

    python interop.py sign   ALG KEYFILE CLAIMS_JSON [HEADER_JSON]   -> prints the token
    python interop.py verify ALG KEYFILE TOKEN [OPTIONS_JSON]        -> prints {"valid":..}

KEYFILE holds the HMAC secret's exact bytes (HS256) or a PEM key: a private key for
signing, a public key for verifying. OPTIONS_JSON: {"issuer": "...", "audience": "..."}
(checked against the system clock). Verification results always exit 0; `error` names PyJWT's exception class.
"""

import json
import sys

import jwt


def sign(alg, keyfile, claims_json, header_json=None):
    with open(keyfile, "rb") as f:
        key = f.read()
    headers = json.loads(header_json) if header_json else None
    return jwt.encode(json.loads(claims_json), key, algorithm=alg, headers=headers)


def verify(alg, keyfile, token, options_json=None):
    with open(keyfile, "rb") as f:
        key = f.read()
    options = json.loads(options_json) if options_json else {}
    kwargs = {"algorithms": [alg]}
    if "issuer" in options:
        kwargs["issuer"] = options["issuer"]
    if "audience" in options:
        kwargs["audience"] = options["audience"]
    else:
        kwargs["options"] = {"verify_aud": False}
    try:
        claims = jwt.decode(token, key, **kwargs)
        return {"valid": True, "claims": claims}
    except jwt.PyJWTError as err:
        return {"valid": False, "error": type(err).__name__, "message": str(err)}


def main(argv):
    command, rest = argv[1], argv[2:]
    if command == "sign":
        print(sign(*rest))
    elif command == "verify":
        print(json.dumps(verify(*rest)))
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
