"""Several processes writing at once lose nothing; a killed writer corrupts nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import steward
from steward._backend import SqlBackend, set_backend

WRITER = textwrap.dedent(
    """
    import sys, steward
    shared, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with steward.start_run(f"worker-{worker}", capture_environment_info=False) as run:
        for i in range(n):
            steward.log_metric("loss", 1.0 / (i + 1), i)
            steward.log_metric("shared", float(worker), worker * n + i, run_id=shared)
        steward.log_params({"worker": worker})
    steward.flush()
    print(run.id)
    """
)


def _spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_writers(env: dict[str, str], shared: str, processes: int, points: int) -> list[str]:
    procs = [_spawn(env, shared, str(w), str(points)) for w in range(processes)]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        ids.append(out.strip().splitlines()[-1])
    return ids


def _check_nothing_lost(
    backend: SqlBackend, shared: str, ids: list[str], processes: int, points: int
) -> None:
    assert len(set(ids)) == processes
    for rid in ids:
        run = backend.get_run(rid)
        assert run.status == "FINISHED"
        assert run.metrics["loss"].count == points
        assert len(backend.get_metric_history(rid, "loss")) == points
    combined = backend.get_run(shared).metrics["shared"]
    assert combined.count == processes * points  # the summary row was updated atomically
    assert len(backend.get_metric_history(shared, "shared")) == processes * points
    assert combined.step == processes * points - 1
    assert backend.store.check_integrity() == []


@pytest.mark.slow
def test_eight_processes_into_one_sqlite_store(tmp_path: Path) -> None:
    env = {**os.environ, "STEWARD_HOME": str(tmp_path / "home")}
    backend = SqlBackend.open(
        f"sqlite:///{tmp_path / 'home' / 'steward.db'}", str(tmp_path / "home" / "artifacts")
    )
    shared = backend.create_run(name="shared").id
    ids = _run_writers(env, shared, processes=8, points=1500)
    _check_nothing_lost(backend, shared, ids, 8, 1500)


@pytest.mark.slow
def test_eight_processes_into_one_postgresql_store(pg_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "STEWARD_STORE_URI": pg_url, "STEWARD_ARTIFACT_URI": str(tmp_path / "art")}
    backend = SqlBackend.open(pg_url, str(tmp_path / "art"))
    shared = backend.create_run(name="shared").id
    ids = _run_writers(env, shared, processes=8, points=1500)
    _check_nothing_lost(backend, shared, ids, 8, 1500)
    backend.close()


def test_two_processes_setting_the_same_param_differently(tmp_path: Path) -> None:
    env = {**os.environ, "STEWARD_HOME": str(tmp_path / "home")}
    backend = SqlBackend.open(
        f"sqlite:///{tmp_path / 'home' / 'steward.db'}", str(tmp_path / "home" / "artifacts")
    )
    run_id = backend.create_run().id
    script = "import sys, steward\ntry:\n    steward.log_param('lr', sys.argv[2], run_id=sys.argv[1])\n    print('stored')\nexcept steward.StewardError as e:\n    print('refused:', e)\n"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, run_id, value],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for value in ("0.1", "0.2")
    ]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert sorted(o.split(":")[0].split()[0] for o in outputs) == ["refused", "stored"]
    refused = next(o for o in outputs if o.startswith("refused"))
    assert "already" in refused and "'lr'" in refused
    winner = "0.1" if outputs[0] == "stored" else "0.2"
    assert backend.get_run(run_id).params == {"lr": winner}


KILLED = textwrap.dedent(
    """
    import sys, steward
    run = steward.start_run("doomed", capture_environment_info=False)
    print(run.id, flush=True)
    i = 0
    while True:
        steward.log_batch(metrics=[("loss", 1.0 / (i + 1), i)] * 1 + [("acc", 0.5, i)])
        steward.log_text(f"checkpoint {i}", f"ckpt/{i % 5}.txt")
        if i == 20:
            print("going", flush=True)
        i += 1
    """
)


def test_sigkill_mid_logging_leaves_a_sound_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "STEWARD_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert proc.stdout.readline().strip() == "going"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    backend = SqlBackend.open(f"sqlite:///{home / 'steward.db'}", str(home / "artifacts"))
    set_backend(backend)
    assert backend.store.check_integrity() == []
    run = steward.get_run(run_id)
    assert run.status == "RUNNING" and not run.finished
    loss = run.metrics["loss"]
    assert loss.count > 20 and loss.count == len(backend.get_metric_history(run_id, "loss"))
    assert abs(run.metrics["acc"].count - loss.count) == 0  # batches are atomic
    for art in steward.list_artifacts(run_id):
        assert backend.blobs.read_bytes(art.sha256).startswith(b"checkpoint")
    assert [r for r in steward.search_runs("status = 'RUNNING'")["run_id"]] == [run_id]
