"""Fixtures for the model tests: the published reference data in ../shared/reference, and
synthetic customer_months with a known churn process (synthetic_churn.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic_churn import make_customer_months

from models.classifier import ChurnClassifier

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
TELCO_CSV = REFERENCE / "telco" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
SBG_CSV = REFERENCE / "sbg" / "fader_hardie_2007_retention.csv"

YES_NO = ["Partner", "Dependents", "PaperlessBilling"]
CATEGORIES = ["Contract", "InternetService", "PaymentMethod"]


def _reference(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"reference data absent: {path} (expects ../shared/reference next to the repo)")
    return path


@pytest.fixture(scope="session")
def telco() -> pd.DataFrame:
    """IBM Telco churn sample with `churned` (bool) added; tenure is in whole months."""
    df = pd.read_csv(_reference(TELCO_CSV))
    return df.assign(churned=df["Churn"].eq("Yes"))


@pytest.fixture(scope="session")
def telco_covariates(telco: pd.DataFrame) -> pd.DataFrame:
    """Survival covariates: one-hot contract, internet service, payment method (first level
    dropped), monthly charges, demographics. Not tenure or TotalCharges: tenure is the duration
    and TotalCharges is roughly tenure x MonthlyCharges."""
    flags = pd.DataFrame({c: telco[c].eq("Yes").astype(float) for c in YES_NO})
    dummies = pd.get_dummies(telco[CATEGORIES], drop_first=True, dtype=float)
    X = pd.concat(
        [
            telco[["MonthlyCharges"]].astype(float),
            telco[["SeniorCitizen"]].astype(float),
            flags,
            dummies,
        ],
        axis=1,
    )
    return X.rename(columns=lambda c: c.replace(" ", "_").replace("(", "").replace(")", ""))


@pytest.fixture(scope="session")
def sbg_reference() -> pd.DataFrame:
    """Fader & Hardie (2007) percent of 1000 customers active each year, years 0..12."""
    df = pd.read_csv(_reference(SBG_CSV))
    assert df["year"].tolist() == list(range(13)), "unexpected layout of the sBG reference"
    assert np.allclose(df.iloc[0, 1:], 100.0)
    return df


# synthetic customer_months with a known churn process (tests/models/synthetic_churn.py) ----------
@pytest.fixture(scope="session")
def synthetic_train() -> pd.DataFrame:
    """2,000 customers x 12 months (24,000 rows) to train on."""
    return make_customer_months(n_customers=2000, n_months=12, seed=1)


@pytest.fixture(scope="session")
def synthetic_test() -> pd.DataFrame:
    """Held-out customers from the same process, rows whose 30-day label is observable."""
    frame = make_customer_months(n_customers=1000, n_months=12, seed=2)
    return frame[frame["label_observable_30d"]].reset_index(drop=True)


@pytest.fixture(scope="session")
def fitted(synthetic_train) -> dict[str, ChurnClassifier]:
    """One fitted 30-day classifier of each kind (isotonic calibration), shared by the tests."""
    return {
        kind: ChurnClassifier(kind=kind, horizon_days=30).fit(synthetic_train)
        for kind in ("logistic", "gbm")
    }
