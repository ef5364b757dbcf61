"""Sign-in: nobody sees any data before signing in with a user of `<home>/app_users.json`
(`churniq users add`, or the `demo` user `make demo` creates). The signed-in user is checked
against the file on every rerun, so a removed user is out at once and a changed role applies
at once."""

from __future__ import annotations

import streamlit as st

from app import data
from app.users import User, authenticate, load_users

SESSION_KEY = "churniq_user"
NO_USERS = (
    "No users yet. Create one on the command line: `churniq users add NAME --role admin` "
    "(`make demo` creates the user `demo` and prints its password)."
)


def current_user() -> User | None:
    """The signed-in user as the users file has them now, or None."""
    signed_in = st.session_state.get(SESSION_KEY)
    if signed_in is None:
        return None
    user = load_users(data.home()).get(signed_in)
    if user is None:
        st.session_state.pop(SESSION_KEY, None)
    return user


def sign_in_view() -> None:
    st.title("Sign in to ChurnIQ")
    users = load_users(data.home())
    if not users:
        st.info(NO_USERS)
        return
    with st.form("sign_in"):
        name = st.text_input("User", key="sign_in_user")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        user = authenticate(users, name, password)
        if user is None:
            st.error("Unknown user or wrong password.")
            return
        st.session_state[SESSION_KEY] = user.name
        st.rerun()


def sign_out_control(user: User) -> None:
    st.sidebar.caption(f"Signed in as **{user.name}** ({user.role})")
    if st.sidebar.button("Sign out", key="sign_out"):
        st.session_state.pop(SESSION_KEY, None)
        st.rerun()
