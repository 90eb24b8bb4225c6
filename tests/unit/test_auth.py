"""Bearer-token verification: secret and JWKS, pinned algorithms, required claims."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from interview_service.auth import (
    KEYS_RETRY_AFTER_SECONDS,
    MAX_SUB_CHARS,
    issue_token,
    verify_token,
)
from interview_service.errors import Unauthorized, Unavailable

SECRET = "s" * 40
CONFIG = {
    "JWT_SECRET": SECRET,
    "JWT_ALGORITHMS_SECRET": ["HS256"],
    "JWT_ALGORITHMS_JWKS": ["RS256", "ES256"],
    "JWT_LEEWAY": 0,
}


def claims(**changes):
    now = datetime.now(UTC)
    # Valid for an hour: the parameters below are signed when the tests are collected.
    base = {"sub": "alice", "iat": now, "exp": now + timedelta(hours=1)}
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
        (jwt.encode(claims(sub="\ud800"), SECRET), "sub", "invalid_token"),
        (jwt.encode(claims(sub="a\x00b"), SECRET), "sub", "invalid_token"),
        (jwt.encode(claims(sub="x" * (MAX_SUB_CHARS + 1)), SECRET), "sub", "invalid_token"),
        ("not.a.token", "Invalid token", "invalid_token"),
    ],
    ids=[
        "expired",
        "no-exp",
        "no-sub",
        "empty-sub",
        "bad-signature",
        "hs512",
        "none",
        "lone-surrogate-sub",
        "nul-in-sub",
        "overlong-sub",
        "garbage",
    ],
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


def test_longest_sub_is_accepted():
    token = jwt.encode(claims(sub="é" * MAX_SUB_CHARS), SECRET)
    assert verify_token(token, CONFIG)["sub"] == "é" * MAX_SUB_CHARS


@pytest.mark.parametrize("sub", ["\ud800", "a\x00b", "x" * (MAX_SUB_CHARS + 1)])
@pytest.mark.parametrize(
    "method, path",
    [("GET", "/api/interviews"), ("GET", "/api/sessions"), ("POST", "/api/sessions")],
)
def test_request_with_an_unusable_sub_answers_401(app, client, sub, method, path):
    token = jwt.encode(claims(sub=sub), app.config["JWT_SECRET"])
    response = client.open(
        path, method=method, json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.get_json()["success"] is False
    assert "sub must be" in response.get_json()["error"]


@pytest.mark.parametrize("anonymous", [True, False])
@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions?status=bogus",
        "/api/interviews?status=bogus",
        "/api/performances?sort=bogus",
        "/api/performance-stats?limit=0",
    ],
)
def test_invalid_query_without_token_answers_401_before_validation(app, client, anonymous, path):
    app.config["ALLOW_ANONYMOUS_SESSIONS"] = anonymous
    response = client.get(path)
    assert response.status_code == 401
    assert response.get_json()["type"] == "missing_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="interview-service"'


def test_every_protected_operation_documents_its_security_and_401(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    operations = {
        (path, method): operation
        for path, item in paths.items()
        if path.startswith("/api/")
        for method, operation in item.items()
        if method != "parameters"
    }
    assert len(operations) > 20
    for (path, method), operation in operations.items():
        assert "401" in operation["responses"], (path, method)
        assert {"bearerAuth": []} in operation["security"], (path, method)
    anonymous = {key for key, operation in operations.items() if {} in operation["security"]}
    assert ("/api/sessions", "post") in anonymous
    assert ("/api/sessions", "get") not in anonymous
    assert ("/api/interviews", "get") not in anonymous


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


class JWKSServer:
    """A JWKS on a loopback HTTP server whose published keys can change; counts its fetches."""

    def __init__(self, keys):
        self.keys = keys
        self.published = list(keys)
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.fetches += 1
                body = json.dumps(server.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/jwks.json"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def document(self):
        """The JWKS of the published keys."""
        keys = []
        for kid in self.published:
            key, algorithm = self.keys[kid]
            jwk = json.loads(
                jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(key.public_key())
            )
            keys.append({**jwk, "kid": kid, "alg": algorithm, "use": "sig"})
        return {"keys": keys}

    def token(self, kid, **changes):
        """A token signed with the key `kid` (published or not)."""
        key, algorithm = self.keys[kid]
        return jwt.encode(claims(**changes), key, algorithm=algorithm, headers={"kid": kid})

    def config(self, lifespan=300, cooldown=30):
        """A verification config on this JWKS."""
        return {
            **CONFIG,
            "JWT_JWKS_URL": self.url,
            "JWT_JWKS_LIFESPAN": lifespan,
            "JWT_JWKS_COOLDOWN": cooldown,
        }


@pytest.fixture
def jwks():
    """RSA and EC keys; `rsa-1` and `ec-1` published, `rsa-2` kept back for a rotation."""
    server = JWKSServer(
        {
            "rsa-1": (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
            "ec-1": (ec.generate_private_key(ec.SECP256R1()), "ES256"),
            "rsa-2": (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        }
    )
    server.published = ["rsa-1", "ec-1"]
    yield server
    server.http.shutdown()
    server.http.server_close()


def assert_refused(jwks, kid, config):
    """A token signed with `kid` is refused, the decoder's reason kept off the wire."""
    with pytest.raises(Unauthorized, match="Invalid token") as raised:
        verify_token(jwks.token(kid), config)
    assert kid in str(raised.value.__context__)


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
def test_jwks_token_verifies(jwks, kid):
    assert verify_token(jwks.token(kid), jwks.config())["sub"] == "alice"


