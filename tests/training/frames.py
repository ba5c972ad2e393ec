"""The small, messy synthetic table shared by the training and pipeline tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def messy_frame(n: int = 240, *, seed: int = 0, classify: bool = False) -> pd.DataFrame:
    """A raw table as a CSV reader would give it: text numbers, markers, whitespace, dates, IDs, a constant."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    amount = rng.uniform(500, 5000, size=n)
    city = rng.choice(["north", "south", "east", "west"], size=n)
    signup = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    score = 3 * x + amount / 1000 + (city == "north") * 2.0 + signup.month.to_numpy() / 6 + rng.normal(0, 0.3, n)
    frame = pd.DataFrame(
        {
            "row_id": np.arange(n),
            "x": x,
            "amount": [f"{v:,.1f}" for v in amount],
            "city": [f" {c} " if i % 7 else " ?" for i, c in enumerate(city)],
            "member": rng.choice(["yes", "no"], size=n),
            "signup": signup.strftime("%Y-%m-%d"),
            "constant": "same",
            "noise": rng.normal(size=n),
        }
    )
    if classify:
        frame["label"] = np.where(score > np.median(score), " >50K", " <=50K")
    else:
        frame["price"] = score
    return frame
