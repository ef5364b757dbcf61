"""Translating a Stripe export: 1M subscription objects through `connectors.stripe.translate_objects`,
with the floor measured in the same run.

    .venv/bin/python -m benchmarks.bench_stripe_translation [--subscriptions 1000000]

Generation (not timed): the simulator's business (its engine and catalogue, 100,000 customers
over 24 months) becomes Stripe-shaped subscription objects as the API lists them (one item with
its expanded price and recurring interval, quantity, currency, trial, coupon discount,
cancellation details, status); the simulator's subscriptions are repeated under new ids until
there are `--subscriptions` of them, written once to benchmarks/out/ as NDJSON.
Measured, each in a fresh process over the same file read in chunks of 50,000 lines:
- churniq: `orjson.loads` of each line, `translate_objects` of the chunk, and the contract lines
  as NDJSON (`connectors.translation.ndjson`), timed apart;
- baseline: `orjson.loads` of each line and nothing else, the floor any translation pays.
Both sides run with Python's cyclic garbage collector paused (as `translate_objects` pauses it
for itself, and as an importer parsing pages of JSON should): with it on, its passes over the
millions of parsed dicts cost the parse alone four times its time.
Target (issue 16): at least 100k Stripe objects/s translated.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

from benchmarks.common import REPO, machine, python, run_measured, write_result

OUT = REPO / "benchmarks" / "out"
CHUNK = 50_000
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
INTERVALS = {"P1M": ("month", 1), "P3M": ("month", 3), "P1Y": ("year", 1)}


def stripe_subscriptions(total: int, customers: int = 100_000, months: int = 24):
    """Stripe subscription objects (dicts) from the simulator's business, `total` of them."""
    from ingestion.simulator import catalogue as cat
    from ingestion.simulator.engine import Engine
    from ingestion.simulator.events import COUPON_IDS

    result = Engine(customers, months, 7, date(2024, 1, 1)).run()
    offers = result.catalogue.offers
    s = result.tables["subscription.started"]
    ended = {
        (int(c), int(k)): (int(t), int(r))
        for c, k, t, r in zip(*(result.tables["subscription.ended"][f]
                                for f in ("cust", "sub_k", "ts", "ended_reason")), strict=True)
    }  # fmt: skip
    cancelled = {
        (int(c), int(k)): (int(t), int(e))
        for c, k, t, e in zip(*(result.tables["subscription.cancelled"][f]
                                for f in ("cust", "sub_k", "ts", "effective_at")), strict=True)
    }  # fmt: skip
    n = len(s["ts"])
    reasons = ("cancellation_requested", "payment_failed", "payment_disputed", None, None)
    produced = 0
    tile = 0
    while produced < total:
        for i in range(n):
            if produced >= total:
                return
            cust, k = int(s["cust"][i]), int(s["sub_k"][i])
            offer = offers[int(s["offer"][i])]
            interval, count = INTERVALS[offer.billing_period]
            sub_id = f"sub_{tile}x{cust}x{k}"
            start = int(s["ts"][i])
            trial = int(s["trial_ends_at"][i])
            end = ended.get((cust, k))
            cancel = cancelled.get((cust, k))
            currency = cat.CURRENCIES[int(s["currency"][i])].lower()
            coupon = int(s["coupon"][i])
            discount_minor = int(s["discount_minor"][i])
            yield {
                "id": sub_id,
                "object": "subscription",
                "billing_cycle_anchor": start,
                "cancel_at": cancel[1] if cancel and not end else None,
                "cancel_at_period_end": bool(cancel),
                "canceled_at": cancel[0] if cancel else (end[0] if end else None),
                "cancellation_details": {
                    "comment": None,
                    "feedback": "too_expensive" if cancel else None,
                    "reason": reasons[end[1] % len(reasons)] if end else None,
                },
                "collection_method": "charge_automatically",
                "created": start,
                "currency": currency,
                "current_period_end": int(s["current_period_end"][i]),
                "current_period_start": start,
                "customer": f"cus_{tile}x{cust}",
                "discount": None
                if coupon < 0
                else {
                    "id": f"di_{sub_id}",
                    "object": "discount",
                    "coupon": {
                        "id": COUPON_IDS[coupon],
                        "object": "coupon",
                        "amount_off": discount_minor,
                        "currency": currency,
                        "duration": "forever",
                        "duration_in_months": None,
                        "percent_off": None,
                        "valid": True,
                    },
                    "customer": f"cus_{tile}x{cust}",
                    "end": None,
                    "start": start,
                    "subscription": sub_id,
                },
                "ended_at": end[0] if end else None,
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": f"si_{sub_id}",
                            "object": "subscription_item",
                            "created": start,
                            "metadata": {},
                            "price": {
                                "id": f"price_{offer.offer_id}",
                                "object": "price",
                                "active": True,
                                "billing_scheme": "per_unit",
                                "created": result.start_ts,
                                "currency": currency,
                                "livemode": False,
                                "lookup_key": None,
                                "metadata": {},
                                "nickname": offer.title,
                                "product": f"prod_{offer.offer_id}",
                                "recurring": {
                                    "aggregate_usage": None,
                                    "interval": interval,
                                    "interval_count": count,
                                    "trial_period_days": None,
                                    "usage_type": "licensed",
                                },
                                "tax_behavior": "unspecified",
                                "type": "recurring",
                                "unit_amount": offer.price_minor,
                                "unit_amount_decimal": str(offer.price_minor),
                            },
                            "quantity": 1,
                            "subscription": sub_id,
                        }
                    ],
                    "has_more": False,
                    "total_count": 1,
                    "url": f"/v1/subscription_items?subscription={sub_id}",
                },
                "latest_invoice": None,
                "livemode": False,
                "metadata": {},
                "pause_collection": None,
                "start_date": start,
                "status": "canceled" if end else ("trialing" if trial > start else "active"),
                "trial_end": trial if trial > 0 else None,
                "trial_start": start if trial > 0 else None,
            }
            produced += 1
        tile += 1


