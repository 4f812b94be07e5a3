"""Flavors: how each kind of model is saved, loaded and what it needs installed.

Flavors are a registry: the built-ins below register themselves with the same
:func:`register_flavor` a user's extension calls. The first flavor (newest first) whose
``matches`` accepts a model saves it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import io
import pickle
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from steward.errors import InvalidInput


class Flavor(Protocol):
    """How to save and load one kind of model."""

    name: str

    def matches(self, model: Any) -> bool:
        """Return True when this flavor can save ``model``."""

    def save(self, model: Any, folder: Path, code_paths: list[Path]) -> dict[str, Any]:
        """Write the model under ``folder`` and return the options load() needs."""

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        """Return the model saved under ``folder``."""

    def requirements(self, model: Any, folder: Path, options: dict[str, Any]) -> set[str]:
        """Return the names of the distributions the saved model needs to load and predict."""


_flavors: dict[str, Flavor] = {}


def register_flavor(flavor: Flavor) -> Flavor:
    """Register ``flavor`` (it wins over those registered before it) and return it."""
    _flavors[flavor.name] = flavor
    return flavor


def get_flavor(name: str) -> Flavor:
    """Return the flavor called ``name``."""
    try:
        return _flavors[name]
    except KeyError:
        raise InvalidInput(
            f"No flavor {name!r} is registered here; known flavors: {', '.join(sorted(_flavors))}. "
            "Install the package that provides it."
        ) from None


def flavor_for(model: Any, name: str | None = None) -> Flavor:
    """Return the flavor that saves ``model`` (or the one named)."""
    if name is not None:
        return get_flavor(name)
    for flavor in reversed(list(_flavors.values())):
        if flavor.matches(model):
            return flavor
    raise InvalidInput(
        f"Steward cannot package a {type(model).__module__}.{type(model).__name__}: no flavor "
        f"accepts it (known: {', '.join(sorted(_flavors))}). Wrap it in a class with a "
        "predict(frame) method and log that (the python flavor), passing code_paths=[...] "
        "for the module that defines the class."
    )


class _Recorder(pickle.Unpickler):
    """Loads a pickle while noting every module it imports from."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        return super().find_class(module, name)


def pickled_modules(data: bytes) -> set[str]:
    """Return the top-level modules a pickle imports when loaded."""
    recorder = _Recorder(data)
    recorder.load()
    return {m.split(".")[0] for m in recorder.modules}


def distributions_of(modules: Iterable[str]) -> set[str]:
    """Return the installed distributions that provide ``modules`` (stdlib ones omitted)."""
    mapping = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for module in modules:
        if module in sys.stdlib_module_names or module in {"builtins", "__main__"}:
            continue
        found.update(mapping.get(module, []))
    return found


def dump_pickle(model: Any) -> bytes:
    """Return the pickled model, or raise InvalidInput saying why it cannot be pickled."""
    if type(model).__module__ == "__main__":
        raise InvalidInput(
            f"{type(model).__name__} is defined in the script being run (__main__), so it could "
            "not be loaded anywhere else. Move the class into a module file and pass "
            "code_paths=['that_module.py']."
        )
    try:
        return pickle.dumps(model, protocol=5)
    except Exception as exc:
        raise InvalidInput(
            f"Cannot save {type(model).__name__}: it cannot be pickled ({type(exc).__name__}: "
            f"{exc}). Models holding lambdas, open files, locks or connections cannot be "
            "packaged; replace those with named functions or reopen them at predict time."
        ) from exc


class PickleFlavor:
    """Shared pickling behaviour of the scikit-learn and Python-function flavors."""

    name = "pickle"
    file = "model/model.pkl"

    def matches(self, model: Any) -> bool:
        return False

    def save(self, model: Any, folder: Path, code_paths: list[Path]) -> dict[str, Any]:
        data = dump_pickle(model)
        target = folder / self.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return {"file": self.file, "class": f"{type(model).__module__}.{type(model).__qualname__}"}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        # Streamed from the file (the package was verified before this is called): reading
        # it into one bytes object first costs a copy and its page faults, ~3x the unpickling.
        with open(folder / options["file"], "rb") as fh:
            return pickle.load(fh)

    def requirements(self, model: Any, folder: Path, options: dict[str, Any]) -> set[str]:
        return distributions_of(pickled_modules((folder / options["file"]).read_bytes()))


