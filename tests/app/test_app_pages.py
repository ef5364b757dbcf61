"""What every page does alike: it is in the navigation under its title, and without a
snapshot, or with one that has no marts, it shows the empty state that says what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.components import EMPTY_STATE
from tests.app.page_support import Runner, open_page

PAGES = [
    ("views/mrr.py", "MRR & movements"),
    ("views/churn.py", "Churn"),
    ("views/cohorts.py", "Cohorts & survival"),
    ("views/at_risk.py", "At-risk subscribers"),
    ("views/subscriber.py", "Subscriber 360"),
    ("views/revenue.py", "Revenue & payments"),
    ("views/offers.py", "Offers & coupons"),
    ("views/support.py", "Support"),
    ("views/models.py", "Models"),
    ("views/data_health.py", "Data health"),
]
# what a page says when the snapshot exists but lacks what it reads (default: EMPTY_STATE)
WITHOUT_ITS_TABLES = {
    "views/at_risk.py": "No scores yet: run `churniq run`",
    "views/cohorts.py": "The snapshot has no `marts.cohort_retention` table yet",
    "views/models.py": "No model trained yet: run `churniq run`",
    "views/data_health.py": "The snapshot has no `ops.sources` table yet",
}


@pytest.mark.parametrize(("page", "title"), PAGES)
def test_page_is_registered(snapshot_home: Path, app_runner: Runner, page, title) -> None:
    assert open_page(app_runner, page).title[0].value == title


@pytest.mark.parametrize(("page", "title"), PAGES)
@pytest.mark.parametrize("with_snapshot", [False, True])
def test_empty_state_without_data(
    home: Path, app_runner: Runner, snapshot_builder: Callable[..., Path], page, title,
    with_snapshot,
) -> None:  # fmt: skip
    if with_snapshot:
        snapshot_builder(home, with_marts=False)
    at = open_page(app_runner, page)
    expected = WITHOUT_ITS_TABLES.get(page, EMPTY_STATE) if with_snapshot else EMPTY_STATE
    assert expected in at.info[0].value
    assert not at.metric and not at.get("download_button")


@pytest.mark.parametrize("page", ["views/mrr.py", "views/churn.py"])
def test_a_selection_without_data_warns(snapshot_home: Path, app_runner: Runner, page) -> None:
    at = open_page(app_runner, page)
    at.multiselect(key="filter_platforms").set_value(["ios"])
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    assert "No data for" in at.warning[0].value
    assert not at.metric
