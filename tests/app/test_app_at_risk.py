"""At-risk subscribers page through the whole app (AppTest) and its data functions: KPIs, the
breakdown by reason, the paginated list, filters, latest scoring only, and role-gated exports.

Figures come from conftest's hand-made ``ml.churn_scores`` (table in its comments): the latest
scoring has 8 subscribers, MRR at risk 55, MRR 140 and 3.5 expected churners."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from app.data import at_risk as at_risk_data
from app.metric_help import SCORE_DEFINITIONS
from app.users import save_user
from tests.app.page_support import Runner, captions, download_labels, open_page, source

Builder = Callable[..., Path]

PAGE = "views/at_risk.py"
ALL = {
    "Subscribers": "8",
    "MRR at risk": "€55.00",
    "MRR of the selection": "€140.00",
    "Expected churners": "3.5",
}
BY_RISK = ["c1", "c3", "c8", "c2", "c5", "c4", "c6", "c7"]  # MRR at risk 16, 15, 9, 6, 4, 3, 2, 0


def kpis(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def listed(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["customer_id"])


def test_snapshot_without_scores(home: Path, app_runner: Runner, snapshot_builder: Builder) -> None:
    snapshot_builder(home, with_scores=False)
    at = open_page(app_runner, PAGE)
    assert at.info[0].value.startswith(
        "No scores yet: run `churniq run` once the business has a few months of history"
    )
    assert not at.metric and not at.dataframe and not at.get("download_button")


def test_kpis_list_and_breakdown_of_latest_scoring(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert kpis(at) == ALL
    assert [m.help for m in at.metric] == [
        SCORE_DEFINITIONS[c]
        for c in ("subscribers", "mrr_at_risk", "selection_mrr", "expected_churners")
    ]
    assert "Latest scoring 2024-03-31 · 30-day horizon · model m-2" in captions(at)
    # c9 exists only in the earlier scoring; every other figure differs there too.
    table = at.dataframe[0].value
    assert list(table["customer_id"]) == BY_RISK
    assert list(table["mrr_at_risk"].round(6)) == [16, 15, 9, 6, 4, 3, 2, 0]
    first = table.iloc[0]
    assert first["risk_band"] == "high" and first["churn_probability"] == 0.8
    assert (first["predicted_ltv_lower"], first["predicted_ltv"], first["predicted_ltv_upper"]) == (
        120,
        200,
        280,
    )
    assert first["expected_remaining_months_lower"] == 6
    assert first["top_reasons"] == (
        "2 failed payments in the last 30 days; watch time down 50 % over 4 weeks"
    )
    assert first["top_reason_group"] == "Failed payments"
    assert table.set_index("customer_id").loc["c6", "top_reason_group"] == "No stand-out reason"
    assert "Page 1 of 1 · subscribers 1–8 of 8" in captions(at)
    assert len(at.get("vega_lite_chart")) == 1

    breakdown = at_risk_data.reason_breakdown(source(), at_risk_data.ScoreFilters())
    assert breakdown is not None
    assert list(breakdown["reason"]) == [
        "failed_payments",
        "pending_cancellation",
        "tenure",
        "engagement",
        at_risk_data.NO_REASON,
        "trial",
    ]
    assert list(breakdown["subscribers"]) == [2, 2, 1, 1, 1, 1]
    assert list(breakdown["mrr_at_risk"].round(6)) == [31, 15, 4, 3, 2, 0]


def test_band_filter_narrows_kpis_and_list(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert at.multiselect(key="at_risk_bands").options == ["low", "medium", "high"]
    at.multiselect(key="at_risk_bands").set_value(["high"]).run()
    assert not at.exception
    assert kpis(at) == {
        "Subscribers": "3",
        "MRR at risk": "€31.00",
        "MRR of the selection": "€40.00",
        "Expected churners": "2.3",
    }
    assert listed(at) == ["c1", "c8", "c2"]


def test_probability_filter_narrows_kpis_and_list(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.slider(key="at_risk_min_probability").set_value(50).run()
    assert not at.exception
    assert kpis(at) == {
        "Subscribers": "4",
        "MRR at risk": "€46.00",
        "MRR of the selection": "€70.00",
        "Expected churners": "2.8",
    }
    assert listed(at) == ["c1", "c3", "c8", "c2"]


def test_global_country_filter_applies(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    assert kpis(at) == {
        "Subscribers": "3",
        "MRR at risk": "€28.00",
        "MRR of the selection": "€80.00",
        "Expected churners": "1.5",
    }
    assert listed(at) == ["c3", "c8", "c5"]
    assert "country: DE" in captions(at)


def test_reason_offer_and_value_filters(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    reasons = at.multiselect(key="at_risk_reasons")
    assert reasons.options == [
        "Engagement (watch time)",
        "Failed payments",
        "No stand-out reason",
        "Pending cancellation",
        "Tenure",
        "Trial",
    ]
    reasons.set_value(["failed_payments", "pending_cancellation"]).run()
    assert listed(at) == ["c1", "c3", "c8", "c2"]
    at.number_input(key="at_risk_min_mrr").set_value(15.0).run()
    assert listed(at) == ["c1", "c3"]
    assert kpis(at)["MRR at risk"] == "€31.00"

    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_offer_types").set_value(["bundle"]).run()
    assert listed(at) == ["c5"]
    at = open_page(app_runner, PAGE)
    at.number_input(key="at_risk_min_ltv").set_value(200.0).run()
    assert listed(at) == ["c1", "c3", "c5", "c6"]


def test_no_match_warns(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.slider(key="at_risk_min_probability").set_value(95).run()
    assert not at.exception
    assert kpis(at)["Subscribers"] == "0"
    assert at.warning[0].value == "No subscribers match the filters."
    assert not at.dataframe and not at.get("download_button")


def test_pagination_in_duckdb(snapshot_home: Path) -> None:
    pages = [
        at_risk_data.subscriber_page(source(), at_risk_data.ScoreFilters(), n, 3)
        for n in (1, 2, 3, 4)
    ]
    assert [None if p is None else list(p["customer_id"]) for p in pages] == [
        BY_RISK[:3],
        BY_RISK[3:6],
        BY_RISK[6:],
        [],
    ]


def test_viewer_sees_the_list_but_no_exports(snapshot_home: Path, app_runner: Runner) -> None:
    save_user(snapshot_home, "viewer1", "viewer-password", "viewer")
    at = open_page(app_runner, PAGE, user="viewer1")
    # the list as a static table: no grid, whose toolbar would download it (test_table_downloads)
    assert not at.dataframe and list(at.table[0].value.iloc[:, 0]) == BY_RISK
    # the aggregated reasons behind the chart, not the subscriber list
    assert [b.key for b in at.get("download_button")] == ["dl_at_risk_reasons"]
    assert "Exports need the retention role" in captions(at)


@pytest.mark.parametrize("role", ["retention", "admin"])
def test_retention_and_admin_get_both_exports(
    snapshot_home: Path, app_runner: Runner, role: str
) -> None:
    save_user(snapshot_home, "someone", "some-password", role)
    at = open_page(app_runner, PAGE, user="someone")
    assert download_labels(at) == [
        "Download reasons (CSV)",
        "Export selection (CSV)",
        "Export selection (Parquet)",
    ]
    assert "Exports need the retention role" not in captions(at)
    assert "at most 1,000,000 rows" in captions(at)


def expected_selection(path: Path, *, bands=(), min_p=0.0, countries=()) -> pd.DataFrame:
    """The fixture's rows filtered independently in pandas (latest scoring by hand)."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("select * from ml.churn_scores").df()
    rows = rows[rows["scored_at"] == pd.Timestamp("2024-03-31")]
    rows = rows[rows["churn_probability"] >= min_p]
    if bands:
        rows = rows[rows["risk_band"].isin(bands)]
    if countries:
        rows = rows[rows["country"].isin(countries)]
    return rows.assign(mrr_at_risk=rows["mrr"] * rows["churn_probability"]).sort_values(
        ["mrr_at_risk", "churn_probability", "customer_id"], ascending=[False, False, True]
    )


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (at_risk_data.ScoreFilters(), {}),
        (at_risk_data.ScoreFilters(risk_bands=("high", "medium")), {"bands": ("high", "medium")}),
        (
            at_risk_data.ScoreFilters(min_probability=0.3, countries=("FR",)),
            {"min_p": 0.3, "countries": ("FR",)},
        ),
    ],
)
def test_exports_equal_the_selection(
    snapshot_home: Path, chosen: at_risk_data.ScoreFilters, expected: dict
) -> None:
    want = expected_selection(snapshot_home / "serving.duckdb", **expected)
    csv = pd.read_csv(io.BytesIO(at_risk_data.export_selection(source(), chosen, "csv")))
    parquet = pq.read_table(
        io.BytesIO(at_risk_data.export_selection(source(), chosen, "parquet"))
    ).to_pandas()
    for exported in (csv, parquet):
        assert list(exported["customer_id"]) == list(want["customer_id"])
        assert list(exported["churn_probability"]) == list(want["churn_probability"])
        assert list(exported["mrr"]) == list(want["mrr"])
        assert list(exported["predicted_ltv_upper"]) == list(want["predicted_ltv_upper"])
        assert set(exported["model_version"]) <= {"m-2"}
        # pseudonymous ids and score columns only
        assert {
            "customer_id",
            "scored_at",
            "churn_probability",
            "churn_probability_90d",
            "risk_band",
            "predicted_ltv",
            "expected_remaining_months",
            "top_reasons",
        } <= set(exported.columns)
        assert not {"email", "name"} & set(exported.columns)
    summary = at_risk_data.score_summary(source(), chosen)
    assert summary is not None and summary["subscribers"] == len(want)
    with pytest.raises(ValueError):
        at_risk_data.export_selection(source(), chosen, "xlsx")
