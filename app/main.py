"""ChurnIQ dashboard entry point: ``streamlit run app/main.py``.

This file is the frame around every page: page config, sign-in (nobody signed in sees any
data), sidebar filters, navigation of the pages the user's role may open. Pages live
one per module under ``app/views/``; add a new one by appending an ``st.Page`` to ``PAGES``.
The folder is deliberately not called ``pages/``: a ``pages/`` folder next to the entry point
switches Streamlit into its older directory-based multipage mode, in which reruns can execute
the page without this file (losing the sidebar filters) and ``st.switch_page`` misroutes.
Data location comes from ``CHURNIQ_HOME`` (default ``./.churniq``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import altair as alt
import streamlit as st

# `streamlit run` puts app/ (not the repository root) on sys.path; make `import app` work
# also when the project is not installed.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from app import filters, signin  # noqa: E402
from app.data import snapshot  # noqa: E402

_PAGES_DIR = Path(__file__).parent / "views"

PAGES = [
    st.Page(
        _PAGES_DIR / "overview.py", title="Overview", icon=":material/dashboard:", default=True
    ),
    st.Page(_PAGES_DIR / "mrr.py", title="MRR & movements", icon=":material/waterfall_chart:"),
    st.Page(_PAGES_DIR / "churn.py", title="Churn", icon=":material/trending_down:"),
    st.Page(_PAGES_DIR / "cohorts.py", title="Cohorts & survival", icon=":material/grid_on:"),
    st.Page(_PAGES_DIR / "at_risk.py", title="At-risk subscribers", icon=":material/person_alert:"),
    st.Page(_PAGES_DIR / "subscriber.py", title="Subscriber 360", icon=":material/person_search:"),
    st.Page(_PAGES_DIR / "revenue.py", title="Revenue & payments", icon=":material/payments:"),
    st.Page(_PAGES_DIR / "offers.py", title="Offers & coupons", icon=":material/sell:"),
    st.Page(_PAGES_DIR / "support.py", title="Support", icon=":material/support_agent:"),
    st.Page(_PAGES_DIR / "models.py", title="Models", icon=":material/model_training:"),
    st.Page(
        _PAGES_DIR / "data_health.py", title="Data health", icon=":material/health_and_safety:"
    ),
]

# the weakest role that may open a page (by title); pages not listed are for every role
MINIMUM_ROLE: dict[str, str] = {}


st.set_page_config(page_title="ChurnIQ", page_icon=":material/monitoring:", layout="wide")
# Altair validates every chart object against the Vega-Lite schema as it is built, and again
# when Streamlit serialises it; once is enough (a third of a chart-heavy page's run).
alt.utils.schemapi.disable_debug_mode()
user = signin.current_user()
if user is None:  # nobody signed in sees any data: only the sign-in page exists
    st.navigation([st.Page(signin.sign_in_view, title="Sign in", icon=":material/login:")]).run()
    st.stop()
page = st.navigation([p for p in PAGES if user.may(MINIMUM_ROLE.get(p.title, "viewer"))])
st.sidebar.title("ChurnIQ")
signin.sign_out_control(user)
filters.render_sidebar(snapshot.current_source())
page.run()
