"""The assets, one module per layer: ingestion (raw), marts (dbt), ml, serving, maintenance."""
