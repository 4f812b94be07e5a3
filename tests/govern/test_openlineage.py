"""Runs as OpenLineage run events: built with the client's classes, written as NDJSON, read
back into those classes, and posted to an HTTP endpoint as Marquez would receive them."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_version_dataset, schema_dataset

from steward import govern
from steward.errors import StewardError
from tests.conftest import free_port

from .conftest import LifeCycle


def rebuild(document: dict[str, Any]) -> RunEvent:
    """Return the event a line of NDJSON holds, re-made with the client's validating classes."""

    def facets(dataset: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if "version" in dataset.get("facets", {}):
            found["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=dataset["facets"]["version"]["datasetVersion"]
            )
        if "schema" in dataset.get("facets", {}):
            found["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f.get("type"))
                    for f in dataset["facets"]["schema"]["fields"]
                ]
            )
        return found

    return RunEvent(
        eventType=RunState(document["eventType"]),
        eventTime=document["eventTime"],
        run=Run(runId=document["run"]["runId"]),
        job=Job(namespace=document["job"]["namespace"], name=document["job"]["name"]),
        inputs=[
            InputDataset(namespace=d["namespace"], name=d["name"], facets=facets(d))
            for d in document["inputs"]
        ],
        outputs=[
            OutputDataset(namespace=d["namespace"], name=d["name"], facets=facets(d))
            for d in document.get("outputs", [])
        ],
        producer=document["producer"],
    )


def test_each_run_becomes_a_start_and_an_end_with_its_inputs_and_outputs(
    life_cycle: LifeCycle, tmp_path: Path
) -> None:
    events = govern.openlineage_events(namespace="bank")
    path = tmp_path / "lineage" / "events.ndjson"
    assert govern.write_openlineage(events, path) == len(events) == 6  # 3 runs, 2 each
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    rebuilt = [rebuild(line) for line in lines]  # validators: UUID run ids, ISO times...
    by_run: dict[str, list[RunEvent]] = {}
    for event in rebuilt:
        by_run.setdefault(event.run.runId, []).append(event)
    trained = by_run[str(uuid.UUID(hex=life_cycle.run_v1))]
    assert [e.eventType for e in trained] == [RunState.START, RunState.COMPLETE]
    start, end = trained
    assert start.job.name == "default.default" and start.job.namespace == "bank"
    assert [(d.namespace, d.name) for d in start.inputs] == [("bank", "churn-data")]
    assert start.inputs[0].facets["version"].datasetVersion == "1"
    columns = [f.name for f in start.inputs[0].facets["schema"].fields]
    assert columns == ["tenure", "monthly", "churn"]
    assert [(d.name, d.facets["version"].datasetVersion) for d in end.outputs] == [
        ("models/churn", "1")
    ]
    assert start.eventTime < end.eventTime
    unrelated = by_run[str(uuid.UUID(hex=life_cycle.run_unrelated))]
    assert unrelated[0].inputs == [] and unrelated[1].outputs == []
    assert lines[0]["schemaURL"].startswith("https://openlineage.io/spec/")
    assert lines[0]["run"]["facets"]["processing_engine"]["name"] == "Steward"


def test_one_run_or_a_period(life_cycle: LifeCycle) -> None:
    one = govern.openlineage_events([life_cycle.run_v2])
    assert {e.run.runId for e in one} == {str(uuid.UUID(hex=life_cycle.run_v2))}
    assert govern.openlineage_events(since=4102444800) == []  # runs started after 2100: none


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[type[_Collector]]:
    """An OpenLineage HTTP endpoint on 127.0.0.1 that keeps what it is sent."""
    handler = type("Collector", (_Collector,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()
    server.server_close()


def test_events_are_posted_to_an_openlineage_endpoint(
    life_cycle: LifeCycle, endpoint: type[_Collector]
) -> None:
    events = govern.openlineage_events([life_cycle.run_v1])
    url = endpoint.url  # type: ignore[attr-defined]
    assert govern.send_openlineage(events, url, api_key="ol-key-123") == 2
    assert [path for path, _, _ in endpoint.received] == ["/api/v1/lineage"] * 2
    assert endpoint.received[0][1]["Authorization"] == "Bearer ol-key-123"
    assert [body["eventType"] for _, _, body in endpoint.received] == ["START", "COMPLETE"]
    rebuild(endpoint.received[1][2])


def test_a_refusing_endpoint_is_a_clear_error_without_the_key(
    life_cycle: LifeCycle, endpoint: type[_Collector]
) -> None:
    endpoint.status = 400
    events = govern.openlineage_events([life_cycle.run_v1])
    with pytest.raises(StewardError, match="refused or did not answer event 1") as caught:
        govern.send_openlineage(events, endpoint.url, api_key="ol-key-123")  # type: ignore[attr-defined]
    assert (
        "ol-key-123" not in caught.value.message and "0 event(s) were sent" in caught.value.message
    )
    with pytest.raises(StewardError, match="must be an http"):
        govern.send_openlineage(events, "marquez:5000")
