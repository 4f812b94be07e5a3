"""Batch scoring: a model's predictions for every row of a Parquet or CSV file.

``steward score models:/churn@champion data.parquet --out scored.parquet`` streams the
file in chunks (memory bounded by one chunk), writes the predictions with the model
version to a temporary file next to the output and moves it into place only when every
row is scored, and logs the job as a run. With ``cluster=`` the same job runs on Dask.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, Field

from steward.develop import active_run, log_metrics, log_params, start_run
from steward.errors import AlreadyExists, InvalidInput, did_you_mean
from steward.registry import LoadedModel, download_model, load_model
from steward.serve._score_chunks import Scored, Scorer, write_scored
from steward.serve._score_input import InputFile, inspect_input, iter_chunks

Progress = Callable[[int, int | None], None]
_ADDRESS = re.compile(r"^([a-z]+://)?[^\s/:]+:\d+$")
_PART = re.compile(r"^part-\d+\.parquet$")
_NOT_PARQUET = {".csv", ".tsv", ".json", ".jsonl", ".feather", ".xlsx", ".txt"}


class ScoreResult(BaseModel):
    """What a batch-scoring job did: the model, the rows, the time, the output and its run."""

    model_uri: str = Field(description="The model URI as given.")
    model_name: str | None = Field(description="The registered model (None for runs:/ or a path).")
    model_version: int | None = Field(description="Its version number (None for runs:/ or a path).")
    version_label: str = Field(
        description="The value of the output's model_version column: 'churn/3', or the "
        "run URI or package path of an unregistered model."
    )
    input: str
    output: str = Field(description="The Parquet file written (a folder of parts on a cluster).")
    rows: int
    seconds: float = Field(description="Wall time of the whole job, model load included.")
    rows_per_second: float
    run_id: str = Field(description="The run that logged the job.")
    cluster: str | None = Field(description="'local', a scheduler address, or None (in process).")
    partitions: int = Field(description="Chunks scored (in process) or partitions (on a cluster).")
    model_loads: dict[str, int] = Field(
        default_factory=dict,
        description="On a cluster: how many times each worker loaded the model (once each).",
    )
    warnings: list[str] = Field(
        default_factory=list, description="Distinct warnings of the input checks and the model."
    )


def score(
    model_uri: str,
    source: str | Path,
    out: str | Path,
    *,
    chunk_rows: int = 100_000,
    cluster: str | None = None,
    workers: int = 2,
    overwrite: bool = False,
    progress: Progress | None = None,
    experiment: str = "batch-scoring",
) -> ScoreResult:
    """Return what a batch-scoring job did, after writing a model's predictions for a file.

    ``source`` is a Parquet (``.parquet``, ``.pq``) or CSV (``.csv``, ``.tsv``) file; it
    must have every input column of the model's signature. It is read in chunks of
    ``chunk_rows`` rows, each checked against the signature and scored, and written to
    ``out`` as Parquet: ``row`` (the row's position in the input), the input's other
    columns (ids pass through), ``prediction``, ``proba_<class>`` for each class of a
    classifier, and ``model_version``. The output appears only when every row is scored
    (it is written to a temporary file next to ``out`` first); an existing ``out`` is
    refused unless ``overwrite``.

    ``cluster="local"`` runs the job on a new Dask LocalCluster of ``workers`` processes;
    an address (``tcp://scheduler:8786``) runs it on that cluster. Then ``out`` is a
    folder of Parquet parts (``part-00000.parquet`` ...; pandas and pyarrow read it as
    one table), the model is sent to each worker once and loaded once per worker, and
    the input and ``out`` must be on storage every worker sees.

    The job is logged as a run of ``experiment`` (tag ``steward.job=score``), which ends
    FAILED if scoring fails. ``progress(rows_done, rows_total)`` is called after each
    chunk; the total is None for CSV in process (not known before the end).
    """
    started = time.perf_counter()
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1; got {chunk_rows}.")
    if workers < 1:
        raise InvalidInput(f"workers must be at least 1; got {workers}.")
    if cluster is not None:
        cluster = check_cluster(cluster)
    model = load_model(model_uri)
    found = inspect_input(source, model.signature)
    target = _check_output(out, found, overwrite=overwrite, folder=cluster is not None)
    name, number, label = _describe(model, model_uri)
    scorer = Scorer(model, found.schema, label, found.name)  # refuses clashing column names
    dask = _dask() if cluster is not None else None
    params: dict[str, Any] = {
        "model_uri": model_uri,
        "model_version": label,
        "input": str(found.path.resolve()),
        "output": str(target.resolve()),
        "chunk_rows": chunk_rows,
        "cluster": cluster or "none",
    }
    if cluster == "local":
        params["workers"] = workers
    run_name = (f"score {name} v{number}" if name else f"score {label}")[:200]
    target.parent.mkdir(parents=True, exist_ok=True)
    with start_run(
        run_name,
        experiment=experiment,
        nested=active_run() is not None,
        tags={"steward.job": "score"},
        capture_environment_info=True,
    ) as run:
        log_params(params, run_id=run.id)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            if dask is None:
                done = _score_here(scorer, found, partial, chunk_rows, progress)
            else:
                exact = model.version.uri if model.version else model_uri  # not a moved alias
                package = dask.ship(download_model(exact), model)
                partial.mkdir()
                job = dask.Job(found, label, str(partial), chunk_rows)
                with dask.connect(cluster, workers) as client:
                    done = dask.score_on_cluster(
                        client, package=package, job=job, progress=progress
                    )
            _publish(partial, target, overwrite=overwrite)
        finally:
            _remove(partial)
        seconds = time.perf_counter() - started
        speed = done.rows / seconds if seconds > 0 else 0.0
        log_metrics(
            {"rows": done.rows, "seconds": seconds, "rows_per_second": speed}, run_id=run.id
        )
    done.tally.emit()
    return ScoreResult(
        model_uri=model_uri,
        model_name=name,
        model_version=number,
        version_label=label,
        input=params["input"],
        output=params["output"],
        rows=done.rows,
        seconds=seconds,
        rows_per_second=speed,
        run_id=run.id,
        cluster=cluster,
        partitions=done.partitions,
        model_loads=done.loads,
        warnings=done.tally.messages(),
    )


def check_cluster(cluster: str) -> str:
    """Return ``cluster`` if it is 'local' or a Dask scheduler address, else raise InvalidInput."""
    if cluster == "local" or _ADDRESS.match(cluster):
        return cluster
    raise InvalidInput(
        "The cluster must be 'local' (a Dask LocalCluster on this machine) or a scheduler "
        f"address such as tcp://scheduler:8786; got {cluster!r}.{did_you_mean(cluster, ['local'])}"
    )


def _dask() -> ModuleType:
    """Return the cluster module, importing Dask only when a job asks for a cluster."""
    try:
        from steward.serve import _score_dask
    except ImportError as exc:
        raise InvalidInput(
            f"Scoring on a cluster needs Dask ({exc}); install it with "
            "pip install 'steward[dask]', or score without a cluster."
        ) from exc
    return _score_dask


def _score_here(
    scorer: Scorer, found: InputFile, path: Path, chunk_rows: int, progress: Progress | None
) -> Scored:
    """Return what was done after scoring the input in this process into the file ``path``."""
    done = Scored(rows=0, partitions=0, loads={}, tally=scorer.tally)
    if progress is not None:
        progress(0, found.rows)

    def advance(rows: int) -> None:
        done.rows += rows
        done.partitions += 1
        if progress is not None:
            progress(done.rows, found.rows)

    write_scored(scorer, iter_chunks(found, chunk_rows), path, on_chunk=advance)
    return done


def _describe(model: LoadedModel, model_uri: str) -> tuple[str | None, int | None, str]:
    """Return the registered name and version of a model (or None) and its output label."""
    if model.version is not None:
        name, number = model.version.model, model.version.version
        return name, number, f"{name}/{number}"
    if model_uri.startswith("runs:"):
        return None, None, model_uri
    return None, None, str(Path(model_uri).expanduser().resolve())


def _check_output(out: str | Path, found: InputFile, *, overwrite: bool, folder: bool) -> Path:
    """Return the output path after checking that it may be written."""
    target = Path(out).expanduser().absolute()
    if target.resolve() == found.path.resolve():
        raise InvalidInput(
            f"The output {str(target)!r} is the input file; write the predictions elsewhere."
        )
    if not folder and target.suffix.lower() in _NOT_PARQUET:
        raise InvalidInput(
            f"The output {target.name!r} ends in {target.suffix!r}, but batch scoring writes "
            "Parquet; name it .parquet (pandas.read_parquet reads it)."
        )
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise AlreadyExists(
                f"The output {str(target)!r} exists already. Pass overwrite=True (--overwrite) "
                "to replace it, or choose another path."
            )
        if target.is_dir() and not target.is_symlink():
            others = sorted(p.name for p in target.iterdir() if not _PART.match(p.name))
            if others:
                raise InvalidInput(
                    f"The output {str(target)!r} is a folder holding other files than "
                    f"part-*.parquet ({', '.join(others[:5])}); Steward replaces only a folder "
                    "of scored parts. Choose another path."
                )
    if target.parent.exists() and not target.parent.is_dir():
        raise InvalidInput(f"Cannot write {str(target)!r}: {str(target.parent)!r} is a file.")
    return target


def _publish(partial: Path, target: Path, *, overwrite: bool) -> None:
    """Move the finished output into place (replacing ``target`` only with ``overwrite``)."""
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise AlreadyExists(
                f"The output {str(target)!r} appeared while the job ran; the predictions were "
                "not written. Pass overwrite=True (--overwrite) or choose another path."
            )
        if target.is_dir() and not target.is_symlink():
            aside = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(target, aside)
            try:
                os.replace(partial, target)
            except BaseException:
                os.replace(aside, target)
                raise
            shutil.rmtree(aside, ignore_errors=True)
            return
        if partial.is_dir():
            target.unlink()
    os.replace(partial, target)


def _remove(path: Path) -> None:
    """Remove a temporary output file or folder, if it is still there.

    A folder is renamed first: a worker of a failed cluster job may still be writing its
    part, and can then no longer create a file in the folder while it is being deleted.
    """
    if path.is_dir() and not path.is_symlink():
        doomed = path.with_name(f"{path.name}.removing")
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
