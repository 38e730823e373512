"""Benchmarks: run one as a module from the repository root, e.g. `python -m bench.upload`."""
