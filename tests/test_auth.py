"""Bearer-token verification: secret and JWKS, pinned algorithms, required claims."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from interview_service.auth import issue_token, verify_token
from interview_service.errors import Unauthorized

SECRET = "s" * 40
CONFIG = {
    "JWT_SECRET": SECRET,
    "JWT_ALGORITHMS_SECRET": ["HS256"],
    "JWT_ALGORITHMS_JWKS": ["RS256", "ES256"],
    "JWT_LEEWAY": 0,
}


def claims(**changes):
    now = datetime.now(UTC)
    base = {"sub": "alice", "iat": now, "exp": now + timedelta(minutes=5)}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def test_valid_secret_token_gives_its_subject():
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert verify_token(token, CONFIG)["sub"] == "alice"


@pytest.mark.parametrize(
    "token, reason, error_type",
    [
        (
            jwt.encode(claims(exp=datetime.now(UTC) - timedelta(minutes=1)), SECRET),
            "Token has expired",
            "token_expired",
        ),
        (jwt.encode(claims(exp=None), SECRET), "Invalid token", "invalid_token"),
        (jwt.encode(claims(sub=None), SECRET), "Invalid token", "invalid_token"),
        (jwt.encode(claims(sub=""), SECRET), "sub", "invalid_token"),
        (jwt.encode(claims(), "another-secret-" + "x" * 30), "Invalid token", "invalid_token"),
        (jwt.encode(claims(), SECRET * 2, algorithm="HS512"), "Invalid token", "invalid_token"),
        (jwt.encode(claims(), None, algorithm="none"), "Invalid token", "invalid_token"),
        ("not.a.token", "Invalid token", "invalid_token"),
    ],
    ids=["expired", "no-exp", "no-sub", "empty-sub", "bad-signature", "hs512", "none", "garbage"],
)
def test_bad_token_is_unauthorized(token, reason, error_type):
    with pytest.raises(Unauthorized, match=reason) as raised:
        verify_token(token, CONFIG)
    assert raised.value.type == error_type


@pytest.mark.parametrize(
    "token",
    [
        "not.a.token",
        "abc",
        jwt.encode(claims(), "another-secret-" + "x" * 30),
        jwt.encode(claims(), None, algorithm="none"),
    ],
    ids=["segments", "one-segment", "signature", "alg-none"],
)
def test_unauthorized_message_shows_no_decoder_internals(token):
    with pytest.raises(Unauthorized) as raised:
        verify_token(token, CONFIG)
    assert raised.value.message == "Invalid token"


def test_leeway_accepts_a_just_expired_token():
    token = jwt.encode(claims(exp=datetime.now(UTC) - timedelta(seconds=5)), SECRET)
    assert verify_token(token, {**CONFIG, "JWT_LEEWAY": 30})["sub"] == "alice"


def test_audience_and_issuer_are_checked_when_configured():
    config = {**CONFIG, "JWT_AUDIENCE": "interview-api", "JWT_ISSUER": "https://id.test"}
    good = jwt.encode(claims(aud="interview-api", iss="https://id.test"), SECRET)
    assert verify_token(good, config)["sub"] == "alice"
    for bad in (claims(aud="other", iss="https://id.test"), claims(aud="interview-api")):
        with pytest.raises(Unauthorized):
            verify_token(jwt.encode(bad, SECRET), config)


def test_issued_token_verifies_with_the_same_config():
    assert verify_token(issue_token("bob", CONFIG), CONFIG)["sub"] == "bob"


def test_issue_token_needs_a_secret():
    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        issue_token("bob", {**CONFIG, "JWT_SECRET": None})


@pytest.fixture
def jwks_keys():
    """An RSA and an EC key, published as a JWKS on a loopback HTTP server."""
    keys = {
        "rsa-1": (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        "ec-1": (ec.generate_private_key(ec.SECP256R1()), "ES256"),
    }
    document = {"keys": []}
    for kid, (key, algorithm) in keys.items():
        jwk = json.loads(
            jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(key.public_key())
        )
        document["keys"].append({**jwk, "kid": kid, "alg": algorithm, "use": "sig"})
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield keys, f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_jwks_token_verifies(jwks_keys, kid):
    keys, url = jwks_keys
    key, algorithm = keys[kid]
    token = jwt.encode(claims(), key, algorithm=algorithm, headers={"kid": kid})
    assert verify_token(token, {**CONFIG, "JWT_JWKS_URL": url})["sub"] == "alice"


def test_jwks_mode_refuses_a_secret_signed_token(jwks_keys):
    _, url = jwks_keys
    token = jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        verify_token(token, {**CONFIG, "JWT_JWKS_URL": url})


def test_issue_token_command_prints_a_valid_token(app, runner):
    result = runner.invoke(args=["issue-token", "carol"])
    assert result.exit_code == 0
    assert verify_token(result.output.strip(), app.config)["sub"] == "carol"


def test_init_db_command_creates_indexes(runner):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0
    assert "indexes ready" in result.output
