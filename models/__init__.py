"""Churn modelling library: survival curves and regressions, cohort projection, churn
classifiers with plain-words reasons, evaluation and backtests, invariant checks."""
