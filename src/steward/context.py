"""Where the public API acts: the backend in use and the runs this process has open.

Every stage reads these two things, so they live here, below the stages. The backend is
built by a factory that the composition root (``steward._backend``, which gathers every
stage's operations) registers when the package is imported; this module only holds it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from steward.config import Settings, load_settings
from steward.errors import InvalidInput, StewardError

if TYPE_CHECKING:
    from steward._backend import Backend

BackendFactory = Callable[[Settings], "Backend"]

_lock = threading.Lock()
_factory: BackendFactory | None = None
_current: Backend | None = None
_current_key: tuple[str | None, str, str] | None = None


def _key(settings: Settings) -> tuple[str | None, str, str]:
    return (settings.server_uri, settings.store_uri, settings.artifact_uri)


def set_backend_factory(factory: BackendFactory) -> None:
    """Use ``factory(settings)`` to build the backend when the settings call for one."""
    global _factory
    _factory = factory


def get_backend() -> Backend:
    """Return the backend for the current settings (``STEWARD_URI`` or the local store)."""
    global _current, _current_key
    settings = load_settings()
    key = _key(settings)
    with _lock:
        if _current is None or key != _current_key:
            if _factory is None:  # only when a core module is used without the package
                raise StewardError("Internal error: no backend factory; import steward first.")
            _current = _factory(settings)
            _current_key = key
        return _current


def set_backend(backend: Backend | None) -> None:
    """Use ``backend`` for the public API from now on (None: back to the settings)."""
    global _current, _current_key
    with _lock:
        _current = backend
        _current_key = None if backend is None else _key(load_settings())


class RunHandle(Protocol):
    """An open run as the context keeps it: its id and the backend it logs to."""

    @property
    def id(self) -> str: ...

    @property
    def backend(self) -> Backend: ...


_runs: list[RunHandle] = []
runs_lock = threading.RLock()


def push_run(handle: RunHandle) -> None:
    """Make ``handle`` the innermost active run."""
    with runs_lock:
        _runs.append(handle)


def drop_run(run_id: str) -> None:
    """Forget the active run ``run_id`` (it ended)."""
    with runs_lock:
        _runs[:] = [h for h in _runs if h.id != run_id]


def active_runs() -> list[RunHandle]:
    """Return the open runs of this process, outermost first."""
    with runs_lock:
        return list(_runs)


def innermost_run() -> RunHandle | None:
    """Return the innermost active run, or None."""
    with runs_lock:
        return _runs[-1] if _runs else None


def run_target(run_id: str | None) -> tuple[Backend, str]:
    """Return the backend and id of the run a logging call addresses.

    ``run_id`` names any run (an open one logs through the backend it was opened with);
    None means the innermost active run, and an error when none is open.
    """
    if run_id is not None:
        with runs_lock:
            for handle in _runs:
                if handle.id == run_id:
                    return handle.backend, run_id
        return get_backend(), run_id
    active = innermost_run()
    if active is None:
        raise InvalidInput(
            "No run is active. Start one with `with steward.start_run():` or pass run_id=."
        )
    return active.backend, active.id


#: The roles of whoever is acting (project -> role names), when a server authenticated
#: them; None in local mode or on a server without users, where the caller is trusted.
current_roles: contextvars.ContextVar[dict[str, set[str]] | None] = contextvars.ContextVar(
    "steward_roles", default=None
)
