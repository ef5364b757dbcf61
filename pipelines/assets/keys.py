"""The asset keys that other definitions (checks, jobs, dependencies) refer to."""

import dagster as dg

RAW_EVENTS = dg.AssetKey(["raw", "events"])
PROVIDER_VIEWS = dg.AssetKey(["raw", "provider_views"])
ML_CURVES = dg.AssetKey(["ml", "survival_curves"])
ML_MODEL = dg.AssetKey(["ml", "churn_model"])
ML_SCORES = dg.AssetKey(["ml", "churn_scores"])
SERVING = dg.AssetKey(["serving_snapshot"])
MAINTENANCE = dg.AssetKey(["maintenance", "erasures"])
RECONCILIATION = dg.AssetKey(["marts", "reconciliation_provider"])
