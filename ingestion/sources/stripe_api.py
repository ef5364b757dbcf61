"""Import a Stripe account's history through its API into the landing folder, resumably.

`backfill` lists, with the official SDK's auto-pagination, the account's customers, prices,
subscriptions (every status), invoices (with all their lines), charges, refunds, disputes and
the events of the last 30 days (Stripe keeps no older ones) or since `since`. With `since`,
the history (invoices, charges, refunds, disputes, events) starts at that date, while customers,
prices and subscriptions are listed whole: they are the account's current state, which the
MRR and the provider's own view need.

Two phases, so an interruption costs at most one page:
1. Fetch: each resource's objects are appended, one page at a time, to a spool file
   (`Home.connector_spool("stripe")/<resource>.ndjson`); after each page the state file's
   cursor records the resource's last object id (Stripe's `starting_after`), the spool's length
   and whether the resource is finished. A resumed run truncates the spool to the recorded
   length (a page written after the last saved cursor is fetched again) and continues after the
   recorded id.
2. Translate and land: once every resource is spooled, the objects are translated together by
   `connectors.stripe.translate_objects` (a charge finds its invoice, an invoice its
   subscription, whatever order Stripe listed them in) and the events one by one by
   `translate_event`; the contract lines land in parts named after the backfill's start,
   each recorded in the cursor as it lands, so a resumed landing writes only the missing parts.
   Translation is pure, so translating again after an interruption gives the same lines.
   Then Stripe's own view of the active subscriptions is written for reconciliation, the
   counts are added to the state, and the spool is removed.

The translation's `as_of` is the backfill's start, kept in the cursor: a resumed backfill
describes the same moment as an uninterrupted one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import stripe

from connectors.stripe import SOURCE, provider_view, translate_event, translate_objects
from connectors.translation import utc_timestamp
from foundation.home import Home
from ingestion.sources.connector_files import (
    ConnectorState,
    ImportSummary,
    fresh_stamp,
    land,
    landing_name,
    parse_time,
    write_atomic,
)

#: Stripe's largest page.
PAGE_SIZE = 100
#: Stripe keeps events for 30 days.
EVENTS_WINDOW = timedelta(days=30)
#: Contract lines per landing file.
PART_LINES = 50_000


@dataclass(frozen=True)
class Resource:
    """One Stripe list endpoint: `client.v1.<name>.list(params)`."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    history: bool = False  # listed from `since` on (`created[gte]`) rather than whole


#: Expansions: a discount's coupon (its duration and amount make the MRR), a price's tiers
#: (Stripe lists them only when asked), a refund's or dispute's charge (its customer, when the
#: charge is older than `since`).
COUPONS = "data.discounts.source.coupon"
RESOURCES: tuple[Resource, ...] = (
    Resource("customers"),
    Resource("prices", {"expand": ["data.tiers"]}),
    Resource("subscriptions", {"status": "all", "expand": [COUPONS]}),
    Resource("invoices", {"expand": [COUPONS]}, history=True),
    Resource("charges", history=True),
    Resource("refunds", {"expand": ["data.charge"]}, history=True),
    Resource("disputes", {"expand": ["data.charge"]}, history=True),
    Resource("events", history=True),
)
OBJECT_RESOURCES = tuple(r.name for r in RESOURCES if r.name != "events")

#: (resource, objects fetched so far) after each page, then (TRANSLATING, objects read).
Progress = Callable[[str, int], None]
TRANSLATING = "translating"


KEPT = "the pages fetched so far are kept: run the same command again to resume"


class StripeImportError(Exception):
    """Stripe refused or failed a request; one line, never the key. The pages fetched so far are
    kept: the same command resumes."""


