"""A local stand-in for Stripe's list endpoints, for the API backfill's tests (never the internet).

It follows Stripe's documented pagination: objects newest first, `limit` (default 10, at most
100), `starting_after`, an answer `{"object": "list", "data", "has_more", "url"}`; filters
`created[gte]` and, for subscriptions, `status` (canceled ones only with `status=all` or
`status=canceled`). Like Stripe, it embeds only the first `embedded` items of a subscription and
lines of an invoice (with `has_more`) and serves the rest at `/v1/subscription_items` and
`/v1/invoices/<id>/lines`. A price's `tiers` are listed only with `expand[]=data.tiers` and
never in a subscription's items; `expand[]=data.charge` replaces a charge id by the charge.
Other expansions are the fixtures' own business (what they hold is what is served). Requests
without `Authorization: Bearer <key>` get Stripe's 401.
Every request is logged; `fail` makes chosen requests answer 500, `forbidden` paths 403.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from ingestion.sources.stripe_api import RESOURCES

LISTS = tuple(resource.name for resource in RESOURCES)


@dataclass
class Request:
    path: str
    query: dict[str, str]


@dataclass
class FakeStripe:
    objects: dict[str, list[dict[str, Any]]]
    api_key: str
    embedded: int = 2
    requests: list[Request] = field(default_factory=list)
    #: a request for which this returns True gets a 500
    fail: Callable[[Request], bool] = lambda request: False
    #: paths a restricted key may not read (Stripe's 403)
    forbidden: set[str] = field(default_factory=set)
    url: str = ""

    def lists(self, resource: str) -> list[Request]:
        return [r for r in self.requests if r.path == f"/v1/{resource}"]

    def answer(self, request: Request, authorization: str | None) -> tuple[int, dict[str, Any]]:
        self.requests.append(request)
        if authorization != f"Bearer {self.api_key}":
            return 401, _error("invalid_request_error", "Invalid API Key provided: sk_****")
        if request.path in self.forbidden:
            return 403, _error(
                "invalid_request_error",
                "The provided key 'rk_test_****' does not have the required permissions for "
                "this endpoint on account 'acct_T'.",
            )
        if self.fail(request):
            return 500, _error("api_error", "Something went wrong on Stripe's end.")
        parts = request.path.strip("/").split("/")
        if parts[0] != "v1":
            return 404, _error("invalid_request_error", "Unrecognized request URL")
        if len(parts) == 2 and parts[1] in LISTS:
            return 200, self._page(request, self._listed(parts[1], request.query))
        if parts[1:] == ["subscription_items"]:
            subscription = self._find("subscriptions", request.query["subscription"])
            return 200, self._page(request, _untiered(subscription["items"]["data"]))
        if len(parts) == 4 and parts[1] == "invoices" and parts[3] == "lines":
            invoice = self._find("invoices", parts[2])
            return 200, self._page(request, invoice["lines"]["data"])
        return 404, _error("invalid_request_error", f"Unrecognized request URL ({request.path})")

    def _find(self, resource: str, object_id: str) -> dict[str, Any]:
        return next(o for o in self.objects[resource] if o["id"] == object_id)

    def _listed(self, resource: str, query: dict[str, str]) -> list[dict[str, Any]]:
        chosen = sorted(self.objects.get(resource, []), key=lambda o: (-o["created"], o["id"]))
        if "created[gte]" in query:
            chosen = [o for o in chosen if o["created"] >= int(query["created[gte]"])]
        if resource == "subscriptions":
            status = query.get("status")
            if status is None:
                chosen = [o for o in chosen if o["status"] != "canceled"]
            elif status != "all":
                chosen = [o for o in chosen if o["status"] == status]
        expand = {v for k, v in query.items() if k.startswith("expand[")}
        return [self._embedded(o, expand) for o in chosen]

    def _embedded(self, obj: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        for key in ("items", "lines"):
            inner = obj.get(key)
            if isinstance(inner, dict) and inner.get("object") == "list":
                inner["has_more"] = len(inner["data"]) > self.embedded
                inner["data"] = inner["data"][: self.embedded]
        if obj["object"] == "price" and "data.tiers" not in expand:
            obj.pop("tiers", None)
        if obj["object"] == "subscription":
            obj["items"]["data"] = _untiered(obj["items"]["data"])
        if "data.charge" in expand and isinstance(obj.get("charge"), str):
            obj["charge"] = self._find("charges", obj["charge"])
        return obj

    def _page(self, request: Request, objects: list[dict[str, Any]]) -> dict[str, Any]:
        limit = min(int(request.query.get("limit", 10)), 100)
        after = request.query.get("starting_after")
        if after is not None:
            ids = [o["id"] for o in objects]
            if after not in ids:
                raise LookupError(f"No such object: {after}")
            objects = objects[ids.index(after) + 1 :]
        return {
            "object": "list",
            "data": objects[:limit],
            "has_more": len(objects) > limit,
            "url": request.path,
        }


def _untiered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Subscription items as Stripe lists them: their prices without `tiers`."""
    items = copy.deepcopy(items)
    for item in items:
        item["price"].pop("tiers", None)
    return items


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


@contextmanager
def serving(fake: FakeStripe) -> Iterator[FakeStripe]:
    """`fake` on 127.0.0.1 at a free port (its `url`), in a thread, until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            try:
                status, body = fake.answer(
                    Request(split.path, query), self.headers.get("Authorization")
                )
            except LookupError as exc:
                status, body = 400, _error("invalid_request_error", str(exc))
            payload = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", f"req_{len(fake.requests)}")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
