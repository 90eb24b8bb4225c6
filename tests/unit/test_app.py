"""Factory, configuration, error envelope, hostile bodies, OpenAPI, CORS and probes."""

import re
import time

import pytest
from flask_smorest import abort
from openapi_spec_validator import validate
from werkzeug.exceptions import default_exceptions

from config import Production
from interview_service import create_app, db
from tests.factories import ERROR_KEYS


def test_factory_honours_testing_config(app):
    assert app.config["TESTING"] is True
    assert app.config["RATE_LIMIT_ENABLED"] is False


def test_overrides_win_over_settings(make_app, db_uri):
    application = make_app(db_uri, MESSAGE_MAX_CHARS=7)
    assert application.config["MESSAGE_MAX_CHARS"] == 7


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"JWT_SECRET": None, "JWT_JWKS_URL": None}, "JWT_SECRET or JWT_JWKS_URL"),
        ({"JWT_SECRET": "short"}, "at least 32"),
        ({"CORS_ORIGINS": ["*"]}, "wildcard"),
        ({"CORS_ORIGINS": []}, "wildcard"),
        ({"LLM_TIMEOUT": 30}, "LLM_TIMEOUT must be below GUNICORN_TIMEOUT"),
    ],
)
def test_production_refuses_unsafe_settings(monkeypatch, changes, reason):
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.internal/app")
    safe = {"JWT_SECRET": "x" * 40, "JWT_JWKS_URL": None, "CORS_ORIGINS": ["https://app.test"]}
    for key, value in {**safe, **changes}.items():
        monkeypatch.setattr(Production, key, value)
    with pytest.raises(RuntimeError, match=reason):
        create_app("production")


def test_production_starts_with_safe_settings(monkeypatch):
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.internal/app")
    monkeypatch.setattr(Production, "JWT_SECRET", "x" * 40)
    monkeypatch.setattr(Production, "CORS_ORIGINS", ["https://app.test"])
    application = create_app("production")
    assert application.config["ALLOW_ANONYMOUS_SESSIONS"] is False
    db.disconnect()


def test_unknown_environment_is_refused():
    with pytest.raises(RuntimeError, match="APP_ENV"):
        create_app("staging")


def test_limits_are_off_in_testing_by_default(client):
    responses = [client.get("/api/openapi.json") for _ in range(5)]  # a limited route
    assert [r.status_code for r in responses] == [200] * 5
    assert "X-RateLimit-Remaining" not in responses[-1].headers


def test_healthz_answers_success(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"success": True}


def test_readyz_answers_503_quickly_when_database_is_down(unreachable_app):
    application = unreachable_app()
    started = time.monotonic()
    response = application.test_client().get("/readyz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["success"] is False
    assert ERROR_KEYS <= set(response.get_json())


ERROR_CODES = sorted(code for code in default_exceptions if code >= 400)


@pytest.mark.parametrize("code", ERROR_CODES)
def test_every_http_error_has_the_same_shape(make_app, db_uri, code):
    application = make_app(db_uri)

    @application.route("/raise")
    def raise_error():
        abort(code)

    response = application.test_client().get("/raise")
    body = response.get_json()
    assert response.status_code == code
    assert ERROR_KEYS <= set(body)
    assert body["success"] is False and body["code"] == code
    assert body["error"] == body["message"]
    assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", body["type"])


def test_uncaught_exception_is_a_500_without_traceback(make_app, db_uri):
    application = make_app(db_uri)

    @application.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = application.test_client().get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert response.get_json()["success"] is False


def test_unknown_route_is_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.get_json()["code"] == 405


def test_openapi_document_is_valid(client):
    spec = client.get("/api/openapi.json").get_json()
    validate(spec)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_openapi_lists_every_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    served = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("api-docs") and rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert ("/healthz", "GET") in served
    assert served - documented == set()


def test_swagger_ui_is_served(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"swagger-ui" in response.data


def test_cors_preflight_allows_the_spa_origin(client):
    response = client.options(
        "/api/openapi.json",
        headers={
            "Origin": "http://spa.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key, Content-Type",
        },
    )
    assert response.headers["Access-Control-Allow-Origin"] == "http://spa.test"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "idempotency-key", "content-type"} <= set(
        h.strip() for h in allowed.split(",")
    )
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_cors_ignores_other_origins(client):
    response = client.get("/api/openapi.json", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in response.headers
