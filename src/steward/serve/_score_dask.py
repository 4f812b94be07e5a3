"""Batch scoring on a Dask cluster: partitions scored by workers, one model load per worker.

The driver ships the verified model package to every worker once (its files as bytes,
scattered with ``broadcast=True``), so workers need no access to the store or to the
driver's disk. Each worker writes the package to a temporary folder, loads it with
:func:`steward.registry.load_model` (which checks every file's sha256) the first time a
task needs it, and keeps it in a worker-level cache keyed by the manifest's sha256
until the job ends. Workers read their partitions of the input and write their parts of
the output themselves, so both must be on storage every worker sees.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# distributed is only partly annotated: its untyped calls are marked no-untyped-call below.
from distributed import Client, LocalCluster, as_completed, get_worker

from steward.errors import Conflict, IntegrityError, NotFound, ServerUnavailable
from steward.registry import LoadedModel, load_model
from steward.serve._score_chunks import Scored, Scorer, WarningTally, write_scored
from steward.serve._score_input import (
    InputFile,
    Partition,
    count_csv_rows,
    csv_byte_ranges,
    parquet_partitions,
    read_partition,
)

MANIFEST = "steward.yaml"  # a package's manifest (the registry's name for it, not exported)

# The models loaded on this worker process: (worker address, manifest sha256) -> model, folder.
_loaded: dict[tuple[str, str], tuple[LoadedModel, Path]] = {}
_loading = threading.Lock()


@dataclass(frozen=True)
class ShippedPackage:
    """A verified model package as bytes, sent once to every worker."""

    manifest_sha256: str
    files: dict[str, bytes]


@dataclass(frozen=True)
class Job:
    """What every partition task needs besides its partition: input, labels, output folder."""

    source: InputFile
    label: str
    folder: str
    chunk_rows: int


@dataclass
class PartResult:
    """What one partition task did: rows written, on which worker, and whether it loaded."""

    index: int
    rows: int
    worker: str
    loaded: bool
    tally: WarningTally = field(default_factory=WarningTally)


def ship(folder: Path, model: LoadedModel) -> ShippedPackage:
    """Return the package in ``folder`` as bytes, checked against the verified manifest."""
    files = {path: (folder / path).read_bytes() for path in [MANIFEST, *model.manifest.files]}
    sha = hashlib.sha256(files[MANIFEST]).hexdigest()
    if model.version is not None and sha != model.version.manifest_sha256:
        raise IntegrityError(
            f"The package of {model.version.uri} in {str(folder)!r} changed after it was "
            f"verified (manifest sha256 {sha}, registered {model.version.manifest_sha256}). "
            "Score again; if this repeats, delete that folder to fetch a fresh copy."
        )
    return ShippedPackage(manifest_sha256=sha, files=files)


@contextlib.contextmanager
def connect(cluster: str, workers: int) -> Iterator[Client]:
    """Yield a client of a new LocalCluster ('local') or of the scheduler at an address."""
    if cluster == "local":
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",  # a free port: no clash with another cluster
            ) as local,
            Client(local) as client,  # type: ignore[no-untyped-call]
        ):
            yield client
        return
    try:
        client = Client(cluster)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ServerUnavailable(
            f"Cannot reach the Dask scheduler at {cluster}: {exc}. Check the address, and that "
            "the scheduler runs (`dask scheduler`) and this machine may connect to it."
        ) from exc
    with client:
        yield client


def score_on_cluster(
    client: Client,
    *,
    package: ShippedPackage,
    job: Job,
    progress: Callable[[int, int | None], None] | None = None,
) -> Scored:
    """Return what the job did after every partition's part was written into ``job.folder``.

    Parquet input is split by row groups, CSV input by byte ranges (after a first pass
    that counts each range's rows, so every output row knows its input position). On an
    error the remaining tasks are cancelled and the error raised; the caller removes the
    folder.
    """
    source = job.source
    if source.format == "parquet":
        partitions = parquet_partitions(source, job.chunk_rows)
    else:
        ranges = csv_byte_ranges(source, job.chunk_rows)
        counts = client.gather(  # type: ignore[no-untyped-call]
            [client.submit(count_csv_rows, source, o, n, pure=False) for o, n in ranges]
        )
        partitions, first = [], 0
        for i, ((offset, length), rows) in enumerate(zip(ranges, counts, strict=True)):
            partitions.append(Partition(i, first, rows, offset=offset, length=length))
            first += rows
    total = sum(p.rows for p in partitions)
    if progress is not None:
        progress(0, total)
    [shipped] = client.scatter([package], broadcast=True, hash=False)  # type: ignore[no-untyped-call]
    prefix = f"steward-score-{uuid.uuid4().hex[:8]}"
    futures = [
        client.submit(score_partition, part, shipped, job, key=f"{prefix}-{part.index}")
        for part in partitions
    ]
    outcome = Scored(rows=0, partitions=len(partitions), loads={}, tally=WarningTally())
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            result: PartResult = future.result()
            outcome.rows += result.rows
            outcome.loads.setdefault(result.worker, 0)
            outcome.loads[result.worker] += int(result.loaded)
            outcome.tally.merge(result.tally)
            if progress is not None:
                progress(outcome.rows, total)
    except BaseException:
        client.cancel(futures)  # type: ignore[no-untyped-call]
        raise
    finally:
        with contextlib.suppress(Exception):  # a worker that died has nothing left to drop
            client.run(forget, package.manifest_sha256)
    if outcome.rows != total:
        raise Conflict(  # the file changed while it was being scored
            f"{source.name!r} held {total} rows when the job started and {outcome.rows} when "
            "it was read; do not change the input while it is being scored."
        )
    return outcome


def score_partition(part: Partition, package: ShippedPackage, job: Job) -> PartResult:
    """Return what was done after scoring one partition into its part file (runs on a worker)."""
    folder = Path(job.folder)
    if not folder.is_dir():
        raise NotFound(
            f"The output folder {str(folder)!r} does not exist on this worker. On a cluster, "
            "workers write the output themselves: give an output path on storage that every "
            "worker sees at the same path (a shared file system)."
        )
    model, loaded = _model(package)
    scorer = Scorer(model, job.source.schema, job.label, job.source.name)
    rows = write_scored(
        scorer,
        read_partition(job.source, part, job.chunk_rows),
        folder / f"part-{part.index:05d}.parquet",
        first_row=part.first_row,
    )
    return PartResult(
        index=part.index, rows=rows, worker=get_worker().address, loaded=loaded, tally=scorer.tally
    )


def _model(package: ShippedPackage) -> tuple[LoadedModel, bool]:
    """Return this worker's copy of the model (loading it the first time) and if it loaded it."""
    key = (get_worker().address, package.manifest_sha256)
    with _loading:
        if key in _loaded:
            return _loaded[key][0], False
        if hashlib.sha256(package.files[MANIFEST]).hexdigest() != package.manifest_sha256:
            raise IntegrityError(
                "The model package arrived altered on this worker (its manifest's sha256 "
                "differs from the one the driver verified). Score again."
            )
        folder = Path(tempfile.mkdtemp(prefix="steward-score-"))
        try:
            for path, data in package.files.items():
                (folder / path).parent.mkdir(parents=True, exist_ok=True)
                (folder / path).write_bytes(data)
            model = load_model(folder)  # checks every file against the manifest
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _loaded[key] = (model, folder)
        return model, True


def forget(manifest_sha256: str) -> int:
    """Return how many copies of a model this worker process dropped (and their folders)."""
    with _loading:
        keys = [k for k in _loaded if k[1] == manifest_sha256]
        for key in keys:
            _, folder = _loaded.pop(key)
            shutil.rmtree(folder, ignore_errors=True)
    return len(keys)
