"""Retention campaigns from the at-risk page: a retention user launches one in a real core (its
HTTP API served by uvicorn on a local port, a SQLite core database) for the selected subscribers,
with a control group; every role follows the results, treatment against control, from
``marts.campaign_results`` with a confidence interval."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import uvicorn
from sqlalchemy import func, select

from app.core_client import KEY_ENV, URL_ENV, save_connection
from app.users import save_user
from core import catalog, customers, subscriptions
from core.api.app import create_app
from core.keys import create_key
from core.migrate import upgrade
from core.schema import Campaign, CampaignMember
from core.unit import Core
from tests.app.page_support import Runner, captions, open_page

PAGE = "views/at_risk.py"
# ml.churn_scores of the fixture snapshot, latest scoring: these customers, most MRR at risk first
SCORED = ["c1", "c3", "c8", "c2", "c5", "c4", "c6", "c7"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_core(tmp_path: Path) -> Iterator[tuple[Core, str, dict[str, str]]]:
    """A migrated core with a coupon and one live subscriber per scored customer, served over
    HTTP; yields the core, the API's URL and the scored id → core customer id mapping."""
    url = f"sqlite:///{tmp_path / 'core.db'}"
    upgrade(url)
    core = Core(url)
    ids: dict[str, str] = {}
    with core.unit() as u:
        catalog.create_offer(
            u, offer_id="monthly", title="Monthly", offer_type="subscription",
            prices={"EUR": 999}, billing_period="P1M",
        )  # fmt: skip
        catalog.create_coupon(
            u, coupon_id="SAVE30", discount_type="percent", percent_off=30, duration="repeating",
            duration_months=3,
        )  # fmt: skip
        for scored in SCORED:
            customer = customers.create_customer(u, country="DE", signup_platform="web")
            customers.add_payment_method(
                u, customer.id, card_number="4242424242424242", exp_month=12, exp_year=2030
            )
            subscriptions.start_subscription(
                u, customer_id=customer.id, offer_id="monthly", platform="web", currency="EUR",
                with_trial=False,
            )  # fmt: skip
            ids[scored] = customer.id
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(core), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the core API did not start"
    yield core, f"http://127.0.0.1:{port}", ids
    server.should_exit = True
    thread.join(timeout=10)
    core.close()


def _retention_key(core: Core) -> str:
    with core.unit(actor="test", role="admin") as u:
        _, secret = create_key(u, "retention", "dashboards")
    return secret


@pytest.fixture
def connected_home(
    snapshot_home: Path, live_core, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Core, dict[str, str]]:
    """The fixture snapshot with the core's customer ids, and the app connected to the core."""
    core, url, ids = live_core
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)
    save_connection(snapshot_home, url, _retention_key(core))
    with duckdb.connect(str(snapshot_home / "serving.duckdb")) as con:
        for scored, real in ids.items():
            con.execute(
                "update ml.churn_scores set customer_id = ? where customer_id = ?", [real, scored]
            )
    save_user(snapshot_home, "keeper", "keeper-password", "retention")
    return snapshot_home, core, ids


def _members(core: Core) -> dict[str, int]:
    with core.unit() as u:
        rows = u.session.execute(
            select(CampaignMember.group, func.count()).group_by(CampaignMember.group)
        ).all()
    return dict(rows)


def _form_slider(at):
    return next(s for s in at.slider if s.label == "Control group share")


def test_retention_launches_a_campaign_for_the_selection(
    connected_home, app_runner: Runner
) -> None:
    home, core, ids = connected_home
    at = open_page(app_runner, PAGE, user="keeper")
    at.multiselect(key="at_risk_bands").set_value(["high"]).run()
    # the high band of the latest scoring, most MRR at risk first: c1 (16), c8 (9), c2 (6)
    expected = [ids["c1"], ids["c8"], ids["c2"]]
    assert list(at.dataframe[0].value["customer_id"]) == expected
    assert "3 members: 2 offered the coupon, 1 in the control group." in captions(at)
    at.text_input[0].set_value("High-risk save")
    _form_slider(at).set_value(25)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    success = " ".join(s.value for s in at.success)
    assert "launched: 2 offered SAVE30, 1 in the control group" in success
    with core.unit() as u:
        campaign = u.session.scalars(select(Campaign)).one()
        members = u.session.scalars(select(CampaignMember.customer_id)).all()
    assert campaign.name == "High-risk save" and campaign.coupon_id == "SAVE30"
    assert campaign.control_share == 0.25
    assert sorted(members) == sorted(expected)
    assert _members(core) == {"treatment": 2, "control": 1}  # round(3 × 0.25) = 1


