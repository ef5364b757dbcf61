"""Sign-in through the whole app (AppTest): nobody signed in sees any data, a wrong password
gets nothing, the right one opens the dashboards, and a removed user or a sign-out is out at
once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app.signin import NO_USERS
from app.users import remove_user, save_user

Runner = Callable[..., AppTest]
PASSWORD = "tester-password"  # conftest's `tester`


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign_in_user").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click()
    return at.run()


def shows_data(at: AppTest) -> bool:
    return bool(at.metric) or bool(at.sidebar.get("multiselect")) or bool(at.dataframe)


def test_nobody_signed_in_sees_no_data(snapshot_home: Path, app_runner: Runner) -> None:
    at = app_runner(user=None)
    assert at.title[0].value == "Sign in to ChurnIQ"
    assert not shows_data(at)
    at = sign_in(at, "tester", "wrong password")
    assert at.error[0].value == "Unknown user or wrong password."
    assert not shows_data(at)
    at = sign_in(at, "nobody", PASSWORD)
    assert at.error and not shows_data(at)


def test_the_right_password_opens_the_dashboards(snapshot_home: Path, app_runner: Runner) -> None:
    at = sign_in(app_runner(user=None), "tester", PASSWORD)
    assert not at.exception
    assert {m.label for m in at.metric} >= {"MRR", "ARR", "Paying customers"}
    assert any("tester" in c.value for c in at.sidebar.caption)


def test_sign_out_and_removed_users_are_out_at_once(
    snapshot_home: Path, app_runner: Runner
) -> None:
    at = app_runner()
    assert at.metric
    at.sidebar.button(key="sign_out").click()
    at = at.run()
    assert at.title[0].value == "Sign in to ChurnIQ" and not shows_data(at)

    save_user(snapshot_home, "viewer1", "viewer-password", "viewer")
    at = app_runner(user="viewer1")
    assert at.metric  # a viewer reads every page there is today
    remove_user(snapshot_home, "viewer1")
    at = at.run()
    assert at.title[0].value == "Sign in to ChurnIQ" and not shows_data(at)


def test_without_users_the_app_says_how_to_make_one(home: Path, app_runner: Runner) -> None:
    remove_user(home, "tester")
    at = app_runner(user=None)
    assert at.info[0].value == NO_USERS
    assert not at.text_input


def test_single_sign_on_maps_the_identity_to_a_role(
    snapshot_home: Path, app_runner: Runner, monkeypatch
) -> None:
    """With OpenID Connect configured, the provider's e-mail signs in when the users file lists
    it (with its role) and sees nothing otherwise; nobody can use it with a password."""
    from app import signin
    from app.users import authenticate, load_users, save_oidc_user

    identity: dict[str, str | None] = {"email": None}
    monkeypatch.setattr(signin, "oidc_configured", lambda: True)
    monkeypatch.setattr(signin, "oidc_identity", lambda: identity["email"])
    at = app_runner(user=None)
    assert at.button(key="oidc_sign_in").label == "Sign in with single sign-on"

    identity["email"] = "ana@example.com"  # vouched for by the provider, unknown here
    at = app_runner(user=None)
    assert "ana@example.com has no ChurnIQ role" in at.error[0].value
    assert "churniq users add ana@example.com --role viewer --oidc" in at.error[0].value
    assert not shows_data(at)

    save_oidc_user(snapshot_home, "Ana@Example.com", "viewer")
    at = app_runner(user=None)
    assert not at.exception and shows_data(at)
    assert any("ana@example.com** (viewer)" in c.value for c in at.sidebar.caption)
    assert authenticate(load_users(snapshot_home), "ana@example.com", "oidc") is None
