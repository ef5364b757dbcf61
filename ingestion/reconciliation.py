"""The reconciliation of the marts with the providers' own views (`marts.reconciliation_provider`,
built by dbt from `raw.provider_views`, which ingestion loads): what the pipeline's asset check
and the Data health page report."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

MART = "marts.reconciliation_provider"
SHOWN_CUSTOMERS = 10


@dataclass(frozen=True)
class Reconciliation:
    """The comparison of every provider view loaded."""

    sources: list[str]
    customers: int  # customer x currency rows compared
    differing: int  # of which do not match
    # currency -> churniq MRR - provider MRR over the differing customers (major units)
    difference_by_currency: dict[str, Decimal]
    subscriptions_difference: int  # churniq's live subscriptions - the provider's
    first_differing: list[str]  # `source:customer currency difference`, largest first
    behind: list[str]  # `source: view of D, churniq as of E` where churniq's as-of is earlier

    @property
    def matches(self) -> bool:
        return self.differing == 0


def reconciliation(con: duckdb.DuckDBPyConnection) -> Reconciliation | None:
    """The state of `marts.reconciliation_provider`; None when no provider view was loaded
    (no mart yet, or an empty one)."""
    exists = con.execute(
        """select 1 from information_schema.tables
           where table_schema = 'marts' and table_name = 'reconciliation_provider'"""
    ).fetchall()
    if not exists:
        return None
    sources = [
        r[0]
        for r in con.execute(f"select distinct provider_source from {MART} order by 1").fetchall()
    ]
    if not sources:
        return None
    customers, differing, subscriptions = con.execute(
        f"""select count(*), count(*) filter (where not matches),
                   coalesce(sum(subscriptions_difference) filter (where not matches), 0)
            from {MART}"""
    ).fetchall()[0]
    by_currency = con.execute(
        f"""select currency, sum(mrr_difference) from {MART} where not matches
            group by currency order by currency"""
    ).fetchall()
    first = con.execute(
        f"""select provider_source, customer_id, currency, mrr_difference,
                   subscriptions_difference
            from {MART} where not matches
            order by abs(mrr_difference) desc, abs(subscriptions_difference) desc,
                     provider_source, customer_id, currency
            limit {SHOWN_CUSTOMERS}"""
    ).fetchall()
    behind = con.execute(
        f"""select provider_source, max(as_of_date), max(churniq_as_of_date) from {MART}
            group by provider_source having max(churniq_as_of_date) < max(as_of_date)
            order by provider_source"""
    ).fetchall()
    return Reconciliation(
        sources=sources,
        customers=int(customers),
        differing=int(differing),
        difference_by_currency={c: Decimal(d) for c, d in by_currency},
        subscriptions_difference=int(subscriptions),
        first_differing=[
            f"{s}:{c} {cur} {d:+} MRR, {n:+} subscription(s)" for s, c, cur, d, n in first
        ],
        behind=[f"{s}: view of {v}, churniq as of {a}" for s, v, a in behind],
    )
