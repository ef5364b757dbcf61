"""Schemathesis against the API's own OpenAPI document, in process (ASGI), with an admin key
and every default check: no server error; every answer (status, content type, headers, body,
the `Allow` of a 405) is one the document declares; a request the document calls invalid is
refused, and one it calls valid is refused only for a rule the document cannot state.

On SQLite the coverage phase (boundary values, type confusion, missing and unexpected
parameters, undeclared methods, non-UTF-8 bodies) runs before the fuzzing phase; on PostgreSQL
the fuzzing phase alone (its own errors: NUL, encodings, locks). Both derandomized, six examples
an operation: about 30 s of CPU in all. Two generated ids in three are swapped for ids of real
objects, so that bodies reach the domain and not only its 404s, and every case gets an
Idempotency-Key of its own (a generated key reused for another request is rightly refused)."""

from __future__ import annotations

import itertools
import re
import zlib
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from core.api import create_app
from core.api.auth import PUBLIC
from core.api.fields import ID_MAX, ID_PATTERN
from core.api.idempotency import HEADER, REPLAYED
from core.clock import FixedClock
from core.unit import Core
from tests.core.api_support import build_world, client, make_key, sqlite_core

schema = schemathesis.pytest.from_fixture("api_schema")

# generated name → the object of the world that stands in for it
_REAL = {
    "customer_id": "customer_id",
    "offer_id": "offer_id",
    "coupon_id": "coupon_id",
    "subscription_id": "subscription_id",
    "purchase_id": "purchase_id",
    "payment_id": "payment_id",
    "campaign_id": "campaign_id",
    "ticket_id": "ticket_id",
    "payment_method_id": "payment_method_id",
    "key_id": "victim_key_id",  # never the admin key the test runs with
}
_VALID_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")
_idempotency_keys = itertools.count()


@pytest.fixture(autouse=True)
def _pytest9_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy schemas relabel the test through `node._nodeid`, which
    pytest 9 no longer has: give it one (it only affects the labels of the report)."""
    request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_schema(core: Core, world: dict):
    config = SchemathesisConfig.from_dict(
        {
            # the admin key is given (as a bearer token), not generated
            "auth": {"openapi": {"HTTPBearer": {"bearer": world["admin_key"]}}},
            # the coverage phase is about the document: once, on SQLite
            "phases": {"coverage": {"enabled": core.engine.dialect.name == "sqlite"}},
            # a valid request may still be refused by a rule of the domain: a declined card
            # (402), or a 422 of a rule across fields, of the clock or of stored state (an
            # amount coupon needs an amount, resume_at must be in the future, a payment has
            # nothing left to refund); `validation_agrees_with_document` keeps the 422s honest
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", 401, 402, 403, 404, 409, 422]
                }
            },
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(core), config=config)


@pytest.fixture
def world(core: Core) -> dict:
    ids: dict = build_world(core).ids()
    _, admin = make_key(core, "admin")
    ids["victim_key_id"], _ = make_key(core, "readonly")
    ids["admin_key"] = admin
    return ids


def _valid_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= ID_MAX and bool(re.fullmatch(ID_PATTERN, value))


def _real(name: str, value: object, ids: dict) -> object:
    """The real id for `name`, for two generated values in three (chosen by the value); an
    invalid generated id stays (the case is one that must be refused)."""
    if name not in _REAL or not _valid_id(value):
        return value
    return ids[_REAL[name]] if zlib.crc32(value.encode("utf-8", "replace")) % 3 else value


def _own_idempotency_key(case) -> None:
    """A valid generated Idempotency-Key becomes one no other case uses (an invalid one stays:
    it must be refused)."""
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _VALID_IDEMPOTENCY_KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"k{next(_idempotency_keys)}"


def validation_agrees_with_document(ctx, response, case) -> bool | None:
    """A request the document calls valid is never refused for a rule the document states
    (type, pattern, bounds, required, unknown field): only for one it cannot state, which
    request validation reports as a `value_error` (calendar durations, timestamps' range,
    NUL characters) or the domain without a field list."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 400:
        raise AssertionError(f"a valid request could not be read: {response.text}")
    if response.status_code == 422:
        stated = [i for i in response.json().get("detail", []) if i["type"] != "value_error"]
        assert not stated, f"a valid request refused for what the document states: {stated}"
    return None


@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@schema.parametrize()
def test_api_matches_its_openapi_document(case, world):
    for name, value in list(case.path_parameters.items()):
        case.path_parameters[name] = _real(name, value, world)
    if isinstance(case.body, dict):
        for name, value in list(case.body.items()):
            case.body[name] = _real(name, value, world)
    _own_idempotency_key(case)
    case.call_and_validate(additional_checks=[validation_agrees_with_document])


def test_document_declares_every_error_and_the_replay_header(tmp_path: Path, clock: FixedClock):
    """Every route behind a key declares each error the API can answer, with its model, and
    every route that takes an Idempotency-Key declares the header of a replayed answer."""
    with sqlite_core(tmp_path, clock) as core:
        api = client(core, make_key(core, "admin")[1])
        document = api.get("/openapi.json").json()
        replayed = []
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if (method.upper(), path) in PUBLIC:
                    continue
                assert {"400", "401", "403", "404", "409", "413", "422", "503"} <= set(
                    operation["responses"]
                ), (method, path)
                if "Idempotency-Key" in {p["name"] for p in operation.get("parameters", [])}:
                    success = [r for s, r in operation["responses"].items() if s.startswith("2")]
                    assert all(REPLAYED in r.get("headers", {}) for r in success), (method, path)
                    replayed.append((method, path))
        assert ("post", "/customers") in replayed and len(replayed) >= 20
        body = {"country": "DE", "signup_platform": "web"}
        first, again = (api.post("/customers", json=body, headers={HEADER: "once"}) for _ in "ab")
        assert REPLAYED not in first.headers and again.headers[REPLAYED] == "true"
