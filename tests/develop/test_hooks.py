"""Dataset hooks: told of every registration with the data; a failing hook warns only."""

from __future__ import annotations

import pandas as pd
import pytest

import steward
from steward._backend import Backend
from steward.develop import DatasetVersion, add_dataset_hook, remove_dataset_hook


def test_a_hook_sees_each_registration_with_its_data(backend: Backend) -> None:
    seen: list[tuple[str, int, list[str]]] = []

    def hook(version: DatasetVersion, frame: pd.DataFrame) -> None:
        seen.append((version.dataset, version.version, list(frame.columns)))

    add_dataset_hook(hook)
    add_dataset_hook(hook)  # once is enough
    try:
        steward.register_dataset(pd.DataFrame({"a": [1], "b": [2]}), "hooked")
        steward.register_dataset(pd.DataFrame({"a": [1], "b": [2]}), "hooked")  # same content
    finally:
        remove_dataset_hook(hook)
    steward.register_dataset(pd.DataFrame({"a": [3]}), "hooked")
    assert seen == [("hooked", 1, ["a", "b"]), ("hooked", 1, ["a", "b"])]


def test_a_failing_hook_warns_and_keeps_the_version(backend: Backend) -> None:
    def broken(version: DatasetVersion, frame: pd.DataFrame) -> None:
        raise ValueError("scanner offline")

    add_dataset_hook(broken)
    try:
        with pytest.warns(RuntimeWarning, match="failed for dataset kept@1: scanner offline"):
            meta = steward.register_dataset(pd.DataFrame({"a": [1]}), "kept")
    finally:
        remove_dataset_hook(broken)
    assert steward.get_dataset("kept").id == meta.id
