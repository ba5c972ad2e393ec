"""Small synthetic frames shaped like the cleaned frames the pipeline hands to ``explore``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptml.eda import EdaResult, explore

ROWS = 600


def base_frame(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Typed features with an honest, noisy regression target ``price``."""
    rng = np.random.default_rng(seed)
    nights = rng.integers(1, 8, rows).astype("float64")
    guests = rng.integers(1, 5, rows).astype("float64")
    room = rng.choice(["standard", "deluxe", "suite"], rows, p=[0.6, 0.3, 0.1]).astype(object)
    lead = rng.gamma(2.0, 30.0, rows)
    base = np.select([room == "standard", room == "deluxe"], [80.0, 120.0], 200.0)
    price = base + 5 * guests - 0.1 * lead + rng.normal(0, 25, rows)
    return pd.DataFrame(
        {
            "nights": nights,
            "guests": guests,
            "room": room,
            "lead_time": lead,
            "arrival": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "price": price,
        }
    )


@pytest.fixture(scope="module")
def clean_frame() -> pd.DataFrame:
    return base_frame()


@pytest.fixture(scope="module")
def leaky_frame() -> pd.DataFrame:
    """The honest frame plus a near copy of the target (tiny noise added)."""
    frame = base_frame()
    rng = np.random.default_rng(1)
    frame["price_copy"] = frame["price"] + rng.normal(0, 0.01, len(frame))
    return frame


@pytest.fixture(scope="module")
def leaky_result(leaky_frame: pd.DataFrame) -> EdaResult:
    return explore(leaky_frame, target="price", task="regression", title="Leaky hotels")


@pytest.fixture(scope="module")
def clean_result(clean_frame: pd.DataFrame) -> EdaResult:
    return explore(clean_frame, target="price", task="regression", title="Clean hotels")