def test_viewer_sees_results_but_no_launch(connected_home, app_runner: Runner) -> None:
    home, _, _ = connected_home
    save_user(home, "looker", "looker-password", "viewer")
    at = open_page(app_runner, PAGE, user="looker")
    assert not at.get("form_submit_button")
    assert "Launching campaigns needs the retention role (or admin)." in captions(at)
    assert "`marts.campaign_results` table yet" in " ".join(i.value for i in at.info)


def test_without_a_core_connection_says_how_to_connect(
    snapshot_home: Path, app_runner: Runner, monkeypatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)
    at = open_page(app_runner, PAGE)
    assert not at.get("form_submit_button")
    assert "churniq core create-key --role retention --for-app" in " ".join(
        i.value for i in at.info
    )


def test_an_unreachable_core_is_a_warning(
    snapshot_home: Path, app_runner: Runner, monkeypatch
) -> None:
    monkeypatch.setenv(URL_ENV, f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setenv(KEY_ENV, "ck_not_used")
    at = open_page(app_runner, PAGE)
    assert not at.exception
    assert "is unreachable" in at.warning[0].value
    assert not at.get("form_submit_button")


# marts.campaign_results: spring (2024-03-01) kept subscribers: treatment 30 of 400 churned against
# 52 of 100 in control; loyalty (2024-03-20): 10 of 100 against 12 of 100, no clear difference.
RESULT_ROWS = """
('spring',  'treatment', 'SAVE30', timestamp '2024-03-01 10:00', 30, 420, 400, 30),
('spring',  'control',   'SAVE30', timestamp '2024-03-01 10:00', 30, 105, 100, 52),
('loyalty', 'treatment', 'LOYAL',  timestamp '2024-03-20 09:00', 11, 100, 100, 10),
('loyalty', 'control',   'LOYAL',  timestamp '2024-03-20 09:00', 11, 100, 100, 12)
"""


def test_results_treatment_against_control(
    snapshot_home: Path, app_runner: Runner, monkeypatch
) -> None:
    from tests.models.test_experiments import newcombe

    monkeypatch.delenv(URL_ENV, raising=False)
    with duckdb.connect(str(snapshot_home / "serving.duckdb")) as con:
        con.execute(
            "create table marts.campaign_results as select campaign_id, experiment_group,"
            " 'coupon_offered' as action, coupon_id, launched_at, launched_at::date as launch_date,"
            " observed_days, observed_days >= 30 as observable_30d, false as observable_90d,"
            " members, paying_at_launch, churned, churned as churned_within_30d,"
            " churned as churned_within_90d, 0::decimal(38,6) as mrr_at_launch,"
            " 0::decimal(38,6) as mrr_now, churned / paying_at_launch as churn_rate,"
            " null::double as revenue_retention"
            f" from (values {RESULT_ROWS}) as t(campaign_id, experiment_group, coupon_id,"
            " launched_at, observed_days, members, paying_at_launch, churned)"
        )
    save_user(snapshot_home, "looker", "looker-password", "viewer")
    at = open_page(app_runner, PAGE, user="looker")
    shown = at.dataframe[-1].value.set_index("campaign_id")
    assert list(shown.index) == ["loyalty", "spring"]  # newest first
    spring = shown.loc["spring"]
    assert (spring["treatment_members"], spring["control_members"]) == (420, 105)
    assert spring["treatment_churn_rate"] == pytest.approx(30 / 400)
    assert spring["control_churn_rate"] == pytest.approx(52 / 100)
    lower, upper = newcombe(30, 400, 52, 100)
    assert (spring["ci_lower"], spring["ci_upper"]) == (pytest.approx(lower), pytest.approx(upper))
    assert spring["verdict"] == "fewer churned with the offer"
    assert shown.loc["loyalty", "verdict"] == "no clear difference (yet)"
    assert "dl_campaigns" in [b.key for b in at.get("download_button")]
