"""Suite-wide scheduling: the longest test files start first.

`make test` runs pytest-xdist with `--dist loadfile`, which hands out files in collection
order. Collected alphabetically, the slowest end-to-end files came last and left one worker
idle at the end; started first (longest processing time first), the many short files fill the
gaps. Order inside a file is unchanged.
"""

from __future__ import annotations

import pytest

# Slowest first (seconds on this machine, pytest --durations, setup + call).
LONGEST_FIRST = (
    "tests/test_end_to_end.py",  # ~200 s
    "tests/test_churn_models.py",
    "tests/test_reference_seeds.py",
    "tests/properties/test_arrival_order.py",
    "tests/dbt/test_incremental.py",
    "tests/cli/test_cli.py",
    "tests/test_crash_recovery.py",
    "tests/browser/test_dashboards_in_chromium.py",
    "tests/pipelines/test_poison_run.py",
    "tests/pipelines/test_connectors.py",  # one pipeline run with two connected sources
    "tests/connectors/test_stripe_scenario.py",  # dbt builds of the hand-computed scenario
    "tests/test_erasure_end_to_end.py",
    "tests/core/test_api_schemathesis.py",
    "tests/cli/test_import_csv.py",
    "tests/ingestion/test_stripe_import.py",
    "tests/test_core_end_to_end.py",  # ~30 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
