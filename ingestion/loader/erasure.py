"""Right to erasure in the raw layer (CONTRACT.md, `customer.erased`).

Once a customer is erased, their `customer.created` / `customer.updated` events in `raw.events`
lose every personal attribute (the keys below are removed from `data`; the rows stay, keyed by
the pseudonymous id, so customer counts and revenue still add up), and their quarantined lines
lose their original text. The loader does this inside the transaction of every batch that
brings an erasure, or any line of an already erased customer, so an attribute never outlives
the batch that makes it erasable, whatever the arrival order.

Dedupe compares bodies with the attributes of erased customers removed on both sides: the
original of a scrubbed event, delivered again, is a duplicate, not a conflict.

dbt staging (`stg_events__customers`) already nulls these attributes for erased customers;
this makes the raw layer agree.
"""

from __future__ import annotations

import json

import duckdb

PERSONAL_ATTRIBUTES = ("country", "signup_platform", "acquisition_channel", "marketing_consent")
PROFILE_EVENTS = ("customer.created", "customer.updated")
ERASED = "erased"  # the temp table of the batch's erased customers

_PATCH = "'" + json.dumps(dict.fromkeys(PERSONAL_ATTRIBUTES)) + "'"  # null removes a key
_PROFILE = ", ".join(f"'{t}'" for t in PROFILE_EVENTS)
_KEYS = "[" + ", ".join(f"'{k}'" for k in PERSONAL_ATTRIBUTES) + "]"


def customer_of_text(text: str) -> str:
    """SQL: the customer_id named in a raw line, even one that is not valid JSON."""
    return (
        f"coalesce(try(json_extract_string({text}, '$.customer_id')), "
        f'nullif(regexp_extract({text}, \'"customer_id"\\s*:\\s*"([^"]*)"\', 1), \'\'))'
    )


def comparable_data(data: str = "data") -> str:
    """SQL: `data` as dedupe compares it (personal attributes of erased customers removed)."""
    return (
        f"case when event_type in ({_PROFILE}) and customer_id in (select customer_id from "
        f"{ERASED}) then json_merge_patch({data}, {_PATCH}) else {data} end"
    )


def find_erased(con: duckdb.DuckDBPyConnection, judged: str = "judged") -> None:
    """Temp table `erased`: the customers of the batch `judged` (good or bad lines) who are
    erased in raw.events or by a good line of the batch. Run before the batch is inserted."""
    con.execute(
        f"""
        create or replace temp table {ERASED} as
        select distinct customer_id from (
          select customer_id from raw.events where event_type = 'customer.erased'
          union all
          select customer_id from {judged}
          where failure is null and event_type = 'customer.erased'
        )
        where customer_id in (
          select customer_id from {judged} where failure is null and customer_id <> ''
          union
          select {customer_of_text("text")} from {judged} where failure is not null
        )
        """
    )


def scrub_erased(con: duckdb.DuckDBPyConnection) -> int:
    """Remove the personal attributes of the customers in `erased` from raw.events and the text
    of their quarantined lines; returns how many events were scrubbed. Run after the batch is
    inserted, in its transaction."""
    if not con.execute(f"select count(*) from {ERASED}").fetchall()[0][0]:
        return 0
    # an erasure of the batch that did not land (a conflicting duplicate) erases nobody
    con.execute(
        f"""delete from {ERASED} where customer_id not in (
              select customer_id from raw.events where event_type = 'customer.erased'
              and customer_id in (select customer_id from {ERASED}))"""
    )
    scrubbed = con.execute(
        f"""
        update raw.events set data = json_merge_patch(data, {_PATCH})
        where event_type in ({_PROFILE})
          and customer_id in (select customer_id from {ERASED})
          and list_has_any(json_keys(data), {_KEYS})
        """
    ).fetchall()[0][0]
    con.execute(
        f"""
        update raw.quarantine set raw_text = null
        where raw_text is not null
          and {customer_of_text("raw_text")} in (select customer_id from {ERASED})
        """
    ).fetchall()
    return int(scrubbed)


def scrub_all_erased(con: duckdb.DuckDBPyConnection) -> int:
    """Scrub every erased customer of the warehouse, in one transaction (for raw events loaded
    before the loader scrubbed them); returns how many events were scrubbed."""
    con.execute("begin transaction")
    try:
        con.execute(
            f"""create or replace temp table {ERASED} as select distinct customer_id
                from raw.events where event_type = 'customer.erased'"""
        )
        n = scrub_erased(con)
        con.execute(f"drop table {ERASED}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("checkpoint")
    return n
