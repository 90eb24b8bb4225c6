"""Bearer-token verification (HS256 secret or JWKS), the current user, and dev token minting."""

from datetime import timedelta

import jwt
from flask import current_app, g, request
from flask_httpauth import HTTPTokenAuth

from interview_service import times
from interview_service.errors import MissingToken, Unauthorized, Unavailable

# Identity providers use ids of a few dozen characters (UUIDs, "auth0|…", Firebase uids).
MAX_SUB_CHARS = 255
KEYS_RETRY_AFTER_SECONDS = 5  # an identity provider that did not answer: ask again soon

_jwks_clients = {}


def _jwks_client(config):
    """One JWKS client per URL and cache settings.

    It keeps the fetched key set for JWT_JWKS_LIFESPAN seconds, then fetches it again, so a
    key the provider stopped publishing stops verifying; an unknown `kid` fetches it again
    at most once per JWT_JWKS_COOLDOWN seconds (a rotated-in key, without letting forged
    kids hammer the provider). No per-kid cache: it would keep a withdrawn key forever.
    """
    settings = (config["JWT_JWKS_URL"], config["JWT_JWKS_LIFESPAN"], config["JWT_JWKS_COOLDOWN"])
    if settings not in _jwks_clients:
        url, lifespan, cooldown = settings
        _jwks_clients[settings] = jwt.PyJWKClient(
            url,
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=lifespan,
            cooldown_duration=cooldown,
            timeout=5,
        )
    return _jwks_clients[settings]


def verify_token(token, config):
    """Return the verified claims of `token`, or raise Unauthorized."""
    options = {"require": ["exp", "sub"]}
    kwargs = {
        "audience": config.get("JWT_AUDIENCE"),
        "issuer": config.get("JWT_ISSUER"),
        "leeway": config.get("JWT_LEEWAY", 0),
        "options": {**options, "verify_aud": bool(config.get("JWT_AUDIENCE"))},
    }
    try:
        if config.get("JWT_JWKS_URL"):
            key = _jwks_client(config).get_signing_key_from_jwt(token).key
            algorithms = config["JWT_ALGORITHMS_JWKS"]
        elif config.get("JWT_SECRET"):
            key, algorithms = config["JWT_SECRET"], config["JWT_ALGORITHMS_SECRET"]
        else:
            raise Unauthorized("Token verification is not configured")
        claims = jwt.decode(token, key, algorithms=algorithms, **kwargs)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token has expired", type="token_expired") from None
    except jwt.PyJWKClientConnectionError:
        # The token may well be valid: a 401 would make clients sign their user out.
        raise Unavailable(
            "The identity provider's signing keys could not be fetched",
            retry_after=KEYS_RETRY_AFTER_SECONDS,
        ) from None
    except jwt.PyJWTError:
        # The decoder's own words (segments, padding, algorithms) help an attacker, not a user.
        raise Unauthorized("Invalid token") from None
    if not _usable_subject(claims.get("sub")):
        raise Unauthorized(
            f"Invalid token: sub must be a non-empty UTF-8 string of at most {MAX_SUB_CHARS} "
            "characters"
        )
    return claims


def _usable_subject(sub):
    """Whether `sub` can be a user id: stored as BSON (UTF-8, no NUL), logged, compared."""
    if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUB_CHARS or "\x00" in sub:
        return False
    try:
        sub.encode("utf-8")  # a lone surrogate ("\ud800" in the JSON) does not encode
    except UnicodeEncodeError:
        return False
    return True


def _bearer_token():
    """The token of the Authorization header, None when absent; 401 when malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


def current_user():
    """The verified user id of this request, or None when no token was sent."""
    if "user_id" not in g:
        token = _bearer_token()
        g.user_id = verify_token(token, current_app.config)["sub"] if token else None
    return g.user_id


token_auth = HTTPTokenAuth(scheme="Bearer", realm="interview-service")


@token_auth.verify_token
def authenticate(token):
    """The caller's user id, None when no token came; a token that fails raises Unauthorized.

    It reads the header through current_user(), not `token`: a malformed header (which
    Flask-HTTPAuth takes for no token) must answer 401, and the rate limiter has already
    verified the same header before the view.
    """
    return current_user()


@token_auth.error_handler
def refuse(status):
    """No token where one is required: the one error shape, with its bare challenge."""
    raise MissingToken()


def issue_token(user_id, config, lifetime=timedelta(hours=12)):
    """Mint an HS256 token for `user_id` with the configured secret (development)."""
    if not config.get("JWT_SECRET"):
        raise RuntimeError("JWT_SECRET is not set: tokens can only be minted with a secret")
    now = times.now()
    claims = {"sub": user_id, "iat": now, "exp": now + lifetime}
    if config.get("JWT_AUDIENCE"):
        claims["aud"] = config["JWT_AUDIENCE"]
    if config.get("JWT_ISSUER"):
        claims["iss"] = config["JWT_ISSUER"]
    return jwt.encode(claims, config["JWT_SECRET"], algorithm="HS256")
