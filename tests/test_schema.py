from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adaptml.errors import InputError
from adaptml.schema import Schema, infer_kind, infer_schema

RAW = pd.DataFrame(
    {
        "amount": ["1,200", "35", "?", "7.5"],
        "when": ["2020-01-02", "2020-02-03", "", "2021-12-31"],
        "colour": [" red", "blue ", "not_applicable", "red"],
        "flag": ["yes", "no", "yes", "no"],
        "y": [1.0, 2.0, 3.0, 4.0],
    }
)


def test_infer_kinds():
    assert infer_kind(RAW["amount"]) == "numeric"
    assert infer_kind(RAW["when"]) == "datetime"
    assert infer_kind(RAW["colour"]) == "categorical"
    assert infer_kind(RAW["flag"]) == "numeric"


def test_infer_schema_and_round_trip():
    schema = infer_schema(RAW, target="y", task="regression")
    assert schema.names == ["amount", "when", "colour", "flag"]
    amount = schema.column("amount")
    assert (amount.min, amount.max, amount.nullable) == (7.5, 1200.0, True)
    assert schema.column("colour").categories == ("red", "blue", "not_applicable")  # a word is a level
    assert schema.column("amount").missing_markers == ("?",)
    assert schema.example == {"amount": 35.0, "when": "2020-02-03", "colour": "red", "flag": 0}
    assert schema.example_synthetic  # medians and most frequent levels, never a real training record
    assert Schema.from_json(schema.to_json()) == schema


def test_coerce_types_and_missing():
    schema = infer_schema(RAW, target="y", task="regression")
    typed = schema.coerce(RAW)
    assert typed["amount"].tolist()[:2] == [1200.0, 35.0]
    assert np.isnan(typed["amount"].iloc[2])
    assert typed["colour"].tolist() == ["red", "blue", "not_applicable", "red"]
    assert typed["when"].dtype == "datetime64[ns]"
    assert typed["flag"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_coerce_errors_name_row_and_column():
    schema = infer_schema(RAW, target="y", task="regression")
    bad = RAW.copy()
    bad.loc[2, "amount"] = "lots"
    with pytest.raises(InputError, match=r"row 3, column 'amount': expected a number, got 'lots'"):
        schema.coerce(bad)
    assert np.isnan(schema.coerce(bad, strict=False)["amount"].iloc[2])
    with pytest.raises(InputError, match="missing column 'when'"):
        schema.coerce(RAW.drop(columns=["when"]))
    assert schema.extra_columns(["amount", "zzz", "y"]) == ["zzz"]


def test_schema_coercer_inside_a_pickled_pipeline():
    import pickle

    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    from adaptml.schema import SchemaCoercer

    schema = infer_schema(RAW[["amount", "flag", "y"]], target="y", task="regression")
    model = make_pipeline(SchemaCoercer(schema.to_dict()), LinearRegression())
    train = pd.DataFrame({"amount": ["1", "2", "3", "4"], "flag": ["yes", "no", "yes", "no"]})
    model.fit(train, [1.0, 2.0, 3.0, 4.0])
    restored = pickle.loads(pickle.dumps(model))
    got = restored.predict(pd.DataFrame({"amount": ["2,000"], "flag": ["no"], "extra": [1]}))
    assert got.shape == (1,)
    assert np.isfinite(got).all()


def test_markers_are_decided_per_column_by_what_the_column_holds() -> None:
    raw = pd.DataFrame(
        {
            "count": ["1", "NA", "3", "none", "-", "2"],
            "fitting": ["fitted", "none", "none", "fitted", "none", "fitted"],
            "flag": ["yes", "no", "?", "yes", "no", "yes"],
            "mixed": ["yes", "no", "none", "yes", "no", "yes"],
            "y": range(6),
        }
    )
    schema = infer_schema(raw, target="y", task="regression")
    assert [schema.column(n).kind for n in ("count", "fitting", "flag", "mixed")] == [
        "numeric",
        "categorical",
        "numeric",
        "categorical",
    ]
    assert schema.column("count").missing_markers == ("-", "NA", "none")
    assert schema.column("fitting").missing_markers == () and schema.column("fitting").categories == ("fitted", "none")
    assert schema.column("flag").missing_markers == ("?",)
    assert schema.column("mixed").categories == ("yes", "no", "none")


def test_the_coercer_applies_the_recorded_decisions_not_a_global_list() -> None:
    from adaptml.schema import SchemaCoercer

    raw = pd.DataFrame({"count": ["1", "?", "3"], "fitting": ["fitted", "none", "?"], "y": [1.0, 2.0, 3.0]})
    schema = infer_schema(raw, target="y", task="regression").with_missing_markers({"fitting": ["n.a."]})
    assert Schema.from_json(schema.to_json()) == schema
    coercer = SchemaCoercer(schema.to_dict()).fit(raw)
    typed = coercer.transform(pd.DataFrame({"count": ["NA", " 2 "], "fitting": ["none", "N.A."]}))
    assert np.isnan(typed["count"].iloc[0]) and typed["count"].iloc[1] == 2.0  # a word in a number column
    assert typed["fitting"].iloc[0] == "none" and pd.isna(typed["fitting"].iloc[1])  # a level; a recorded marker


def test_old_schemas_without_recorded_markers_still_load() -> None:
    data = infer_schema(RAW, target="y", task="regression").to_dict()
    for column in data["columns"]:
        del column["missing_markers"]
    assert Schema.from_dict(data).column("amount").missing_markers == ()
