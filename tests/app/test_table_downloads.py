"""Tables of subscriber rows download only for roles that may export: the interactive grid
(whose toolbar has "Download as CSV") for retention and admin, a static table without toolbar
for viewers, showing the same rows. Every page draws its tables through `components.table`, so
this holds on every page."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from app.users import EXPORT_ROLE, ROLES, save_user
from tests.app.page_support import Runner, open_page

APP = Path(__file__).resolve().parents[2] / "app"
BY_RISK = ["c1", "c3", "c8", "c2", "c5", "c4", "c6", "c7"]  # conftest's scoring, riskiest first


def unescaped(value: str) -> str:
    """A static table's cell as the browser shows it (Markdown escapes removed)."""
    return re.sub(r"\\(.)", r"\1", value)


def grids_with_subscribers(at) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if "customer_id" in d.value.columns]


@pytest.mark.parametrize("role", ROLES)
def test_the_at_risk_list_has_a_download_only_for_roles_that_export(
    snapshot_home: Path, app_runner: Runner, role: str
) -> None:
    save_user(snapshot_home, "someone", "some-password", role)
    at = open_page(app_runner, "views/at_risk.py", user="someone")
    if ROLES.index(role) >= ROLES.index(EXPORT_ROLE):
        (grid,) = grids_with_subscribers(at)
        assert list(grid["customer_id"]) == BY_RISK
        assert not at.table
        return
    assert not grids_with_subscribers(at)  # no grid, so no toolbar and no "Download as CSV"
    (static,) = at.table
    shown = static.value.map(unescaped).rename(columns=unescaped)
    assert list(shown["Customer (pseudonymous)"]) == BY_RISK
    first = shown.iloc[0]
    assert first["Churn probability (30 d)"] == "80.00%"
    assert (first["MRR"], first["MRR at risk"], first["Predicted LTV"]) == (
        "20.00",
        "16.00",
        "200.00",
    )
    assert first["Expected months left"] == "10.0"
    assert first["Reason group"] == "Failed payments"


def test_a_hostile_cell_is_text_in_the_static_table(
    snapshot_home: Path, app_runner: Runner
) -> None:
    import duckdb

    link = "![x](http://tracker.example/p.png) [click](http://x.example) <b>bold</b> $x$"
    with duckdb.connect(str(snapshot_home / "serving.duckdb")) as con:
        con.execute("update ml.churn_scores set top_reasons = [?] where customer_id = 'c1'", [link])
    save_user(snapshot_home, "viewer1", "viewer-password", "viewer")
    at = open_page(app_runner, "views/at_risk.py", user="viewer1")
    cell = at.table[0].value.iloc[0]["Top reasons"]
    assert unescaped(cell) == link
    assert not re.search(r"(?<!\\)[\[\]()<>!$]", cell)  # every Markdown character escaped


def test_no_page_draws_a_grid_of_its_own() -> None:
    """`st.dataframe` only in `components.table`, which decides by role."""
    drawn = [
        str(p.relative_to(APP))
        for p in APP.rglob("*.py")
        if "st.dataframe(" in p.read_text() and p.name != "components.py"
    ]
    assert drawn == []