def backfill(
    home: Home,
    api_key: str,
    *,
    key_name: str = "the API key",
    since: datetime | None = None,
    api_base: str | None = None,
    now: datetime | None = None,
    page_size: int = PAGE_SIZE,
    max_network_retries: int = 2,
    on_progress: Progress | None = None,
) -> ImportSummary:
    """Fetch, translate and land the account's history (module docstring); resumes the
    unfinished backfill of the same `since` if there is one. `key_name` names the key's
    origin in errors (the key itself never appears)."""
    state = ConnectorState.load(home, SOURCE, "api")
    since_text = utc_timestamp(since) if since else None
    run = state.cursor.get("api") or {}
    resumed = bool(run) and not run.get("finished") and run.get("since") == since_text
    if not resumed:
        started = (now or datetime.now(UTC)).replace(microsecond=0)
        run = {
            "as_of": utc_timestamp(started),
            "stamp": utc_timestamp(fresh_stamp(state, started)),
            "since": since_text,
            "resources": {
                r.name: {"after": None, "count": 0, "bytes": 0, "done": False} for r in RESOURCES
            },
            "landed": [],
            "finished": False,
        }
        shutil.rmtree(home.connector_spool(SOURCE), ignore_errors=True)
    state.cursor["api"] = run
    state.since = since_text
    state.complete = False
    state.save(home)

    as_of = parse_time(run["as_of"])
    assert as_of is not None
    window_start = since or as_of - EVENTS_WINDOW
    client = stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=max_network_retries,
    )
    spool = home.connector_spool(SOURCE)
    spool.mkdir(parents=True, exist_ok=True)
    for resource in RESOURCES:
        entry = run["resources"][resource.name]
        if entry["done"]:
            if on_progress:
                on_progress(resource.name, entry["count"])
            continue
        params = dict(resource.params)
        if resource.name == "events" or (resource.history and since):
            params["created"] = {"gte": int(window_start.timestamp())}
        try:
            _fetch(client, resource, params, entry, spool, page_size, state, home, on_progress)
        except stripe.AuthenticationError:
            raise StripeImportError(f"Stripe rejected {key_name} (authentication failed)") from None
        except stripe.PermissionError:
            raise StripeImportError(
                f"{key_name} may not read {resource.name}: give the restricted key read "
                "access to it; then run the same command again to resume"
            ) from None
        except stripe.APIConnectionError:
            raise StripeImportError(
                f"could not reach Stripe at {api_base or stripe.DEFAULT_API_BASE} listing "
                f"{resource.name}; {KEPT}"
            ) from None
        except stripe.StripeError as exc:
            status = f" ({exc.http_status})" if exc.http_status else ""
            said = " ".join((exc.user_message or type(exc).__name__).split())
            raise StripeImportError(
                f"Stripe failed listing {resource.name}{status}: {said}; {KEPT}"
            ) from None

    if on_progress:  # the translation of a large account takes a while too
        on_progress(TRANSLATING, sum(entry["count"] for entry in run["resources"].values()))
    summary = _land(home, state, run, spool, as_of, parse_time(run["stamp"]) or as_of)
    summary.resumed = resumed
    return summary


def _fetch(
    client: stripe.StripeClient,
    resource: Resource,
    params: dict[str, Any],
    entry: dict[str, Any],
    spool: Path,
    page_size: int,
    state: ConnectorState,
    home: Home,
    on_progress: Progress | None,
) -> None:
    """Append the resource's objects after `entry["after"]` to its spool file, saving the cursor
    after every `page_size` objects (one Stripe page)."""
    path = spool / f"{resource.name}.ndjson"
    with open(path, "ab") as f:
        f.truncate(entry["bytes"])  # a page written after the last saved cursor goes
    listed = getattr(client.v1, resource.name).list(
        params=params
        | {"limit": page_size}
        | ({"starting_after": entry["after"]} if entry["after"] else {})
    )
    if on_progress:
        on_progress(resource.name, entry["count"])
    page: list[dict[str, Any]] = []

    def flush() -> None:
        with open(path, "ab") as f:
            f.write(b"".join(orjson.dumps(obj) + b"\n" for obj in page))
            f.flush()
            os.fsync(f.fileno())
            entry["bytes"] = f.tell()
        entry["after"] = page[-1]["id"]
        entry["count"] += len(page)
        state.save(home)
        page.clear()
        if on_progress:
            on_progress(resource.name, entry["count"])

    for item in listed.auto_paging_iter():
        page.append(_complete(client, resource.name, item.to_dict(for_json=True), page_size))
        if len(page) == page_size:
            flush()
    if page:
        flush()
    entry["done"] = True
    state.save(home)


def _complete(
    client: stripe.StripeClient, resource: str, obj: dict[str, Any], page_size: int
) -> dict[str, Any]:
    """An object with its embedded lists whole: Stripe embeds a subscription's first items and
    an invoice's first lines, with `has_more` when there are others."""
    if resource == "subscriptions":
        items = obj.get("items") or {}
        if items.get("has_more"):
            rest = client.v1.subscription_items.list(
                params={"subscription": obj["id"], "limit": page_size}
            )
            items["data"] = [i.to_dict(for_json=True) for i in rest.auto_paging_iter()]
            items["has_more"] = False
    elif resource == "invoices":
        lines = obj.get("lines") or {}
        if lines.get("has_more"):
            rest = client.v1.invoices.line_items.list(obj["id"], params={"limit": page_size})
            lines["data"] = [i.to_dict(for_json=True) for i in rest.auto_paging_iter()]
            lines["has_more"] = False
    return obj


