"""Compiled record scorers derived at load from the pickled pipelines, enabled per model by an equivalence gate.

The pickled sklearn Pipeline stays the artifact of record; a model whose steps the compiler does not know keeps it.

Tree models are walked, and XGBoost's outputs transformed, by loops numba compiles (``walk.py``). numba caches them
beside their source or in the user's cache, neither of which need be writable in a container: unless
``NUMBA_CACHE_DIR`` says otherwise, the cache goes to the temporary directory. This is set here, before any module
of the package imports numba (numba reads it on import).
"""

import os
import tempfile

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "adaptml-numba"))

from adaptml.serving.compiled.gate import GATE_FILE, TOLERANCE, FastPath  # noqa: E402 - after NUMBA_CACHE_DIR

__all__ = ["GATE_FILE", "TOLERANCE", "FastPath"]
