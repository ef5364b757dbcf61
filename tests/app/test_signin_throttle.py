"""Failed sign-ins are throttled per user name and per client address: after 5 failures a
wait that doubles with each further failure (30 s, 60 s, ... at most 15 min), kept in a file of
the home so that no rerun, new session or restart of the app resets it; during the wait the
password is not even checked."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import signin, signin_throttle
from app.signin_throttle import FIRST_WAIT_SECONDS, MAX_FAILURES, MAX_WAIT_SECONDS, Throttle
from tests.app.page_support import Runner

PASSWORD = "tester-password"  # conftest's `tester`


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(signin_throttle, "_now", clock)
    return clock


def fail(throttle: Throttle, user: str, client: str, times: int) -> None:
    for _ in range(times):
        assert throttle.wait_seconds(user, client) == 0
        throttle.failed(user, client)


def test_five_failures_then_a_doubling_wait(tmp_path: Path, clock: Clock) -> None:
    throttle = Throttle(tmp_path)
    fail(throttle, "tester", "198.51.100.1", MAX_FAILURES - 1)
    assert throttle.wait_seconds("tester", "198.51.100.1") == 0  # 4 failures: no wait yet
    throttle.failed("tester", "198.51.100.1")
    assert throttle.wait_seconds("tester", "198.51.100.1") == FIRST_WAIT_SECONDS
    # per user: the same name from another address waits too; per client: another name from
    # this address waits too; neither from elsewhere does
    assert throttle.wait_seconds("tester", "203.0.113.7") == FIRST_WAIT_SECONDS
    assert throttle.wait_seconds("someone-else", "198.51.100.1") == FIRST_WAIT_SECONDS
    assert throttle.wait_seconds("someone-else", "203.0.113.7") == 0
    waits = []
    for _ in range(8):
        clock.now += throttle.wait_seconds("tester", "198.51.100.1")
        throttle.failed("tester", "198.51.100.1")
        waits.append(throttle.wait_seconds("tester", "198.51.100.1"))
    assert waits == [min(FIRST_WAIT_SECONDS * 2**n, MAX_WAIT_SECONDS) for n in range(1, 9)]


def test_kept_in_the_home_owner_only_and_cleared_by_a_success(tmp_path: Path, clock) -> None:
    fail(Throttle(tmp_path), "tester", "local", MAX_FAILURES)
    again = Throttle(tmp_path)  # another session, a restarted server
    assert again.wait_seconds("Tester ", "local") == FIRST_WAIT_SECONDS  # names as typed
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    clock.now += FIRST_WAIT_SECONDS
    again.succeeded("tester", "local")
    assert again.wait_seconds("tester", "198.51.100.1") == 0


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_user").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click()
    return at.run()


def test_the_sign_in_page_throttles_and_says_so(
    snapshot_home: Path, app_runner: Runner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin, "client_address", lambda: "198.51.100.1")
    checked: list[str] = []
    verify = signin.authenticate
    monkeypatch.setattr(
        signin, "authenticate", lambda users, n, p: checked.append(n) or verify(users, n, p)
    )
    at = app_runner(user=None)
    for _ in range(MAX_FAILURES):
        at = sign_in(at, "tester", "wrong password")
        assert at.error[0].value == "Unknown user or wrong password."
    at = sign_in(app_runner(user=None), "tester", PASSWORD)  # a new session, the right password
    assert len(checked) == MAX_FAILURES  # not even checked while the wait lasts
    assert at.error[0].value.startswith("Too many failed sign-ins")
    assert "try again in 30 s" in at.error[0].value
    assert at.title[0].value == "Sign in to ChurnIQ" and not at.metric
    clock.now += FIRST_WAIT_SECONDS
    at = sign_in(at, "tester", PASSWORD)
    assert not at.exception and at.metric  # signed in after the wait
