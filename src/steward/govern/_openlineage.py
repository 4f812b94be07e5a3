"""Runs as OpenLineage run events, for Marquez, DataHub or any OpenLineage consumer.

Each run becomes a START event (at its start, with the dataset versions it read as
inputs) and, once it ended, a COMPLETE, FAIL or ABORT event (with the model versions it
produced as outputs). The events are built from openlineage-python's own classes, which
validate them as they are made, and sent by its client's transports: a file of
newline-delimited JSON, or an OpenLineage HTTP endpoint (Marquez: ``/api/v1/lineage``).

Names: the job is ``<project>.<experiment>`` and the run id is the Steward run id (a
UUID already); a dataset is its Steward name with its version in the ``version`` facet;
a model version is the dataset ``models/<name>`` at its version number.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steward._version import __version__
from steward.context import get_backend
from steward.develop import DatasetVersion, Run
from steward.errors import InvalidInput, NotFound, StewardError
from steward.store import redact

if TYPE_CHECKING:
    from openlineage.client.event_v2 import RunEvent

DEFAULT_NAMESPACE = "steward"
PRODUCER = f"urn:steward:{__version__}"
_TERMINAL = {"FINISHED": "COMPLETE", "FAILED": "FAIL", "KILLED": "ABORT"}
PAGE = 1000


def _time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()


def run_events(
    run: Run,
    *,
    outputs: Iterable[tuple[str, int]] = (),
    schemas: dict[tuple[str, int], DatasetVersion] | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> list[RunEvent]:
    """Return the OpenLineage events of one run: START, then its end if it has ended.

    ``outputs`` are the (model, version) pairs the run produced; ``schemas`` the dataset
    versions it read, for their columns.
    """
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        RunState,
    )
    from openlineage.client.event_v2 import Run as OLRun
    from openlineage.client.event_v2 import RunEvent as OLRunEvent
    from openlineage.client.facet_v2 import (
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        parent_run,
        processing_engine_run,
        schema_dataset,
    )

    schemas = schemas or {}
    job_name = f"{run.project}.{run.experiment}"
    job = Job(
        namespace=namespace,
        name=job_name,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="STEWARD", jobType="TRAINING"
            )
        },
    )
    facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=__version__, name="Steward"
        )
    }
    if run.parent_run_id:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=str(uuid.UUID(hex=run.parent_run_id))),
            job=parent_run.Job(namespace=namespace, name=job_name),
        )
    inputs = []
    for read in run.inputs:
        dataset_facets: dict[str, Any] = {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(read.version)
            )
        }
        meta = schemas.get((read.dataset, read.version))
        if meta is not None:
            dataset_facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.dtype)
                    for c in meta.columns
                ]
            )
        inputs.append(InputDataset(namespace=namespace, name=read.dataset, facets=dataset_facets))
    made = [
        OutputDataset(
            namespace=namespace,
            name=f"models/{model}",
            facets={
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=str(version)
                )
            },
        )
        for model, version in outputs
    ]
    run_id = str(uuid.UUID(hex=run.id))
    events = [
        OLRunEvent(
            eventType=RunState.START,
            eventTime=_time(run.start_time),
            run=OLRun(runId=run_id, facets=facets),
            job=job,
            inputs=inputs,
            outputs=[],
            producer=PRODUCER,
        )
    ]
    if run.status in _TERMINAL and run.end_time is not None:
        end_facets = dict(facets)
        if run.status == "FAILED" and run.error:
            end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=run.error.strip().splitlines()[-1][:1000], programmingLanguage="python"
            )
        events.append(
            OLRunEvent(
                eventType=RunState(_TERMINAL[run.status]),
                eventTime=_time(run.end_time),
                run=OLRun(runId=run_id, facets=end_facets),
                job=job,
                inputs=inputs,
                outputs=made,
                producer=PRODUCER,
            )
        )
    return events


def openlineage_events(
    run_ids: Iterable[str] = (),
    *,
    since: float | None = None,
    until: float | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> list[RunEvent]:
    """Return the OpenLineage events of the runs named, or of every run started in a period."""
    backend = get_backend()
    runs = [backend.get_run(run_id) for run_id in run_ids]
    if not runs:
        clauses = []
        if since is not None:
            clauses.append(f"start_time >= {since}")
        if until is not None:
            clauses.append(f"start_time < {until}")
        token = None
        while True:
            page = backend.search_runs(
                " and ".join(clauses),
                order_by=["start_time ASC"],
                max_results=PAGE,
                page_token=token,
            )
            runs.extend(page.runs)
            token = page.next_page_token
            if token is None:
                break
    schemas: dict[tuple[str, int], DatasetVersion] = {}
    events: list[RunEvent] = []
    for run in runs:
        for read in run.inputs:
            key = (read.dataset, read.version)
            if key not in schemas:
                with contextlib.suppress(NotFound):  # a deleted version: no schema facet
                    schemas[key] = backend.get_dataset_version(read.dataset, read.version)
        graph = backend.get_lineage(f"run:{run.id}", direction="downstream", depth=1)
        outputs = [
            (n.details["model"], int(n.details["version"]))
            for n in graph.of_kind("model_version")
            if not n.missing
        ]
        events.extend(run_events(run, outputs=outputs, schemas=schemas, namespace=namespace))
    return events


def write_openlineage(events: Iterable[RunEvent], path: str | Path) -> int:
    """Write events as newline-delimited JSON with the client's file transport; return how many."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("")  # the transport appends: start from an empty file
    client = OpenLineageClient(
        transport=FileTransport(FileConfig(log_file_path=str(target), append=True))
    )
    count = 0
    for event in events:
        client.emit(event)
        count += 1
    return count


def send_openlineage(
    events: Iterable[RunEvent],
    url: str,
    *,
    endpoint: str = "api/v1/lineage",
    api_key: str | None = None,
    timeout: float = 10.0,
) -> int:
    """Post events to an OpenLineage HTTP endpoint (Marquez's by default); return how many."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    if not url.startswith(("http://", "https://")):
        raise InvalidInput(
            f"The OpenLineage endpoint must be an http(s) URL, as in http://marquez:5000; got {url!r}."
        )
    retry = {
        "total": 2,
        "read": 2,
        "connect": 2,
        "backoff_factor": 0.3,
        "status_forcelist": [500, 502, 503, 504],
        "allowed_methods": ["POST"],
    }
    config = HttpConfig(url=url, endpoint=endpoint, timeout=timeout, retry=retry)
    if api_key:
        config.auth = ApiKeyTokenProvider({"apiKey": api_key})
    client = OpenLineageClient(transport=HttpTransport(config))
    count = 0
    for event in events:
        try:
            client.emit(event)
        except Exception as exc:  # the transport raises requests' and its own errors
            message = redact(
                f"The OpenLineage endpoint {url} refused or did not answer event {count + 1} "
                f"({type(exc).__name__}: {exc}). Check the URL and that the server is up; "
                f"{count} event(s) were sent before it."
            )
            raise StewardError(message) from None
        count += 1
    return count
