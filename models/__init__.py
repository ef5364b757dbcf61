"""Churn modelling library: survival curves and regressions, cohort projection, invariant checks."""