def export(total: int) -> Path:
    path = OUT / f"stripe-subscriptions-{total}.ndjson"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        batch = []
        for sub in stripe_subscriptions(total):
            batch.append(orjson.dumps(sub))
            if len(batch) == CHUNK:
                f.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            f.write(b"\n".join(batch) + b"\n")
    tmp.rename(path)
    return path


def chunks(path: Path):
    with path.open("rb") as f:
        lines = []
        for line in f:
            lines.append(line)
            if len(lines) == CHUNK:
                yield lines
                lines = []
        if lines:
            yield lines


def measure(path: Path, baseline: bool) -> dict:
    """Run in the child: the timings of one side over the whole file."""
    from connectors.stripe import translate_objects
    from connectors.translation import ndjson

    gc.disable()
    loads = translate = dumps = translate_cpu = 0.0
    objects = events = untranslatable = out_bytes = 0
    started = time.perf_counter()
    for lines in chunks(path):
        t0 = time.perf_counter()
        parsed = [orjson.loads(line) for line in lines]
        t1 = time.perf_counter()
        c1 = time.process_time()
        loads += t1 - t0
        objects += len(parsed)
        if baseline:
            continue
        translation = translate_objects(parsed, as_of=AS_OF)
        t2 = time.perf_counter()
        translate_cpu += time.process_time() - c1
        out_bytes += len(ndjson(translation.lines("stripe")))
        t3 = time.perf_counter()
        translate += t2 - t1
        dumps += t3 - t2
        events += len(translation.events)
        untranslatable += len(translation.untranslatable)
    return {
        "objects": objects,
        "events": events,
        "untranslatable": untranslatable,
        "ndjson_bytes": out_bytes,
        "total_s": time.perf_counter() - started,
        "loads_s": loads,
        "translate_s": translate,
        "translate_cpu_s": translate_cpu,
        "dumps_s": dumps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.baseline)))
        return 0

    started = time.perf_counter()
    path = export(args.subscriptions)
    print(f"export {path} ({path.stat().st_size / 1e6:,.0f} MB) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    load = os.getloadavg()[0]
    runs = {}
    for side, flags in (("baseline", ["--baseline"]), ("churniq", [])):
        run = run_measured(side, python("-m", "benchmarks.bench_stripe_translation",
                                        "--measure", str(path), *flags))  # fmt: skip
        runs[side] = {**json.loads(run.output.strip().splitlines()[-1]), "peak_mb": run.peak_mb}
        print(side, runs[side], flush=True)
    ours, floor = runs["churniq"], runs["baseline"]
    n = ours["objects"]
    translate_rate = n / ours["translate_s"]
    end_to_end_rate = n / (ours["loads_s"] + ours["translate_s"] + ours["dumps_s"])
    floor_rate = n / floor["loads_s"]
    md = (
        f"### Stripe translation ({n:,} subscription objects; {machine()})\n\n"
        "| side | objects/s | wall time | peak memory |\n|---|---:|---:|---:|\n"
        f"| churniq `translate_objects` alone | {translate_rate:,.0f} | "
        f"{ours['translate_s']:.1f} s | |\n"
        f"| churniq `translate_objects`, per CPU second | {n / ours['translate_cpu_s']:,.0f} | "
        f"{ours['translate_cpu_s']:.1f} s CPU | |\n"
        f"| churniq loads + translate + NDJSON out | {end_to_end_rate:,.0f} | "
        f"{ours['total_s']:.1f} s | {ours['peak_mb']:,.0f} MB |\n"
        f"| baseline `orjson.loads` (the floor) | {floor_rate:,.0f} | {floor['total_s']:.1f} s | "
        f"{floor['peak_mb']:,.0f} MB |\n\n"
        f"Where the time goes (churniq): parsing {ours['loads_s']:.1f} s, translating "
        f"{ours['translate_s']:.1f} s, writing {ours['events']:,} contract lines "
        f"({ours['ndjson_bytes'] / 1e6:,.0f} MB) {ours['dumps_s']:.1f} s; "
        f"{ours['untranslatable']:,} untranslatable. Translation alone is "
        f"{floor_rate / translate_rate:.1f}× the floor's time per object. "
        "Target: ≥ 100,000 objects/s. Load average when the measurements started: "
        f"{load:.1f} on {os.cpu_count()} cores (wall times stretch with it; CPU seconds less).\n"
    )
    print(md)
    write_result(
        "stripe_translation",
        md,
        {"subscriptions": n, "churniq": ours, "baseline": floor,
         "translate_objects_per_s": translate_rate, "end_to_end_objects_per_s": end_to_end_rate,
         "floor_objects_per_s": floor_rate, "machine": machine(), "load_average": load},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
