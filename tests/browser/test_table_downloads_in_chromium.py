"""The at-risk list in the real page: a retention user's grid has "Download as CSV" in its
toolbar; a viewer's list is a static table whose toolbar, if any, offers no download. On the
hand-made snapshot of the app tests (no pipeline run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from app.users import save_user
from tests.app.conftest import build_snapshot
from tests.browser.shoot import CHROMIUM, browser_page, served, sign_in, wait_ready

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)
ROLES = ("retention", "viewer")
# the list, whichever way it is drawn (the snapshot has no other table on that page)
LIST = '[data-testid="stDataFrame"], [data-testid="stTable"]'


def downloads_on_hover(page: Page) -> int:
    """Open the at-risk page, hover the subscriber list, count the download buttons shown."""
    page.get_by_role("link", name="At-risk subscribers").click()
    wait_ready(page, "Why they are at risk")
    listed = page.locator(LIST).first
    listed.wait_for(timeout=60_000)
    listed.hover()
    page.wait_for_timeout(500)  # the toolbar fades in
    return page.get_by_role("button", name="Download as CSV").count()


def test_only_roles_that_export_can_download_the_list(tmp_path: Path) -> None:
    build_snapshot(tmp_path)
    for role in ROLES:
        save_user(tmp_path, role, f"{role}-password", role)
    with served(tmp_path) as url, browser_page() as page:
        counts = {}
        for role in ROLES:
            page.goto(url)
            sign_in(page, role, f"{role}-password")
            counts[role] = downloads_on_hover(page)
            page.get_by_role("button", name="Sign out").click()
    assert counts == {"retention": 1, "viewer": 0}
