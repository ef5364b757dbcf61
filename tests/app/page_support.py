"""Helpers of the page tests: open a page of the whole app signed in, read its KPIs and
captions, and the snapshot the app reads."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from app import data

Runner = Callable[..., AppTest]


def open_page(runner: Runner, page: str, user: str = "tester") -> AppTest:
    """The whole app signed in as `user`, switched to `page` (e.g. ``views/mrr.py``)."""
    at = runner(user=user)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def kpis(at: AppTest) -> dict[str, tuple[str, str]]:
    """Every metric's label → (value, change)."""
    return {m.label: (m.value, m.delta) for m in at.metric}


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def source() -> data.Source:
    src = data.current_source()
    assert src is not None
    return src