class SklearnFlavor(PickleFlavor):
    """scikit-learn estimators and Pipelines (with ColumnTransformers), pickled."""

    name = "sklearn"

    def matches(self, model: Any) -> bool:
        try:
            from sklearn.base import BaseEstimator
        except ImportError:  # pragma: no cover
            return False
        return isinstance(model, BaseEstimator)

    def requirements(self, model: Any, folder: Path, options: dict[str, Any]) -> set[str]:
        return super().requirements(model, folder, options) | {"scikit-learn"}


class PythonFlavor(PickleFlavor):
    """Any object with ``predict(frame)``, pickled, with the code files that define it."""

    name = "python"

    def matches(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path, code_paths: list[Path]) -> dict[str, Any]:
        code = folder / "code"
        for path in code_paths:
            if not path.exists():
                raise InvalidInput(f"Code path {str(path)!r} does not exist.")
            target = code / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(path, target)
        with _on_path(code if code_paths else None):
            options = super().save(model, folder, code_paths)
        options["code"] = bool(code_paths)
        return options

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        with _on_path(folder / "code" if options.get("code") else None):
            return super().load(folder, options)

    def requirements(self, model: Any, folder: Path, options: dict[str, Any]) -> set[str]:
        with _on_path(folder / "code" if options.get("code") else None):
            return super().requirements(model, folder, options)


class _on_path:
    """Put a package's code folder first on sys.path while loading it."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = str(folder) if folder is not None else None

    def __enter__(self) -> None:
        if self.folder is not None:
            sys.path.insert(0, self.folder)

    def __exit__(self, *_: object) -> None:
        if self.folder is not None and self.folder in sys.path:
            sys.path.remove(self.folder)


class XGBoostFlavor:
    """XGBoost models (scikit-learn wrappers and Boosters) in XGBoost's own JSON format."""

    name = "xgboost"
    file = "model/model.json"

    def matches(self, model: Any) -> bool:
        module = type(model).__module__
        return module.startswith("xgboost.")

    def save(self, model: Any, folder: Path, code_paths: list[Path]) -> dict[str, Any]:
        target = folder / self.file
        target.parent.mkdir(parents=True, exist_ok=True)
        model.save_model(str(target))
        return {"file": self.file, "class": f"{type(model).__module__}.{type(model).__name__}"}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        module, _, name = options["class"].rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        model = cls()
        model.load_model(str(folder / options["file"]))
        return model

    def requirements(self, model: Any, folder: Path, options: dict[str, Any]) -> set[str]:
        needs = {"xgboost", "numpy"}
        if not options["class"].endswith("Booster"):
            needs.add("scikit-learn")
        return needs


class LightGBMFlavor(PickleFlavor):
    """LightGBM models: Boosters in LightGBM's text format, scikit-learn wrappers pickled."""

    name = "lightgbm"

    def matches(self, model: Any) -> bool:
        return type(model).__module__.startswith("lightgbm.")

    def save(self, model: Any, folder: Path, code_paths: list[Path]) -> dict[str, Any]:
        if type(model).__name__ == "Booster":
            target = folder / "model/model.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            model.save_model(str(target))
            return {"file": "model/model.txt", "class": "lightgbm.basic.Booster"}
        return super().save(model, folder, code_paths)

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        if options["class"] == "lightgbm.basic.Booster":
            import lightgbm

            return lightgbm.Booster(model_file=str(folder / options["file"]))
        return super().load(folder, options)

    def requirements(self, model: Any, folder: Path, options: dict[str, Any]) -> set[str]:
        if options["class"] == "lightgbm.basic.Booster":
            return {"lightgbm", "numpy"}
        return super().requirements(model, folder, options) | {"lightgbm"}


for _flavor in (PythonFlavor(), SklearnFlavor(), LightGBMFlavor(), XGBoostFlavor()):
    register_flavor(_flavor)
