"""Compare published marts with the independent reference (`tests.reference.metrics`).

Each function returns a list of human-readable mismatches (empty when the marts agree), so a
failing test shows the exact customer, day, expected and actual values.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from foundation.vocabulary import BRIDGE_COLUMNS
from tests.reference.metrics import Movement, Reference

# metrics_monthly columns compared as exact decimals (money) ...
MONTHLY_EXACT = [
    "mrr",
    "arr",
    *BRIDGE_COLUMNS,
    "net_new_mrr",
    "one_time_revenue",
    "payments",
    "refunds",
    "chargebacks",
]
# ... as integers ...
MONTHLY_COUNTS = [
    "paying_customers",
    "paying_customers_at_start",
    "new_customers",
    "churned_customers",
    "churned_from_start_customers",
    "voluntary_churned_customers",
    "involuntary_churned_customers",
]
# ... and as ratios of two counts (IEEE division of the same two integers: exact equality).
MONTHLY_RATIOS = ["customer_churn_rate"]
MONTHLY = MONTHLY_EXACT + MONTHLY_COUNTS + MONTHLY_RATIOS


def mart_movements(db: Path | str) -> list[Movement]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select movement_date, customer_id, movement_type, mrr_change, mrr_before, mrr_after "
            "from marts.fct_mrr_movements"
        ).fetchall()
    finally:
        con.close()
    return [Movement(*row) for row in rows]


def mart_monthly(db: Path | str) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            f"select month, {', '.join(MONTHLY)} from marts.metrics_monthly"
        ).fetchall()
    finally:
        con.close()
    return {row[0]: dict(zip(MONTHLY, row[1:], strict=True)) for row in rows}


def diff_movements(reference: Reference, got: list[Movement]) -> list[str]:
    """Rows only in the reference (`missing`), only in the mart (`extra`), or in both under the
    same (day, customer, type) key with different amounts (`differs`). Amounts compare as
    decimals (numeric equality, whatever the scale)."""
    want = {(m.movement_date, m.customer_id, m.movement_type): m for m in reference.movements}
    have = {(m.movement_date, m.customer_id, m.movement_type): m for m in got}
    out = []
    if len(want) != len(reference.movements):
        out.append("reference has repeated (day, customer, type) keys")
    if len(have) != len(got):
        out.append("mart has repeated (day, customer, type) keys")
    for key in sorted(want.keys() | have.keys()):
        w, h = want.get(key), have.get(key)
        if h is None:
            out.append(f"missing in mart: {_show(w)}")
        elif w is None:
            out.append(f"extra in mart: {_show(h)}")
        elif (w.mrr_change, w.mrr_before, w.mrr_after) != (h.mrr_change, h.mrr_before, h.mrr_after):
            out.append(f"differs: expected {_show(w)} got {_show(h)}")
    return out


def _show(m: Movement) -> str:
    return (
        f"{m.movement_date} {m.customer_id} {m.movement_type} "
        f"change={m.mrr_change.normalize()} before={m.mrr_before.normalize()} "
        f"after={m.mrr_after.normalize()}"
    )


def diff_monthly(reference: Reference, got: dict, columns: list[str] = MONTHLY) -> list[str]:
    out = []
    if set(got) != set(reference.months):
        out.append(
            f"months differ: only reference {sorted(set(reference.months) - set(got))}, "
            f"only mart {sorted(set(got) - set(reference.months))}"
        )
    for month in sorted(set(got) & set(reference.months)):
        for col in columns:
            want, have = reference.months[month][col], got[month][col]
            if isinstance(want, Decimal) and have is None:
                have = Decimal(0)
            if want != have:
                out.append(f"{month} {col}: expected {want} got {have}")
    return out
