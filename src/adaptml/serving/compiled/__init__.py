"""Compiled record scorers derived at load from the pickled pipelines, enabled per model by an equivalence gate.

The pickled sklearn Pipeline stays the artifact of record; a model whose steps the compiler does not know keeps it.

Tree models are walked, and XGBoost's and LightGBM's outputs transformed, by loops numba compiles (``walk.py``).
numba caches them in ``NUMBA_CACHE_DIR`` and unpickles its index from there, so unless the environment names one
the cache goes to a private per-user directory (``~/.cache/adaptml/numba``, 0700, owned by this user: never a
fixed name under the shared temporary directory, where another user could plant an index first), else to a fresh
temporary one. This is set here, before any module of the package imports numba (numba reads it on import).
"""

import os
import tempfile
from pathlib import Path

from adaptml.errors import ConfigError
from adaptml.reload.runtime import private_dir


def _numba_cache_dir() -> str:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    try:
        return str(private_dir(base / "adaptml" / "numba"))
    except (OSError, RuntimeError, ConfigError):  # no usable home: a fresh private directory (compiles once more)
        return tempfile.mkdtemp(prefix="adaptml-numba-")


if "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = _numba_cache_dir()

from adaptml.serving.compiled.gate import GATE_FILE, TOLERANCE, FastPath  # noqa: E402 - after NUMBA_CACHE_DIR

__all__ = ["GATE_FILE", "TOLERANCE", "FastPath"]