def test_jwks_mode_refuses_a_secret_signed_token(jwks):
    token = jwt.encode(claims(), SECRET, algorithm="HS256", headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        verify_token(token, jwks.config())


def test_jwks_keys_are_fetched_once_within_the_lifespan(jwks):
    config = jwks.config(lifespan=600, cooldown=600)
    for kid in ["rsa-1", "ec-1", "rsa-1", "ec-1"]:
        assert verify_token(jwks.token(kid), config)["sub"] == "alice"
    assert jwks.fetches == 1


def republished(jwks, config, published, wait=0.0):
    """Verify an rsa-1 token (the keys are fetched), then publish `published`; wait `wait` s."""
    assert verify_token(jwks.token("rsa-1"), config)["sub"] == "alice"
    jwks.published = published
    time.sleep(wait)


def test_jwks_key_no_longer_published_is_refused_after_the_lifespan(jwks):
    config = jwks.config(lifespan=0.2, cooldown=0)
    republished(jwks, config, ["ec-1"], wait=0.3)  # past the lifespan: the next one fetches
    assert_refused(jwks, "rsa-1", config)
    assert verify_token(jwks.token("ec-1"), config)["sub"] == "alice"


def test_jwks_unknown_kids_fetch_again_at_most_once_per_cooldown(jwks):
    config = jwks.config(lifespan=600, cooldown=600)
    republished(jwks, config, ["rsa-1", "ec-1", "rsa-2"])
    for _ in range(20):
        assert_refused(jwks, "rsa-2", config)
    assert jwks.fetches == 1


def test_jwks_key_rotated_in_verifies_once_the_cooldown_passed(jwks):
    config = jwks.config(lifespan=600, cooldown=0.2)
    republished(jwks, config, ["rsa-2"], wait=0.3)  # past the cooldown: an unknown kid fetches
    assert verify_token(jwks.token("rsa-2"), config)["sub"] == "alice"
    assert jwks.fetches == 2
    assert_refused(jwks, "rsa-1", config)


def test_issue_token_command_prints_a_valid_token(app, runner):
    result = runner.invoke(args=["issue-token", "carol"])
    assert result.exit_code == 0
    assert verify_token(result.output.strip(), app.config)["sub"] == "carol"


def test_jwks_that_cannot_be_fetched_answers_503_not_401(jwks):
    """A provider outage says nothing about the token: clients must not sign their user out."""
    config = jwks.config()
    token = jwks.token("rsa-1")
    jwks.http.shutdown()
    jwks.http.server_close()  # nothing listens on the JWKS URL any more
    with pytest.raises(Unavailable) as raised:
        verify_token(token, config)
    assert (raised.value.status, raised.value.retry_after) == (503, KEYS_RETRY_AFTER_SECONDS)


def test_request_while_the_jwks_is_down_answers_503_with_retry_after(make_app, jwks):
    app = make_app("mongomock://localhost/jwks_down", **jwks.config())
    token = jwks.token("rsa-1")
    jwks.http.shutdown()
    jwks.http.server_close()
    response = app.test_client().get(
        "/api/interviews", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(KEYS_RETRY_AFTER_SECONDS)
    assert response.get_json()["type"] == "service_unavailable"
