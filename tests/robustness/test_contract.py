"""Property-based contract tests: generated requests to every documented operation, in process.

schemathesis reads the app's own OpenAPI document, so every route a blueprint documents is
fuzzed without being listed here. Each answer must not be a 5xx and must match the response
schema the route documents. `CONTRACT_MAX_EXAMPLES` bounds the examples per operation.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from interview_service import db
from tests.conftest import app_on, bearer

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "25"))

# Built at import: schemathesis' pytest fixture loader does not work with pytest 9.
APP = app_on("mongomock://localhost/contract")
db.disconnect()
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", APP)
AUTH = bearer(APP.config, "contract-user")


@pytest.fixture(autouse=True)
def contract_database():
    """Bind the contract app's connection (other tests rebind the process-wide registry)."""
    db.init_app(APP)
    yield
    db.database().client.drop_database(db.database().name)
    db.disconnect()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_operation_honours_its_contract(case):
    case.call_and_validate(
        headers=AUTH,
        checks=[not_a_server_error, response_schema_conformance, negative_data_rejection],
    )
