"""Reference tables for money: daily FX rates (ECB, via `currencyconverter`) and minor units.

Rates are written for every calendar day of the data, in the direction the marts need
(reporting-currency units per one unit of the event's currency), rounded to 10 decimals so
that every later product stays an exact decimal. On a day without an ECB rate (weekends,
holidays, after the package's last date) the last earlier rate applies (METRICS.md).
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

import duckdb
import pyarrow as pa
from babel.numbers import get_currency_precision
from currency_converter import CurrencyConverter, RateNotFoundError

from foundation.contract.types import EARLIEST, LATEST

RATE_QUANTUM = Decimal("1e-10")


@cache
def _converter() -> CurrencyConverter:
    return CurrencyConverter(decimal=True, fallback_on_missing_rate=False)


class UnknownCurrencyError(ValueError):
    pass


def daily_rates(currency: str, reporting: str, first: date, last: date) -> list[Decimal]:
    """Rates for each day from `first` to `last`, carrying the last published rate forward."""
    c = _converter()
    if currency == reporting:
        return [Decimal(1)] * ((last - first).days + 1)
    missing = {currency, reporting} - set(c.currencies)
    if missing:
        raise UnknownCurrencyError(f"no ECB reference rate for {', '.join(sorted(missing))}")
    # Start from the latest published rate on or before `first`.
    lookback = first
    bounds_first = max(c.bounds[currency].first_date, c.bounds[reporting].first_date)
    current: Decimal | None = None
    while current is None:
        try:
            current = c.convert(1, currency, reporting, lookback)
        except RateNotFoundError:
            if lookback <= bounds_first:
                lookback = bounds_first
                current = c.convert(1, currency, reporting, lookback)
                break
            lookback -= timedelta(days=1)
    rates = []
    day = first
    while day <= last:
        with contextlib.suppress(RateNotFoundError):
            current = c.convert(1, currency, reporting, day)
        rates.append(Decimal(current).quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN))
        day += timedelta(days=1)
    return rates


def _within_contract(day: date) -> date:
    return min(max(day, EARLIEST.date()), LATEST.date() - timedelta(days=1))


def minor_units(currency: str) -> int:
    return int(get_currency_precision(currency))


def refresh_reference_tables(con: duckdb.DuckDBPyConnection, reporting_currency: str) -> list[str]:
    """(Re)write raw.fx_rates and raw.currencies for the data in raw.events.

    Returns the currencies that have no ECB rate (their money cannot be converted).
    """
    bounds = con.execute(
        "select min(occurred_at)::date, max(occurred_at)::date from raw.events"
    ).fetchall()[0]
    currencies = sorted(
        {reporting_currency}
        | {
            r[0]
            for r in con.execute(
                "select distinct data->>'currency' from raw.events "
                "where data->>'currency' is not null"
            ).fetchall()
        }
    )
    first, last = bounds if bounds[0] else (date.today(), date.today())
    # The calendar spans the contract's timestamp range at most: a row loaded before the
    # contract had one (year 1, year 9999) must neither overflow the date arithmetic nor make
    # the calendar millions of days long. Money outside it has no rate (and no such money can
    # be loaded any more).
    first, last = _within_contract(first), _within_contract(last)
    first -= timedelta(days=1)
    days, codes, rates, unknown = [], [], [], []
    n = (last - first).days + 1
    calendar = [first + timedelta(days=i) for i in range(n)]
    for code in currencies:
        try:
            series = daily_rates(code, reporting_currency, first, last)
        except UnknownCurrencyError:
            unknown.append(code)
            continue
        days += calendar
        codes += [code] * n
        rates += series
    fx = pa.table(
        {
            "rate_date": pa.array(days, pa.date32()),
            "currency": pa.array(codes, pa.string()),
            "reporting_currency": pa.array([reporting_currency] * len(days), pa.string()),
            "rate": pa.array(rates, pa.decimal128(18, 10)),
        }
    )
    units = pa.table(
        {
            "currency": pa.array(currencies, pa.string()),
            "minor_units": pa.array([minor_units(c) for c in currencies], pa.int32()),
            "minor_unit_value": pa.array(
                [Decimal(1).scaleb(-minor_units(c)) for c in currencies], pa.decimal128(10, 6)
            ),
        }
    )
    con.register("fx_arrow", fx)
    con.register("units_arrow", units)
    try:
        con.execute("begin transaction")
        con.execute("create or replace table raw.fx_rates as select * from fx_arrow")
        con.execute("create or replace table raw.currencies as select * from units_arrow")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("fx_arrow")
        con.unregister("units_arrow")
    return unknown
