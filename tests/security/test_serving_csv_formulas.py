"""Formula injection through line breaks: the CSV the app hands out, opened by LibreOffice, runs no formula.

pandas writes a cell holding a bare carriage return unquoted, and spreadsheets start a new row at it, so a cell like
``abc\\r=2+2`` used to become a second row whose first cell LibreOffice evaluated. Every kind of line break is sent in
the city column of a real app's CSV answer; LibreOffice headless (Debian's ``libreoffice-calc-nogui``) converts the
download back to CSV with formulas evaluated, and no cell may hold a formula's result.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.reliability.served import published, served_app

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is not installed (apt-get install libreoffice-calc-nogui)"
)

SENTINEL = "40002"  # what =40000+2 evaluates to; no other cell of the answer can hold it
ATTACKS = (
    "abc\r=40000+2",
    "x\n@SUM(40000,2)",
    "y\r\n=40000+2",
    "\r\n=40000+2",
    "p\u2028=40000+2",
    "q\u2029=40000+2",
    "r\x0b=40000+2",
    "s\x85=40000+2",
    "=40000+2",
    "@SUM(40000,2)",
)
IMPORT = "CSV:44,34,76,1"  # comma, double quote, UTF-8, from line 1 (formulas are evaluated by default)
EXPORT = "csv:Text - txt - csv (StarCalc):44,34,76,1"


def _request_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(["size", "rooms", "city", "listed"])
    writer.writerows([50.5, 2, attack, "2023-02-01"] for attack in ATTACKS)
    return buffer.getvalue().encode()


def _libreoffice_cells(download: bytes, workdir: Path) -> list[str]:
    """Every cell of ``download`` after LibreOffice imported it (evaluating formulas) and wrote it back as CSV."""
    source = workdir / "download.csv"
    source.write_bytes(download)
    out = workdir / "out"
    command = [str(SOFFICE), "--headless", "--norestore", f"-env:UserInstallation={(workdir / 'lo').as_uri()}"]
    command += [f"--infilter={IMPORT}", "--convert-to", EXPORT, "--outdir", str(out), str(source)]
    subprocess.run(command, check=True, capture_output=True, timeout=180)
    converted = (out / "download.csv").read_text(encoding="utf-8")
    return [cell for row in csv.reader(io.StringIO(converted)) for cell in row]


@pytest.fixture
def client(s3_client: Any, bucket: str, tmp_path: Path) -> Any:
    with served_app(published(s3_client, bucket), tmp_path) as app:
        yield app.test_client()


def test_the_check_sees_an_unneutralised_line_break(tmp_path: Path):
    """The check can see the attack: a bare carriage return written unquoted, as pandas writes it, evaluates."""
    assert SENTINEL in _libreoffice_cells(b"city,n\nabc\r=40000+2,1\n", tmp_path)


def test_no_line_break_lets_a_downloaded_cell_run_as_a_formula(client: Any, tmp_path: Path):
    answer = client.post(
        "/api/v1/predict", data=_request_csv(), headers={"Content-Type": "text/csv", "Accept": "text/csv"}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_data().count(b"40000") >= len(ATTACKS)  # every attack came back in the city column
    cells = _libreoffice_cells(answer.get_data(), tmp_path)
    assert cells, "LibreOffice read the download"
    assert SENTINEL not in cells, [cell for cell in cells if "4000" in cell]
