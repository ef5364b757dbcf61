"""Retention campaigns on the at-risk page: launch one in the core for the current selection (a
coupon for a treatment group, nothing for a random control group) and follow every campaign's
result, treatment against control, from the published marts (``marts.campaign_results``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import signin
from app.components import csv_download, table
from app.core_client import CoreClient, CoreConnection, CoreUnavailable, load_connection
from app.data import at_risk as at_risk_data
from app.data import snapshot
from models.experiments import METHOD, churn_difference

LAUNCH_ROLE = "retention"
#: Most members one campaign may have (the core's limit); a larger selection keeps the riskiest.
MAX_MEMBERS = 100_000
IDEMPOTENCY_KEY = "campaign_launch_idempotency_key"
LAUNCHED_KEY = "campaign_launched"
CONFIDENCE = 0.95

LAUNCH_HELP = (
    "Offers the chosen coupon to the selected subscribers (most MRR at risk first, at most "
    f"{MAX_MEMBERS:,}) through the core API. A random share of them, the **control group**, is "
    "offered nothing, so the offer's effect can be measured: the core assigns the groups (seeded "
    "shuffle, exactly round(n × share) in control) and records every assignment as a "
    "`retention.action_taken` event. The coupon applies to the treatment group's live "
    "subscription."
)
RESULTS_HELP = (
    "Per campaign, intent to treat: every member counts in the group they were assigned to, "
    "whether or not the coupon could be applied. **Churn** = members paying at launch (MRR > 0 "
    "before the launch day) whose last subscription ended from the launch day to the data's "
    "as-of date, ÷ members paying at launch. **Difference** = treatment's churn − control's "
    f"(negative: the offer kept subscribers), with its {CONFIDENCE:.0%} confidence interval "
    f"({METHOD}). Results grow with every run of the pipeline after the launch."
)
NOT_CONFIGURED = (
    "Launching campaigns needs the core API: run `churniq core create-key --role retention "
    "--for-app` (or set `CHURNIQ_CORE_API_URL` and `CHURNIQ_CORE_API_KEY`) and `churniq core "
    "serve`."
)


@st.cache_data(ttl=60, show_spinner=False)
def _coupons(connection: CoreConnection) -> list[dict]:
    with CoreClient(connection) as client:
        return client.coupons()


@st.cache_data(ttl=60, show_spinner=False)
def campaign_names(connection: CoreConnection) -> dict[str, str]:
    """Campaign id → name, from the core (names are not in the events)."""
    with CoreClient(connection) as client:
        return {c["id"]: c["name"] for c in client.campaigns()}


def _connection() -> CoreConnection | None:
    try:
        return load_connection(snapshot.home())
    except CoreUnavailable as exc:
        st.warning(str(exc))
        return None


def _coupon_label(coupon: dict) -> str:
    if coupon.get("discount_type") == "percent":
        off = f"{coupon.get('percent_off')}% off"
    else:
        off = (
            f"{fmt.money((coupon.get('amount_off_minor') or 0) / 100, coupon.get('currency'))} off"
        )
    duration = coupon.get("duration", "once")
    if duration == "repeating":
        duration = f"{coupon.get('duration_months')} months"
    return f"{coupon['id']} ({off}, {duration})"


def launch_panel(
    source: snapshot.Source, selection: at_risk_data.ScoreFilters, subscribers: int
) -> None:
    """The launch form for users who may "retention"; the others see why they cannot."""
    st.subheader("Launch a retention campaign", help=LAUNCH_HELP)
    user = signin.current_user()
    if user is None or not user.may(LAUNCH_ROLE):
        st.caption(f"Launching campaigns needs the {LAUNCH_ROLE} role (or admin).")
        return
    launched = st.session_state.pop(LAUNCHED_KEY, None)
    if launched:
        st.success(launched, icon=":material/campaign:")
    connection = _connection()
    if connection is None:
        st.info(NOT_CONFIGURED, icon=":material/link_off:")
        return
    try:
        coupons = _coupons(connection)
    except CoreUnavailable as exc:
        st.warning(f"{exc}. Start it with `churniq core serve`.")
        return
    if not coupons:
        st.info("The core has no active coupon: create one first (`POST /coupons`).")
        return
    members = min(subscribers, MAX_MEMBERS)
    with st.form("launch_campaign", border=True):
        name = st.text_input(
            "Campaign name", value=f"Retention {datetime.now(UTC):%Y-%m-%d}", max_chars=200
        )
        by_id = {c["id"]: c for c in coupons}
        coupon_id = st.selectbox(
            "Coupon offered to the treatment group",
            list(by_id),
            format_func=lambda c: _coupon_label(by_id[c]),
        )
        share = st.slider(
            "Control group share",
            min_value=5,
            max_value=50,
            value=20,
            step=5,
            format="%d%%",
            help="Members drawn at random who are offered nothing: the baseline of the result.",
        )
        control = round(members * share / 100)
        st.caption(
            f"{fmt.count(members)} members: {fmt.count(members - control)} offered the coupon, "
            f"{fmt.count(control)} in the control group"
            + (
                f" (the {fmt.count(MAX_MEMBERS)} with the most MRR at risk of the "
                f"{fmt.count(subscribers)} selected)"
                if subscribers > MAX_MEMBERS
                else ""
            )
            + "."
        )
        submitted = st.form_submit_button("Launch campaign", icon=":material/campaign:")
    if not submitted:
        return
    if not name.strip():
        st.error("The campaign needs a name.")
        return
    # One key per intended launch: a retry after a lost answer returns the first launch.
    key = st.session_state.setdefault(IDEMPOTENCY_KEY, uuid.uuid4().hex)
    customer_ids = at_risk_data.selection_customer_ids(source, selection, MAX_MEMBERS)
    try:
        with CoreClient(connection) as client:
            campaign = client.launch_campaign(
                name=name.strip(),
                coupon_id=coupon_id,
                customer_ids=customer_ids,
                control_share=share / 100,
                idempotency_key=key,
            )
    except CoreUnavailable as exc:
        if "refused" in str(exc):
            st.session_state.pop(IDEMPOTENCY_KEY, None)  # a corrected request is a new launch
        st.error(str(exc))
        return
    st.session_state.pop(IDEMPOTENCY_KEY, None)
    campaign_names.clear()
    groups = {g["group"]: g["members"] for g in campaign["campaign_result"]}
    st.session_state[LAUNCHED_KEY] = (
        f"Campaign {campaign['id']} ({campaign['name']}) launched: "
        f"{fmt.count(groups.get('treatment', 0))} offered {coupon_id}, "
        f"{fmt.count(groups.get('control', 0))} in the control group. Its result appears here "
        "after the next pipeline run (`churniq run`) and grows with every later one."
    )
    st.rerun()


def results_frame(results: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """One row per campaign: both groups' churn and the difference with its interval."""
    rows = []
    for r in results.itertuples(index=False):
        effect = churn_difference(
            int(r.treatment_churned),
            int(r.treatment_paying_at_launch),
            int(r.control_churned),
            int(r.control_paying_at_launch),
            CONFIDENCE,
        )
        rows.append(
            {
                "campaign_id": r.campaign_id,
                "name": names.get(r.campaign_id, ""),
                "coupon_id": r.coupon_id,
                "launched_at": r.launched_at,
                "observed_days": r.observed_days,
                "treatment_members": r.treatment_members,
                "control_members": r.control_members,
                "treatment_paying_at_launch": r.treatment_paying_at_launch,
                "treatment_churned": r.treatment_churned,
                "control_paying_at_launch": r.control_paying_at_launch,
                "control_churned": r.control_churned,
                "treatment_churn_rate": None if effect is None else effect.treatment_rate,
                "control_churn_rate": None if effect is None else effect.control_rate,
                "difference": None if effect is None else effect.difference,
                "ci_lower": None if effect is None else effect.lower,
                "ci_upper": None if effect is None else effect.upper,
                "verdict": verdict(effect),
            }
        )
    return pd.DataFrame(rows)


