from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptml.errors import DataError
from adaptml.training import clean

from .frames import messy_frame


def test_types_are_inferred_and_every_change_is_counted(regression_raw: pd.DataFrame) -> None:
    raw = pd.concat([regression_raw, regression_raw.iloc[:5].assign(row_id=range(1000, 1005))], ignore_index=True)
    raw["price"] = raw["price"].astype(object)
    raw.loc[3, "price"] = np.nan
    raw.loc[4, "price"] = "?"  # a marker in the target makes the row unusable too
    typed, report = clean(raw.drop(columns=["row_id"]), "price")

    assert report.duplicate_rows == 5 - 2  # rows 3 and 4 went for their missing target first
    assert report.missing_target_rows == 2
    assert report.rows_out == len(typed) == len(raw) - 2 - 3
    assert pd.api.types.is_float_dtype(typed["amount"]) and typed["amount"].min() > 500
    assert pd.api.types.is_float_dtype(typed["member"]) and set(typed["member"].dropna()) == {0.0, 1.0}
    assert pd.api.types.is_datetime64_any_dtype(typed["signup"])
    assert set(typed["city"].dropna()) == {"north", "south", "east", "west"}
    assert report.missing_markers["city"]["?"] > 0 and report.whitespace_stripped["city"] > 0
    assert report.parsed_from_text["amount"].startswith("numeric")
    assert report.parsed_from_text["member"] == "numeric (yes/no words as 1/0)"
    assert report.target_missing_markers == {"?": 1}
    assert report.dropped_columns == {"constant": "constant"}
    assert report.kinds["signup"] == "datetime"


def test_duplicates_stay_when_deduplication_is_off(regression_raw: pd.DataFrame) -> None:
    raw = pd.concat([regression_raw, regression_raw.iloc[:5]], ignore_index=True).drop(columns=["row_id"])
    typed, report = clean(raw, "price", deduplicate=False)
    assert report.duplicate_rows == 0 and len(typed) == len(raw)
    assert len(clean(raw, "price")[0]) == len(raw) - 5


def test_id_like_and_listed_columns_are_dropped(regression_raw: pd.DataFrame) -> None:
    raw = regression_raw.rename(columns={"row_id": "Unnamed: 0"})
    typed, report = clean(raw, "price", drop=["noise"])
    assert "Unnamed: 0" not in typed.columns and "noise" not in typed.columns
    assert report.dropped_columns["Unnamed: 0"].startswith("ID-like")
    assert report.dropped_columns["noise"] == "listed in data.drop"


def test_a_kept_column_survives_even_when_it_looks_like_an_id(regression_raw: pd.DataFrame) -> None:
    typed, _ = clean(regression_raw, "price", keep=("row_id",))
    assert "row_id" in typed.columns


def test_classification_labels_keep_their_text_without_whitespace(classification_raw: pd.DataFrame) -> None:
    typed, _ = clean(classification_raw, "label")
    assert set(typed["label"]) == {">50K", "<=50K"}


@pytest.mark.parametrize(
    ("frame", "target", "message"),
    [
        (messy_frame(30).drop(columns=["price"]), "price", "target column 'price' is not in the dataset"),
        (messy_frame(30).assign(price=" ?"), "price", "target column 'price' has no values"),
        (messy_frame(1), "price", "only 1 usable row(s) after cleaning"),
        (messy_frame(5).iloc[:0], "price", "the dataset has no rows"),
        (messy_frame(30)[["constant", "price"]], "price", "no usable feature columns"),
    ],
)
def test_unusable_data_is_a_one_line_data_error(frame: pd.DataFrame, target: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        clean(frame, target)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_drop_column_is_named() -> None:
    with pytest.raises(DataError, match="data.drop names column 'nope'"):
        clean(messy_frame(30), "price", drop=["nope"])


def test_input_is_not_mutated(regression_raw: pd.DataFrame) -> None:
    before = regression_raw.copy()
    clean(regression_raw, "price")
    pd.testing.assert_frame_equal(regression_raw, before)


def _words_frame(n: int = 60) -> pd.DataFrame:
    """Marker-like words used as real levels next to a numeric column with real missing markers."""
    rng = np.random.default_rng(1)
    amount = rng.normal(100, 10, n).round(1).astype(str).astype(object)
    amount[::10] = "?"
    amount[5::10] = " NA "
    return pd.DataFrame(
        {
            "fitting": np.where(np.arange(n) % 3 == 0, "fitted", "none"),
            "answer": rng.choice(["yes", "no", "maybe"], n),
            "dash": rng.choice(["-", "left", "right"], n),
            "na_level": rng.choice(["N/A", "pool", "garden"], n),
            "amount": amount,
            "y": rng.normal(size=n),
        }
    )


def test_marker_like_words_that_are_category_levels_stay_levels() -> None:
    typed, report = clean(_words_frame(), "y")
    assert set(typed["fitting"]) == {"fitted", "none"} and "fitting" not in report.dropped_columns
    assert set(typed["answer"]) == {"yes", "no", "maybe"}
    assert set(typed["dash"]) == {"-", "left", "right"}
    assert set(typed["na_level"]) == {"N/A", "pool", "garden"}
    assert report.kept_as_levels == {"fitting": ["none"], "dash": ["-"], "na_level": ["N/A"]}
    assert not {"fitting", "answer", "dash", "na_level"} & set(report.missing_markers)


def test_markers_in_an_otherwise_numeric_column_are_missing_and_counted_per_spelling() -> None:
    typed, report = clean(_words_frame(), "y")
    assert pd.api.types.is_float_dtype(typed["amount"])
    assert int(typed["amount"].isna().sum()) == 12
    assert report.missing_markers == {"amount": {"?": 6, "NA": 6}}
    assert report.parsed_from_text["amount"] == "numeric (stored as text)"
    assert report.missing_values == {"amount": 12}


def test_duplicates_are_found_after_the_index_column_is_dropped(regression_raw: pd.DataFrame) -> None:
    body = regression_raw.drop(columns=["row_id"])
    raw = pd.concat([body, body.iloc[:30]], ignore_index=True).reset_index(names="Unnamed: 0")
    typed, report = clean(raw, "price")
    assert report.dropped_columns["Unnamed: 0"].startswith("ID-like")
    assert report.duplicate_rows == 30 and len(typed) == len(body)


def test_rows_without_a_target_are_dropped_and_counted() -> None:
    frame = _words_frame().assign(
        y=lambda f: np.where(np.arange(len(f)) % 4 == 0, "", np.where(f["y"] > 0, "Yes", "No"))
    )
    typed, report = clean(frame, "y")
    assert report.missing_target_rows == 15 and len(typed) == 45
    assert set(typed["y"]) == {"Yes", "No"}  # yes/no words stay class labels for the target


def test_a_label_target_spelled_na_is_missing_but_none_is_a_class() -> None:
    frame = _words_frame()
    labels = np.where(frame["y"] > 0, "male", "female").astype(object)
    labels[:6] = "NA"
    labels[6:12] = "none"
    typed, report = clean(frame.assign(y=labels), "y")
    assert report.missing_target_rows == 6 and report.target_missing_markers == {"NA": 6}
    assert set(typed["y"]) == {"male", "female", "none"}
