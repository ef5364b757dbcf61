"""Every page under every role: each opens without an error for viewer, retention and admin,
and shows the actions a role may take and none it may not (exports and campaigns from
retention up, data-health actions for admins only)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from app.users import ROLES, save_user
from tests.app.page_support import Runner, captions, open_page
from tests.app.test_app_data_health import OPS_SQL

PAGES = [
    "views/overview.py",
    "views/mrr.py",
    "views/churn.py",
    "views/cohorts.py",
    "views/at_risk.py",
    "views/subscriber.py",
    "views/revenue.py",
    "views/offers.py",
    "views/support.py",
    "views/models.py",
    "views/data_health.py",
]
# the weakest role that may take each action; where the action shows
ACTIONS = {
    "export the at-risk selection": ("retention", "views/at_risk.py"),
    "launch a campaign": ("retention", "views/at_risk.py"),
    "replay quarantined lines": ("admin", "views/data_health.py"),
}
SUBSCRIBER_EXPORTS = {"dl_at_risk_csv", "dl_at_risk_parquet"}


def shown(at: AppTest, action: str) -> bool:
    keys = {b.key for b in at.get("download_button")}
    forms = {b.label for b in at.get("form_submit_button")}
    texts = captions(at) + " ".join(i.value for i in at.info)
    if action == "export the at-risk selection":
        return bool(keys & SUBSCRIBER_EXPORTS)
    if action == "launch a campaign":  # the form, or how to connect the app to the core
        return "Launch campaign" in forms or "churniq core create-key" in texts
    return "Request replay" in forms


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_each_role_sees_the_page_and_only_its_actions(
    snapshot_home: Path, app_runner: Runner, page: str, role: str
) -> None:
    with duckdb.connect(str(snapshot_home / "serving.duckdb")) as con:
        con.execute(OPS_SQL)  # what the data-health page shows
    save_user(snapshot_home, f"a-{role}", "a-long-password", role)
    at = open_page(app_runner, page, user=f"a-{role}")
    assert not at.exception
    assert at.title[0].value != "Sign in to ChurnIQ"
    for action, (weakest, where) in ACTIONS.items():
        if where != page:
            continue
        may = ROLES.index(role) >= ROLES.index(weakest)
        assert shown(at, action) is may, (action, role)
