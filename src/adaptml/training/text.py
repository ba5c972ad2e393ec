"""Free-text columns as a few dense numbers tree and linear models can use.

A column is free text when it has many distinct values of several words each (tweets, titles, job titles).
Each becomes cheap statistics (characters, words, share of digits and of capitals) and a handful of latent
components: word uni- and bigrams hashed into a fixed space (no vocabulary to grow), TF-IDF weighted, reduced by a
truncated SVD fitted on at most ``MAX_FIT_ROWS`` rows. Time and memory are bounded on any number of rows: the
hashing is stateless and streaming, the SVD sees a sample, and serving transforms row by row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import Pipeline, make_pipeline

__all__ = [
    "COMPONENTS",
    "MAX_TEXT_COLUMNS",
    "TEXT_STATS",
    "TextFeatures",
    "looks_like_text",
    "text_feature_names",
]

TEXT_STATS = ("chars", "words", "digit_share", "upper_share")
COMPONENTS = 4  # 8 did no better on the corpus (trump_tweets, movies, seattle_pets) and costs twice the SVD
MAX_FIT_ROWS = 10_000
MAX_TEXT_COLUMNS = 3  # the wordiest ones: each costs a vectorisation per request
MIN_DISTINCT = 30  # fewer distinct values is a category, however many words it has
MIN_MEAN_WORDS = 1.5
HASH_FEATURES = 2**15  # collisions blur a few n-grams; a wider space only slows the SVD
SAMPLE = 2_000


def looks_like_text(values: pd.Series) -> float:
    """The mean word count of a column of strings when it reads as free text, else 0.0 (a category or codes)."""
    present = values.dropna()
    if present.nunique() <= MIN_DISTINCT:
        return 0.0
    sample = present.sample(n=min(SAMPLE, len(present)), random_state=0).astype(str)
    words = float(sample.str.count(r"\S+").mean())
    letters = float(sample.str.contains(r"[A-Za-z]{2}", regex=True).mean())
    return words if words >= MIN_MEAN_WORDS and letters >= 0.5 else 0.0


def text_feature_names(column: str, components: int = COMPONENTS) -> list[str]:
    """The engineered feature names of one text column, in the order ``TextFeatures`` emits them."""
    return [f"{column}_{stat}" for stat in TEXT_STATS] + [f"{column}_svd{i}" for i in range(components)]


class TextFeatures(TransformerMixin, BaseEstimator):
    """Each text column joined by its statistics and ``components`` SVD components of hashed TF-IDF n-grams."""

    def __init__(self, columns: tuple[str, ...] = (), components: int = COMPONENTS, seed: int = 0) -> None:
        self.columns = columns
        self.components = components
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: object = None) -> TextFeatures:  # noqa: N803 - sklearn's naming
        rows = X.sample(n=MAX_FIT_ROWS, random_state=self.seed) if len(X) > MAX_FIT_ROWS else X
        self.reducers_ = {name: self._reducer(_texts(rows[name])) for name in self.columns}
        return self

    def _reducer(self, texts: list[str]) -> Pipeline | None:
        """Hashing -> TF-IDF -> SVD fitted on ``texts``; None when there is too little vocabulary to reduce."""
        counts = _vectorizer().transform(texts)
        used = int((counts.getnnz(axis=0) > 0).sum())
        width = min(self.components, used - 1, len(texts) - 1)
        if width < 1:
            return None
        svd = TruncatedSVD(width, algorithm="arpack", random_state=self.seed)
        return make_pipeline(_vectorizer(), TfidfTransformer(sublinear_tf=True), svd).fit(texts)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        if not self.columns:
            return X
        blocks = [_statistics(X[name], name) for name in self.columns]
        blocks += [self._components(X[name], name) for name in self.columns]
        return pd.concat([X, *blocks], axis=1)  # the text stays: it may be a category too

    def _components(self, values: pd.Series, name: str) -> pd.DataFrame:
        out = np.zeros((len(values), self.components))
        reducer = self.reducers_[name]
        if reducer is not None and len(values):
            reduced = reducer.transform(_texts(values))
            out[:, : reduced.shape[1]] = reduced
        names = text_feature_names(name, self.components)[len(TEXT_STATS) :]
        return pd.DataFrame(out, index=values.index, columns=names)


def _vectorizer() -> HashingVectorizer:
    """Word uni- and bigrams hashed into a fixed space: stateless, so nothing grows with the data."""
    return HashingVectorizer(
        n_features=HASH_FEATURES, ngram_range=(1, 2), alternate_sign=False, norm=None, token_pattern=r"(?u)\b\w+\b"
    )


def _texts(values: pd.Series) -> list[str]:
    return ["" if pd.isna(v) else str(v) for v in values.to_numpy(dtype=object)]


def _statistics(values: pd.Series, name: str) -> pd.DataFrame:
    """Length, words and the shares of digits and capitals among characters; missing text stays missing."""
    text = values.astype("object").where(values.notna(), None)
    present = text.notna()
    strings = text.fillna("").astype(str)
    chars = strings.str.len().astype("float64")
    stats = {
        "chars": chars,
        "words": strings.str.count(r"\S+").astype("float64"),
        "digit_share": strings.str.count(r"\d") / chars.clip(lower=1),
        "upper_share": strings.str.count(r"[A-Z]") / chars.clip(lower=1),
    }
    frame = pd.DataFrame({f"{name}_{k}": v.where(present) for k, v in stats.items()}, index=values.index)
    return frame.astype("float64")
