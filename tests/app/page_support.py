"""Helpers of the page tests: open a page of the whole app signed in, read its KPIs,
captions, tables and downloads, check its empty state, and the snapshot the app reads."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

import pandas as pd
from streamlit.testing.v1 import AppTest

from app.components import EMPTY_STATE
from app.data import snapshot

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


def source() -> snapshot.Source:
    src = snapshot.current_source()
    assert src is not None
    return src


def table(at: AppTest, first_column: str) -> pd.DataFrame:
    """The first dataframe whose first column is `first_column`."""
    for frame in at.dataframe:
        if frame.value.columns[0] == first_column:
            return frame.value
    raise AssertionError(f"no table starting with {first_column}")


def download_labels(at: AppTest) -> list[str]:
    """The labels of the page's download buttons, in order."""
    return [b.label for b in at.get("download_button")]


def csv_files(downloads: Mapping[str, tuple[pd.DataFrame, str]]) -> dict[str, pd.DataFrame]:
    """File name → the CSV read back, of the downloads recorded so far (``downloads``
    fixture)."""
    return {
        file_name: pd.read_csv(io.StringIO(frame.to_csv(index=False)))
        for frame, file_name in downloads.values()
    }


def assert_empty_state(at: AppTest, *mentions: str) -> None:
    """The page shows the empty state, its captions name `mentions`, and it has no KPI and
    no download."""
    assert EMPTY_STATE in at.info[0].value
    for mention in mentions:
        assert mention in captions(at)
    assert not at.metric and not at.get("download_button")
