"""Code location for `dagster dev` / `churniq dagster`: the same definitions as `churniq run`."""

from pipelines.definitions import build_definitions

defs = build_definitions()
