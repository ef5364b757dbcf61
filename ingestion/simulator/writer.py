"""Turns the engine's column-wise events into contract files (Parquet or NDJSON) and writes the
ground truth. JSON payloads are built with polars string expressions, never per-row json.dumps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from . import catalogue as cat
from .clock import SEC_DAY
from .engine import DRIVERS_TRUTH, END_NAMES, STATUS_NAMES, EngineResult
from .events import EVENT_TYPES, SCHEMAS, TYPE_CODE, Field

TS_FMT = "%Y-%m-%dT%H:%M:%SZ"
SOURCE = "simulator"

PARQUET_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("schema_version", pa.int32()),
        ("occurred_at", pa.string()),
        ("source", pa.string()),
        ("customer_id", pa.string()),
        ("data", pa.string()),
    ]
)


def customer_id_expr(seed: int, col: str = "cust") -> pl.Expr:
    return pl.concat_str([pl.lit(f"c{seed}-"), pl.col(col).cast(pl.Utf8)])


def _ts_str(col: pl.Expr) -> pl.Expr:
    return pl.from_epoch(col, time_unit="s").dt.strftime(TS_FMT)


def _value_expr(f: Field, seed: int, offer_ids: tuple[str, ...]) -> pl.Expr:
    c = pl.col(f.column)
    if f.kind == "int":
        return c.cast(pl.Utf8)
    if f.kind == "bool":
        return pl.when(c > 0).then(pl.lit("true")).otherwise(pl.lit("false"))
    if f.kind == "ts":
        return pl.concat_str([pl.lit('"'), _ts_str(c), pl.lit('"')])
    if f.kind == "id":
        return pl.concat_str([pl.lit(f'"{f.vocab}{seed}-'), c.cast(pl.Utf8), pl.lit('"')])
    if f.kind == "sub":
        return pl.concat_str(
            [
                pl.lit(f'"s{seed}-'),
                pl.col("cust").cast(pl.Utf8),
                pl.lit("-"),
                c.cast(pl.Utf8),
                pl.lit('"'),
            ]
        )
    vocab = offer_ids if f.kind == "offer" else f.vocab
    quoted = [f'"{v}"' for v in vocab]
    return c.replace_strict(list(range(len(vocab))), quoted, default=None, return_dtype=pl.Utf8)


def data_expr(etype: str, seed: int, offer_ids: tuple[str, ...]) -> pl.Expr:
    """JSON object text of the payload of `etype`, built column-wise."""
    parts = []
    for f in SCHEMAS[etype]:
        frag = pl.concat_str([pl.lit(f',"{f.name}":'), _value_expr(f, seed, offer_ids)])
        if f.optional:
            frag = pl.when(pl.col(f.column) >= 0).then(frag).otherwise(pl.lit(""))
        parts.append(frag)
    body = pl.concat_str(parts).str.slice(1)
    return pl.concat_str([pl.lit("{"), body, pl.lit("}")])


def _offer_published_rows(result: EngineResult) -> tuple[np.ndarray, list[str]]:
    ts, data = [], []
    for day, o in result.published:
        payload = {"offer_id": o.offer_id, "title": o.title, "offer_type": o.offer_type}
        if o.billing_period:
            payload["billing_period"] = o.billing_period
        if o.access_period and o.offer_type == "pass":
            payload["access_period"] = o.access_period
        payload["price_minor"] = o.price_minor
        payload["currency"] = o.currency
        if o.trial_period:
            payload["trial_period"] = o.trial_period
        ts.append(int(datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC).timestamp()))
        data.append(json.dumps(payload, separators=(",", ":")))
    return np.array(ts, dtype=np.int64), data


def write_events(
    result: EngineResult,
    seed: int,
    events_dir: Path,
    fmt: str = "parquet",
    rows_per_file: int = 1_000_000,
) -> tuple[list[Path], dict[str, int]]:
    if fmt not in ("parquet", "ndjson"):
        raise ValueError(f"unknown format {fmt!r} (parquet or ndjson)")
    events_dir.mkdir(parents=True, exist_ok=True)
    for old in sorted(events_dir.glob(f"sim-s{seed}-*.{fmt}")):
        old.unlink()
    offer_ids = tuple(o.offer_id for o in result.catalogue.offers)

    # keep only what happened inside the window, then one global order
    tables: dict[str, pl.DataFrame] = {}
    keys = []
    pub_ts, pub_data = _offer_published_rows(result)
    keys.append(
        pl.DataFrame(
            {
                "ts": pub_ts,
                "cust": np.full(pub_ts.size, -1, dtype=np.int64),
                "tcode": np.zeros(pub_ts.size, dtype=np.int64),
                "lidx": np.arange(pub_ts.size, dtype=np.int64),
            }
        )
    )
    for etype, cols in result.tables.items():
        df = pl.DataFrame(cols).filter(pl.col("ts") < result.end_ts)
        df = df.with_row_index("lidx").with_columns(pl.col("lidx").cast(pl.Int64))
        tables[etype] = df
        keys.append(
            df.select("ts", "cust", pl.lit(TYPE_CODE[etype], dtype=pl.Int64).alias("tcode"), "lidx")
        )
    order = pl.concat(keys).sort(["ts", "cust", "tcode", "lidx"])
    order = order.with_row_index("pos").with_columns(pl.col("pos").cast(pl.Int64))
    counts = {EVENT_TYPES[t]: n for t, n in order.group_by("tcode").len().sort("tcode").iter_rows()}

    pub_frame = pl.DataFrame(
        {"lidx": np.arange(pub_ts.size, dtype=np.int64), "data": pl.Series(pub_data, dtype=pl.Utf8)}
    )
    files: list[Path] = []
    total = order.height
    for part, lo in enumerate(range(0, total, rows_per_file)):
        chunk = order.slice(lo, rows_per_file)
        pieces = []
        for tcode, grp in chunk.group_by("tcode", maintain_order=False):
            tcode = tcode[0]
            if tcode == 0:
                body = grp.select("pos", "lidx").join(pub_frame, on="lidx", how="left")
                pieces.append(body.select("pos", "data"))
                continue
            etype = EVENT_TYPES[tcode]
            sub = tables[etype][grp["lidx"].to_numpy()]
            built = sub.select(data_expr(etype, seed, offer_ids).alias("data"))
            pieces.append(pl.DataFrame({"pos": grp["pos"]}).hstack(built))
        data = pl.concat(pieces).sort("pos")
        frame = (
            chunk.join(data, on="pos", how="left")
            .sort("pos")
            .select(
                pl.concat_str([pl.lit(f"sim{seed}-"), pl.col("pos").cast(pl.Utf8)]).alias(
                    "event_id"
                ),
                pl.col("tcode")
                .replace_strict(
                    list(range(len(EVENT_TYPES))), list(EVENT_TYPES), return_dtype=pl.Utf8
                )
                .alias("event_type"),
                pl.lit(1, dtype=pl.Int32).alias("schema_version"),
                _ts_str(pl.col("ts")).alias("occurred_at"),
                pl.lit(SOURCE).alias("source"),
                pl.when(pl.col("cust") >= 0)
                .then(customer_id_expr(seed))
                .otherwise(pl.lit(""))
                .alias("customer_id"),
                pl.col("data"),
            )
        )
        if frame["data"].null_count():
            raise RuntimeError(
                "simulator produced an event without payload (code out of vocabulary)"
            )
        path = events_dir / f"sim-s{seed}-{part:03d}.{fmt}"
        if fmt == "parquet":
            table = frame.to_arrow().cast(PARQUET_SCHEMA)
            pq.write_table(table, path, compression="zstd", write_statistics=True)
        else:
            line = pl.concat_str(
                [
                    pl.lit('{"event_id":"'),
                    pl.col("event_id"),
                    pl.lit('","event_type":"'),
                    pl.col("event_type"),
                    pl.lit('","schema_version":1,"occurred_at":"'),
                    pl.col("occurred_at"),
                    pl.lit(f'","source":"{SOURCE}","customer_id":"'),
                    pl.col("customer_id"),
                    pl.lit('","data":'),
                    pl.col("data"),
                    pl.lit("}"),
                ]
            )
            text = frame.select(line.str.join("\n")).item()
            path.write_bytes(text.encode() + b"\n")
        files.append(path)
    return files, counts


def write_truth(result: EngineResult, seed: int, truth_dir: Path) -> list[Path]:
    truth_dir.mkdir(parents=True, exist_ok=True)
    tm = result.truth_monthly
    monthly = pl.DataFrame(
        {
            "cust": tm["cust"],
            "as_of": tm["as_of"].astype("datetime64[D]"),
            "churn_propensity_30d": tm["propensity"],
            "hazard": tm["hazard"],
            "main_driver": pl.Series(DRIVERS_TRUTH).gather(tm["driver"])
            if tm["cust"].size
            else pl.Series([], dtype=pl.Utf8),
            "status": pl.Series(STATUS_NAMES).gather(tm["status"])
            if tm["cust"].size
            else pl.Series([], dtype=pl.Utf8),
        }
    ).select(customer_id_expr(seed).alias("customer_id"), pl.exclude("cust"))
    tc = result.truth_customers
    c = result.catalogue
    offer_ids = pl.Series([o.offer_id for o in c.offers] + [None])
    churn_type = np.where(tc["churn_type"] >= 0, tc["churn_type"], len(END_NAMES))
    customers = (
        pl.DataFrame(
            {
                "cust": tc["cust"],
                "signup_date": tc["signup_day"].astype("datetime64[D]"),
                "pass_only": tc["pass_only"],
                "country": pl.Series([x[0] for x in cat.COUNTRIES]).gather(tc["country"]),
                "signup_platform": pl.Series(cat.PLATFORMS).gather(tc["platform"]),
                "acquisition_channel": pl.Series(cat.CHANNELS).gather(tc["channel"]),
                "first_offer_id": offer_ids.gather(
                    np.where(tc["first_offer"] >= 0, tc["first_offer"], len(c.offers))
                ),
                "n_subscriptions": tc["n_subscriptions"],
                "churned": tc["churned"],
                "churn_date": np.where(tc["churn_day"] >= 0, tc["churn_day"], 0).astype(
                    "datetime64[D]"
                ),
                "churn_type": pl.Series([*END_NAMES, None]).gather(churn_type),
                "status_at_end": pl.Series(STATUS_NAMES).gather(tc["status"]),
                "frailty": tc["frailty"],
                "payment_risk": tc["payment_risk"],
                "tech_trouble": tc["tech_trouble"],
                "price_sensitivity": tc["price_sensitivity"],
                "engagement_mean_log_minutes": tc["engagement_mean"],
            }
        )
        .with_columns(
            pl.when(pl.col("churned"))
            .then(pl.col("churn_date"))
            .otherwise(None)
            .alias("churn_date"),
        )
        .select(customer_id_expr(seed).alias("customer_id"), pl.exclude("cust"))
    )
    paths = [
        truth_dir / f"sim-s{seed}-customer_month_truth.parquet",
        truth_dir / f"sim-s{seed}-customers.parquet",
    ]
    pq.write_table(monthly.to_arrow(), paths[0], compression="zstd")
    pq.write_table(customers.to_arrow(), paths[1], compression="zstd")
    manifest = {
        "seed": seed,
        "window_start": datetime.fromtimestamp(result.start_ts, UTC).strftime(TS_FMT),
        "window_end": datetime.fromtimestamp(result.end_ts, UTC).strftime(TS_FMT),
        "window_days": (result.end_ts - result.start_ts) // SEC_DAY,
        "drivers": list(DRIVERS_TRUTH),
        "notes": "Ground truth of the simulator. churn_propensity_30d: probability that the "
        "customer decides to churn (cancellation request, or a failed renewal that is never "
        "recovered) within 30 days of as_of; hazard: latent monthly voluntary churn hazard.",
    }
    mpath = truth_dir / f"sim-s{seed}-manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2) + "\n")
    return [*paths, mpath]
