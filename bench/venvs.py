"""Virtualenvs the benchmarks create for the peers (MLflow, FLAML), so their pins never touch the project's .venv.

Each lives in bench/.venvs/<name> (git-ignored) and is rebuilt only when its requirement list changes. The
libraries a pickled adaptml pipeline needs are pinned to the versions in this interpreter, so pickles load
unchanged, and adaptml itself is installed editable without its dependencies.
"""

from __future__ import annotations

import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from bench.common import ROOT

VENVS_DIR = Path(__file__).resolve().parent / ".venvs"
# What unpickling an adaptml pipeline imports: the schema, the training transformers and the model libraries.
PICKLE_RUNTIME = (
    "scikit-learn",
    "scipy",
    "numpy",
    "pandas",
    "lightgbm",
    "xgboost-cpu",
    "threadpoolctl",
    "pyyaml",
    "pydantic",
)


def pinned(*names: str) -> list[str]:
    """``name==version`` of each package as installed here."""
    return [f"{name}=={metadata.version(name)}" for name in names]


def ensure_venv(name: str, requirements: list[str], *, with_adaptml: bool = True, timeout: float = 1800) -> Path:
    """The python of bench/.venvs/<name>, created and installed when missing or when its requirements changed."""
    folder = VENVS_DIR / name
    python = folder / "bin" / "python"
    stamp = folder / ".requirements"
    wanted = "\n".join([*requirements, f"adaptml-editable={with_adaptml}", sys.version]) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    started = time.perf_counter()
    print(f"creating {folder.relative_to(ROOT)} ({' '.join(requirements)})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    log = folder / "pip.log"
    with log.open("wb") as out:
        subprocess.run([*pip, *requirements], check=True, timeout=timeout, stdout=out, stderr=subprocess.STDOUT)
        if with_adaptml:
            subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, timeout=600, stdout=out, stderr=out)
    stamp.write_text(wanted)
    print(f"  ready in {time.perf_counter() - started:.0f} s", flush=True)
    return python
