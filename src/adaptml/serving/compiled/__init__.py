"""Compiled record scorers derived at load from the pickled pipelines, enabled per model by an equivalence gate.

The pickled sklearn Pipeline stays the artifact of record; a model whose steps the compiler does not know keeps it.
"""

from adaptml.serving.compiled.gate import GATE_FILE, TOLERANCE, FastPath

__all__ = ["GATE_FILE", "TOLERANCE", "FastPath"]
