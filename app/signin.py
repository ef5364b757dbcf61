"""Sign-in: nobody sees any data before signing in with a user of `<home>/app_users.json`
(`churniq users add`, or the `demo` user `make demo` creates). The signed-in user is checked
against the file on every rerun, so a removed user is out at once and a changed role applies
at once.

When the app's secrets configure OpenID Connect (an ``[auth]`` section, see Streamlit's
``st.login``), a "single sign-on" button signs in through the identity provider; the e-mail it
vouches for must be in the users file (`churniq users add EMAIL --role viewer --oidc`), which
gives the role. An identity without an entry sees no data.

Failed password sign-ins are throttled per user name and per client address
(:mod:`app.signin_throttle`); the server log records each failure and each wait started.
"""

from __future__ import annotations

import logging

import streamlit as st

from app.data import snapshot
from app.signin_throttle import Throttle, wait_text
from app.users import User, authenticate, load_users

log = logging.getLogger("churniq.signin")

SESSION_KEY = "churniq_user"
NO_USERS = (
    "No users yet. Create one on the command line: `churniq users add NAME --role admin` "
    "(`make demo` creates the user `demo` and prints its password)."
)


def oidc_configured() -> bool:
    """Whether the app's secrets configure OpenID Connect for ``st.login``."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises its own not-found error
        return False


def oidc_identity() -> str | None:
    """The e-mail the identity provider vouched for in this session, or None."""
    if not oidc_configured():
        return None
    if not st.user.is_logged_in:
        return None
    email = st.user.get("email")
    return str(email).strip().lower() if email else None


def client_address() -> str | None:
    """The client's address as the server saw it (None on this machine)."""
    try:
        return st.context.ip_address
    except Exception:  # no client context (bare script runs)
        return None


def too_many(wait: float) -> str:
    return (
        "Too many failed sign-ins for this user or from this address: "
        f"try again in {wait_text(wait)}."
    )


def current_user() -> User | None:
    """The signed-in user as the users file has them now, or None."""
    signed_in = st.session_state.get(SESSION_KEY)
    if signed_in is None:
        signed_in = oidc_identity()
        if signed_in is None:
            return None
    user = load_users(snapshot.home()).get(signed_in)
    if user is None:
        st.session_state.pop(SESSION_KEY, None)
    return user


def sign_in_view() -> None:
    st.title("Sign in to ChurnIQ")
    users = load_users(snapshot.home())
    identity = oidc_identity()
    if identity is not None:  # signed in at the provider, but not a user here
        st.error(
            f"{identity} has no ChurnIQ role. An admin adds it with "
            f"`churniq users add {identity} --role viewer --oidc`."
        )
        if st.button("Sign out of single sign-on", key="oidc_sign_out"):
            st.logout()
        return
    if oidc_configured() and st.button(
        "Sign in with single sign-on", key="oidc_sign_in", icon=":material/key:"
    ):
        st.login()
    if not users:
        st.info(NO_USERS)
        return
    with st.form("sign_in"):
        name = st.text_input("User", key="sign_in_user")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        check_password(users, name, password)


def check_password(users: dict[str, User], name: str, password: str) -> None:
    """Sign in with `name` and `password` unless failures made them wait; count a failure."""
    throttle, client = Throttle(snapshot.home()), client_address()
    wait = throttle.wait_seconds(name, client)
    if wait > 0:  # the password is not even checked
        st.error(too_many(wait))
        return
    user = authenticate(users, name, password)
    if user is None:
        wait = throttle.failed(name, client)
        log.warning("failed sign-in as %r from %s", name[:64], client or "this machine")
        st.error("Unknown user or wrong password.")
        if wait > 0:
            log.warning("sign-in as %r from %s throttled", name[:64], client or "this machine")
            st.error(too_many(wait))
        return
    throttle.succeeded(name, client)
    st.session_state[SESSION_KEY] = user.name
    st.rerun()


def sign_out_control(user: User) -> None:
    st.sidebar.caption(f"Signed in as **{user.name}** ({user.role})")
    if st.sidebar.button("Sign out", key="sign_out"):
        st.session_state.pop(SESSION_KEY, None)
        if oidc_identity() is not None:
            st.logout()
        st.rerun()