def _spooled(spool: Path, resource: str) -> Iterator[dict[str, Any]]:
    path = spool / f"{resource}.ndjson"
    if path.exists():
        with open(path, "rb") as f:
            for line in f:
                yield orjson.loads(line)


def _land(
    home: Home,
    state: ConnectorState,
    run: dict[str, Any],
    spool: Path,
    as_of: datetime,
    stamp: datetime,
) -> ImportSummary:
    """Translate everything spooled, land the parts not landed yet, write the provider view,
    count, and forget the spool."""
    objects = [obj for name in OBJECT_RESOURCES for obj in _spooled(spool, name)]
    events = list(_spooled(spool, "events"))
    translation = translate_objects(with_context(objects), as_of=as_of)
    for event in events:
        translation.extend(translate_event(event))
    lines = translation.lines(SOURCE)
    parts = [lines[i : i + PART_LINES] for i in range(0, len(lines), PART_LINES)]
    names = [landing_name(SOURCE, stamp, n) for n in range(1, len(parts) + 1)]
    for name, part in zip(names, parts, strict=True):
        if name not in run["landed"]:
            land(home, name, part)
            run["landed"].append(name)
            state.save(home)

    subscriptions = [obj for obj in objects if obj.get("object") == "subscription"]
    write_provider_view(home, provider_view(subscriptions, as_of=as_of), as_of)

    summary = ImportSummary()
    summary.add(translation, len(objects) + len(events), names)
    state.count(translation, len(objects) + len(events), names)
    state.last_backfill_at = utc_timestamp(as_of)
    state.complete = True
    run["finished"] = True
    run["landed"] = []
    run["resources"] = {}
    state.save(home)
    shutil.rmtree(spool, ignore_errors=True)
    return summary


def with_context(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listed objects, completed in place with what Stripe leaves out of nested ones: the tiers of a subscription
    item's tiered price (Stripe cannot expand them that deep; the price list has them), and the
    charges of refunds and disputes that `since` left out of the charges listed (expanded on
    the refund or dispute: the translation finds their customer through the charge)."""
    prices = {o["id"]: o for o in objects if o.get("object") == "price"}
    charges = {o["id"] for o in objects if o.get("object") == "charge"}
    extra: list[dict[str, Any]] = []
    for obj in objects:
        kind = obj.get("object")
        if kind == "subscription":
            for item in (obj.get("items") or {}).get("data") or ():
                price = item.get("price")
                if (
                    isinstance(price, dict)
                    and price.get("billing_scheme") == "tiered"
                    and not price.get("tiers")
                    and price.get("id") in prices
                ):
                    item["price"] = prices[price["id"]]
        elif kind in ("refund", "dispute"):
            charge = obj.get("charge")
            if isinstance(charge, dict) and charge.get("id") not in charges:
                charges.add(charge["id"])
                extra.append(charge)
    return objects + extra


PROVIDER_VIEW_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("as_of", pa.timestamp("us")),
        ("customer_id", pa.string()),
        ("subscription_id", pa.string()),
        ("status", pa.string()),
        ("currency", pa.string()),
        ("mrr", pa.decimal128(18, 6)),
    ]
)


def write_provider_view(home: Home, rows: list[dict[str, Any]], as_of: datetime) -> Path:
    """Stripe's own view of its active subscriptions (`Home.provider_view`), replaced whole."""
    moment = as_of.astimezone(UTC).replace(tzinfo=None)
    table = pa.Table.from_pylist(
        [
            {
                "source": SOURCE,
                "as_of": moment,
                "customer_id": row["customer_id"],
                "subscription_id": row["subscription_id"],
                "status": row["status"],
                "currency": row["currency"],
                "mrr": Decimal(row["mrr"]).quantize(Decimal("0.000001")),
            }
            for row in rows
        ],
        schema=PROVIDER_VIEW_SCHEMA,
    )
    path = home.provider_view(SOURCE)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomic(path, sink.getvalue().to_pybytes())
    return path