def verdict(effect) -> str:
    if effect is None:
        return "no members paying at launch in a group"
    if effect.upper < 0:
        return "fewer churned with the offer"
    if effect.lower > 0:
        return "more churned with the offer"
    return "no clear difference (yet)"


def effect_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """The difference per campaign with its interval; the zero line is "no effect"."""
    shown = frame.dropna(subset=["difference"]).assign(
        label=lambda f: f["name"].where(f["name"] != "", f["campaign_id"])
    )
    base = alt.Chart(shown).encode(y=alt.Y("label:N", title=None, sort=None))
    axis = alt.Axis(format="+.0%", title="Churn: treatment − control")
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_lower:Q", axis=axis), x2="ci_upper:Q")
    points = base.mark_point(filled=True, size=80).encode(
        x="difference:Q",
        color=alt.Color("verdict:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[
            alt.Tooltip("label:N", title="Campaign"),
            alt.Tooltip("treatment_churn_rate:Q", title="Treatment churn", format=".1%"),
            alt.Tooltip("control_churn_rate:Q", title="Control churn", format=".1%"),
            alt.Tooltip("difference:Q", title="Difference", format="+.1%"),
            alt.Tooltip("ci_lower:Q", title="95% CI low", format="+.1%"),
            alt.Tooltip("ci_upper:Q", title="95% CI high", format="+.1%"),
        ],
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return alt.layer(bars, points, zero).properties(height=max(80, 40 * len(shown)))


def results_panel(source: snapshot.Source) -> None:
    """Every campaign's result, for every role."""
    st.subheader("Campaign results", help=RESULTS_HELP)
    results = at_risk_data.campaign_results(source)
    if results is None:
        st.info("The snapshot has no `marts.campaign_results` table yet: run `churniq run`.")
        return
    if results.empty:
        st.info("No campaign yet. Launch one above; its result appears after the next run.")
        return
    names: dict[str, str] = {}
    connection = _connection()
    if connection is not None:
        try:
            names = campaign_names(connection)
        except CoreUnavailable:
            st.caption("Campaign names come from the core API, which is not reachable now.")
    frame = results_frame(results, names)
    st.altair_chart(effect_chart(frame), width="stretch")
    table(
        frame,
        hide_index=True,
        column_config={
            "campaign_id": "Campaign",
            "name": "Name",
            "coupon_id": "Coupon",
            "launched_at": st.column_config.DatetimeColumn(
                "Launched (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "observed_days": st.column_config.NumberColumn("Days observed", format="%d"),
            "treatment_members": st.column_config.NumberColumn("Treatment", format="%d"),
            "control_members": st.column_config.NumberColumn("Control", format="%d"),
            "treatment_paying_at_launch": st.column_config.NumberColumn(
                "Treatment paying at launch", format="%d"
            ),
            "treatment_churned": st.column_config.NumberColumn("Treatment churned", format="%d"),
            "control_paying_at_launch": st.column_config.NumberColumn(
                "Control paying at launch", format="%d"
            ),
            "control_churned": st.column_config.NumberColumn("Control churned", format="%d"),
            "treatment_churn_rate": st.column_config.NumberColumn(
                "Treatment churn", format="percent"
            ),
            "control_churn_rate": st.column_config.NumberColumn("Control churn", format="percent"),
            "difference": st.column_config.NumberColumn("Difference", format="percent"),
            "ci_lower": st.column_config.NumberColumn("95% CI low", format="percent"),
            "ci_upper": st.column_config.NumberColumn("95% CI high", format="percent"),
            "verdict": "Result",
        },
        subscribers=False,
    )
    csv_download(
        frame, "campaign_results.csv", "Download campaign results (CSV)", key="dl_campaigns"
    )
