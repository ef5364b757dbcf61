"""The real page in headless Chromium: it renders without errors and its export is the data."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest

from app.users import save_user
from foundation.settings import get_settings
from ingestion.simulator import simulate
from pipelines.run import run_pipeline
from tests.browser.shoot import (
    CHROMIUM,
    SHOTS,
    browser_page,
    riskiest_customer,
    served,
    sign_in,
    visit,
    wait_ready,
)

PASSWORD = "analyst-password"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("browser-home")
    settings = get_settings(home=home)
    simulate(
        customers=300, months=12, seed=5, events_dir=settings.paths.landing,
        truth_dir=settings.paths.ground_truth,
    )  # fmt: skip
    run_pipeline(settings)
    save_user(home, "analyst", PASSWORD, "viewer")
    return home


def test_every_page_renders_and_the_exports_are_the_data(home: Path, tmp_path: Path):
    """Signed in as a retention user: nothing before signing in; every page drawn without an
    error (Subscriber 360 on the riskiest customer); the at-risk list's toolbar download for
    retention and none for a viewer; the overview's movements download and the
    at-risk export hold the snapshot's rows."""
    save_user(home, "retainer", PASSWORD, "retention")
    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    months = con.execute("select count(*) from marts.metrics_monthly").fetchall()[0][0]
    scored = {
        r[0]: r[1]
        for r in con.execute(
            """select customer_id, churn_probability from ml.churn_scores
               where scored_at = (select max(scored_at) from ml.churn_scores)"""
        ).fetchall()
    }
    con.close()
    customer_id = riskiest_customer(home)
    with served(home) as url, browser_page() as page:
        page.goto(url)
        assert page.get_by_text("MRR movements").count() == 0  # nothing before signing in
        sign_in(page, "retainer", PASSWORD)
        wait_ready(page, "MRR movements")
        for label in ("MRR", "ARR", "Paying customers", "Customer churn rate", "Net new MRR"):
            assert page.get_by_text(label, exact=True).count() >= 1, label
        movements = download(page, "Download movements (CSV)", tmp_path / "movements.csv")
        for shot in SHOTS:
            visit(page, shot, customer_id)
            assert page.locator('[data-testid="stException"]').count() == 0, shot.title
            assert page.get_by_text("No data yet").count() == 0, shot.title
            if shot.customer:  # drawn for the customer typed in
                box = page.get_by_role("textbox", name="Customer id")
                assert box.input_value() == customer_id
                assert page.get_by_text("No customer with id").count() == 0
                assert page.get_by_role("heading", name="Timeline").count() >= 1
        at_risk = next(s for s in SHOTS if s.title == "At-risk subscribers")
        visit(page, at_risk)
        exported = download(page, "Export selection (CSV)", tmp_path / "at_risk.csv")
        list_downloads = {"retention": downloads_on_hover(page)}
        page.get_by_role("button", name="Sign out").click()
        sign_in(page, "analyst", PASSWORD)  # a viewer: the same list, without its download
        visit(page, at_risk)
        list_downloads["viewer"] = downloads_on_hover(page)
    assert list_downloads == {"retention": 1, "viewer": 0}
    assert 0 < len(movements) <= months * 10 and {"month"} <= set(movements[0])
    assert len(exported) == len(scored)  # no filter: every scored subscriber, once
    assert {r["customer_id"] for r in exported} == set(scored)
    assert all(
        abs(float(r["churn_probability"]) - scored[r["customer_id"]]) < 1e-9 for r in exported
    )


def downloads_on_hover(page) -> int:
    """The "Download as CSV" buttons shown while the pointer is on the at-risk list (the
    page's first table, a grid or a static table)."""
    listed = page.locator('[data-testid="stDataFrame"], [data-testid="stTable"]').first
    listed.wait_for(timeout=60_000)
    listed.hover()
    page.wait_for_timeout(500)  # the toolbar fades in
    return page.get_by_role("button", name="Download as CSV").count()


def download(page, label: str, target: Path) -> list[dict[str, str]]:
    with page.expect_download() as started:
        page.get_by_text(label).click()
    started.value.save_as(target)
    return list(csv.DictReader(io.StringIO(target.read_text())))


def test_empty_home_shows_what_to_do(tmp_path: Path):
    with served(tmp_path) as url, browser_page() as page:
        page.goto(url)
        wait_ready(page, "No users yet")
        save_user(tmp_path, "analyst", PASSWORD, "viewer")
        page.reload()
        sign_in(page, "analyst", PASSWORD)
        wait_ready(page, "No data yet")
        assert page.get_by_text("churniq run").count() >= 1
