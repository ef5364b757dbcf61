"""Serve the dashboards on a home and drive them in headless Chromium (Debian's package).

Used by the browser test and by `make screenshots`, which writes a picture of every page to
docs/ (`SHOTS`).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
from playwright.sync_api import Page, sync_playwright

from app.serve import streamlit_command
from app.users import new_password, save_user

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(home: Path, port: int | None = None, command: list[str] | None = None) -> Iterator[str]:
    """The dashboards on `home`, served by `command` (default `streamlit_command(port)`) until
    the block ends; yields their URL once the port accepts connections."""
    port = port or free_port()
    env = os.environ | {"CHURNIQ_HOME": str(home)}
    proc = subprocess.Popen(
        command or streamlit_command(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode()) from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def browser_page() -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        try:
            yield page
        finally:
            browser.close()


def wait_ready(page: Page, text: str, timeout_ms: int = 60_000) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout_ms)
    # Streamlit shows a running indicator while the script executes
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms
    )


@dataclass(frozen=True)
class Shot:
    """A page: its title in the navigation, a text that says it is drawn, its picture's file
    under docs/, and whether it shows one customer (the riskiest, typed into its search box)."""

    title: str
    ready: str
    file: str
    customer: bool = False


SHOTS = [
    Shot("Overview", "MRR movements", "overview.png"),
    Shot("MRR & movements", "Movements by segment", "mrr.png"),
    Shot("Churn", "Scheduled churn", "churn.png"),
    Shot("Cohorts & survival", "Cohort projections", "cohorts.png"),
    Shot("At-risk subscribers", "Why they are at risk", "at_risk.png"),
    Shot("Subscriber 360", "Timeline", "subscriber.png", customer=True),
    Shot("Revenue & payments", "Failed payments by failure code and provider", "revenue.png"),
    Shot("Offers & coupons", "Coupons and campaigns", "offers.png"),
    Shot("Support", "Churn with and without a recent ticket", "support.png"),
    Shot("Models", "Score drift", "models.png"),
    Shot("Data health", "Row counts of published tables", "data_health.png"),
]


def riskiest_customer(home: Path) -> str:
    """The customer with the most MRR at risk in the latest scoring (the list's first)."""
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        return con.execute(
            """select customer_id from ml.churn_scores
               where scored_at = (select max(scored_at) from ml.churn_scores)
               order by coalesce(mrr, 0) * churn_probability desc, churn_probability desc,
                        customer_id
               limit 1"""
        ).fetchone()[0]


def visit(page: Page, shot: Shot, customer_id: str | None = None) -> None:
    """Open the page from the navigation and wait until it is drawn."""
    page.get_by_role("link", name=shot.title).click()
    if shot.customer and customer_id:
        box = page.get_by_role("textbox", name="Customer id")
        box.wait_for(timeout=60_000)
        box.fill(customer_id)
        box.press("Enter")
        # the customer's sections replace the prompt once the lookup ran
        page.get_by_role("heading", name="Profile").first.wait_for(timeout=120_000)
    wait_ready(page, shot.ready)


def sign_in(page: Page, name: str, password: str) -> None:
    """Fill the sign-in form and wait for the dashboards."""
    wait_ready(page, "Sign in to ChurnIQ")
    page.get_by_role("textbox", name="User").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Sign out").first.wait_for(timeout=60_000)


def screenshot_user(home: Path) -> tuple[str, str]:
    """A viewer for the screenshots, with a new password each time."""
    password = new_password()
    save_user(home, "screenshots", password, "viewer")
    return "screenshots", password


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    home = args.home.resolve()
    name, password = screenshot_user(home)
    customer_id = riskiest_customer(home)
    with served(home) as url, browser_page() as page:
        page.goto(url)
        sign_in(page, name, password)
        for shot in SHOTS:
            visit(page, shot, customer_id)
            time.sleep(2)  # let the charts draw
            page.screenshot(path=str(args.out / shot.file), full_page=True)
            print(f"wrote {args.out / shot.file}")


if __name__ == "__main__":
    main()
