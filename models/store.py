"""Reading model inputs from the warehouse and writing the `ml.*` tables back.

The models read the published marts (never raw events), so they see exactly what the dashboards
see. Tables are replaced whole inside one transaction: a failed write leaves the previous table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd

ML_SCHEMA = "ml"


def as_of_date(con: duckdb.DuckDBPyConnection) -> pd.Timestamp:
    """The as-of date of the marts: the month end of the as-of month in customer_months."""
    value = con.execute("select max(month_end) from marts.customer_months").fetchone()[0]
    if value is None:
        raise LookupError("marts.customer_months is empty: run the pipeline first")
    return pd.Timestamp(value)


def survival_input(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per customer who ever paid: tenure in days from the first paid day to the first
    churn after it (event) or to the as-of date (censored), and the segments of the curves.

    offer_type and offer_id are those of the customer's primary subscription in their first paid
    month.
    """
    return con.execute(
        """
        with as_of as (select max(month_end) as as_of_date from marts.customer_months),
        first_churn as (
            select movements.customer_id, min(movements.movement_date) as churned_on
            from marts.fct_mrr_movements as movements
            inner join marts.dim_customers as customers using (customer_id)
            where movements.movement_type = 'churn'
              and movements.movement_date >= customers.first_paid_date
            group by movements.customer_id
        ),
        first_offer as (
            select
                customer_id,
                arg_min(offer_type, month) as offer_type,
                arg_min(offer_id, month) as offer_id
            from marts.customer_months
            where mrr > 0
            group by customer_id
        )
        select
            customers.customer_id,
            customers.first_paid_date,
            first_churn.churned_on,
            cast(datediff('day', customers.first_paid_date,
                          coalesce(first_churn.churned_on, as_of.as_of_date)) as bigint)
                as duration_days,
            first_churn.churned_on is not null as churned,
            cast(datediff('day', customers.first_paid_date, as_of.as_of_date) as bigint)
                as followup_days,
            coalesce(first_offer.offer_type, 'unknown') as offer_type,
            coalesce(first_offer.offer_id, 'unknown') as offer_id,
            coalesce(customers.signup_platform, 'unknown') as platform,
            coalesce(customers.country, 'unknown') as country,
            strftime(customers.cohort_month, '%Y-%m') as cohort_month
        from marts.dim_customers as customers
        cross join as_of
        left join first_churn using (customer_id)
        left join first_offer using (customer_id)
        where customers.first_paid_date is not null
          and customers.first_paid_date <= as_of.as_of_date
        """
    ).df()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Everything inside commits together or not at all."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[str]:
    con.register("__frame", frame)
    try:
        yield "__frame"
    finally:
        con.unregister("__frame")


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [ML_SCHEMA, name],
        ).fetchone()[0]
    )


def write_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> int:
    """Replace `ml.<name>` with `frame` in one transaction; returns the row count."""
    con.execute(f"create schema if not exists {ML_SCHEMA}")
    with _registered(con, frame) as view, transaction(con):
        con.execute(f'create or replace table {ML_SCHEMA}."{name}" as select * from {view}')
    return len(frame)


def append_rows(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    """Append to `ml.<name>`, creating it on first use (history tables: model runs). Callers
    that append to several tables wrap them in one `transaction`."""
    con.execute(f"create schema if not exists {ML_SCHEMA}")
    with _registered(con, frame) as view:
        if table_exists(con, name):
            con.execute(f'insert into {ML_SCHEMA}."{name}" by name select * from {view}')
        else:
            con.execute(f'create table {ML_SCHEMA}."{name}" as select * from {view}')


def read_table(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame | None:
    """`ml.<name>` as a frame, or None when it does not exist yet."""
    return (
        con.execute(f'select * from {ML_SCHEMA}."{name}"').df() if table_exists(con, name) else None
    )
