"""Connectors: providers' objects translated into contract events (DESIGN.md, `connectors/`).

A layer above `foundation` and below the core and ingestion: the core's webhook routes and
ingestion's importers call the same translation, so a provider fact that arrives by webhook and
by backfill becomes one contract event (its `event_id` derives from the provider's own ids) and
`raw.events` keeps it once. Translation is pure and deterministic: no clock, no network, no
database. What cannot be translated becomes a `connector.untranslatable` line that the loader
quarantines with its reason and the original payload; harmless provider types are counted as
ignored, by type. One module or sub-package per provider.
"""
