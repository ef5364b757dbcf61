"""Right to erasure in the raw layer (CONTRACT.md, `customer.erased`).

Once a customer is erased, every one of their events in `raw.events` keeps only the keys of its
payload that the contract defines and that are not personal: a `customer.created` or
`customer.updated` loses every key (all of them are personal attributes), any other event loses
the extra keys a producer added (payloads accept extensions, and an extension may hold an
e-mail, a name or a phone number). The rows stay, keyed by the pseudonymous id, so customer
counts and revenue still add up. Their quarantined lines lose their original text. The loader
does this inside the transaction of every batch that brings an erasure, or any line of an
already erased customer, so a value never outlives the batch that makes it erasable, whatever
the arrival order.

The same transaction records which loaded files hold lines of an erased customer
(`raw.erasure_archives`), so the pipeline can rewrite their archived copies
(`ingestion.loader.archives`); customers whose erasure is loaded but not yet carried through
the core's outbox and the compaction of the files are those not in `raw.erasures_maintained`
(see `pipelines.assets.maintenance`).

Dedupe compares bodies with the same scrubbing applied on both sides for erased customers: the
original of a scrubbed event, delivered again, is a duplicate, not a conflict.

dbt staging (`stg_events__customers`) already nulls the attributes of erased customers;
this makes the raw layer agree.
"""

from __future__ import annotations

import duckdb

from foundation.contract.events import EVENT_MODELS
from foundation.contract.personal import PERSONAL_ATTRIBUTES, kept_keys

from .warehouse import transaction

__all__ = ["PERSONAL_ATTRIBUTES", "comparable_data", "find_erased", "scrub_erased"]

ERASED = "erased"  # the temp table of the batch's erased customers


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]::varchar[]"


_KEPT = (
    "case event_type "
    + " ".join(f"when '{t}' then {_sql_list(kept_keys(t))}" for t in EVENT_MODELS)
    + " else []::varchar[] end"
)


def _dropped(data: str) -> str:
    """SQL: the keys of `data` an erased customer's event may not keep."""
    return f"list_filter(json_keys({data}), lambda k: not list_contains({_KEPT}, k))"


def scrubbed_data(data: str = "data") -> str:
    """SQL: `data` with every key an erased customer's event may not keep removed."""
    dropped = _dropped(data)
    return (
        f"json_merge_patch({data}, to_json(map({dropped}, "
        f"list_transform({dropped}, lambda k: null::json))))"
    )


def customer_of_text(text: str) -> str:
    """SQL: the customer_id named in a raw line, even one that is not valid JSON."""
    return (
        f"coalesce(try(json_extract_string({text}, '$.customer_id')), "
        f'nullif(regexp_extract({text}, \'"customer_id"\\s*:\\s*"([^"]*)"\', 1), \'\'))'
    )


def comparable_data(data: str = "data") -> str:
    """SQL: `data` as dedupe compares it (scrubbed for erased customers)."""
    return (
        f"case when customer_id in (select customer_id from {ERASED}) "
        f"then {scrubbed_data(data)} else {data} end"
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
    record_archives(con)
    scrubbed = con.execute(
        f"""
        update raw.events set data = {scrubbed_data()}
        where customer_id in (select customer_id from {ERASED})
          and len({_dropped("data")}) > 0
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


def record_archives(con: duckdb.DuckDBPyConnection) -> None:
    """Remember the loaded batches that hold lines of the customers in `erased` (events, and
    quarantined lines whose text still names them), for the rewrite of their archived files."""
    con.execute(
        f"""
        insert into raw.erasure_archives
        select distinct batch_id, source_file, customer_id, now()::timestamp, null
        from (
          select batch_id, source_file, customer_id from raw.events
          where customer_id in (select customer_id from {ERASED}) and source_file is not null
          union
          select batch_id, source_file, {customer_of_text("raw_text")} from raw.quarantine
          where raw_text is not null
            and {customer_of_text("raw_text")} in (select customer_id from {ERASED})
        ) found
        where not exists (
          select 1 from raw.erasure_archives a
          where a.batch_id = found.batch_id and a.source_file = found.source_file
            and a.customer_id = found.customer_id
        )
        """
    )


def scrub_all_erased(con: duckdb.DuckDBPyConnection, pending_only: bool = False) -> int:
    """Scrub every erased customer of the warehouse (or those whose erasure is not maintained
    yet), in one transaction: for raw events loaded before the loader scrubbed them as it does
    now; returns how many events were scrubbed."""
    pending = (
        "and customer_id not in (select customer_id from raw.erasures_maintained)"
        if pending_only
        else ""
    )
    with transaction(con):
        con.execute(
            f"""create or replace temp table {ERASED} as select distinct customer_id
                from raw.events where event_type = 'customer.erased' {pending}"""
        )
        n = scrub_erased(con)
        con.execute(f"drop table {ERASED}")
    return n
