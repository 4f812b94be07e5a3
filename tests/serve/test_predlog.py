"""The prediction log: whole segments, bounded loss on a crash, bounded memory when storage fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from steward.serve._predlog import FeedbackEntry, LogEntry, PredictionLog


def _entry(i: int) -> LogEntry:
    return LogEntry(
        request_id=f"{i:032x}",
        time=time.time(),
        revision=1,
        route="primary",
        role="primary",
        model="m",
        version=1,
        status=200,
        latency_ms=1.0,
        rows=1,
        inputs={"x": [float(i)], "plan": ["a"]},
        predictions=[i % 2],
        probabilities=[[0.4, 0.6]],
        classes=[0, 1],
    )


def test_segments_hold_every_row_and_feedback(tmp_path: Path) -> None:
    log = PredictionLog(str(tmp_path), "d", flush_rows=50, flush_seconds=0.05)
    for i in range(120):
        log.record(_entry(i))
        if i % 40 == 39:
            log.flush()
    log.record_feedback(
        FeedbackEntry(request_id=f"{3:032x}", time=time.time(), route="primary", label=1)
    )
    log.close()
    rows = duckdb.sql(
        f"select * from read_parquet('{tmp_path}/predictions/*/*.parquet') order by \"input.x\""
    ).df()
    assert rows["input.x"].tolist() == [float(i) for i in range(120)]
    assert rows["output.proba.1"].tolist() == [0.6] * 120
    assert log.predictions.written_rows == 120 and log.predictions.dropped_rows == 0
    segments = list((tmp_path / "predictions").rglob("*.parquet"))
    assert len(segments) >= 3 and all(s.parent.name.startswith("date=") for s in segments)
    assert not list(tmp_path.rglob("*.partial"))
    feedback = pq.read_table(next((tmp_path / "feedback").rglob("*.parquet"))).to_pylist()
    assert feedback[0]["label"] == "1" and feedback[0]["request_id"] == f"{3:032x}"


def test_a_killed_process_loses_at_most_the_unflushed_buffer(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, time, sys
        sys.path.insert(0, {str(Path(__file__).parent.parent.parent)!r})
        from tests.serve.test_predlog import _entry
        from steward.serve._predlog import PredictionLog
        log = PredictionLog({str(tmp_path)!r}, "d", flush_rows=100, flush_seconds=3600)
        for i in range(1050):
            log.record(_entry(i))
            if i % 100 == 99:
                time.sleep(0.05)  # let the writer keep up, as real traffic would
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    [(written,)] = duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path}/predictions/*/*.parquet')"
    ).fetchall()
    lost = 1050 - written
    assert 0 <= lost < 100, lost  # at most the rows since the last segment (flush_rows)
    for segment in (tmp_path / "predictions").rglob("*.parquet"):
        pq.read_table(segment)  # every segment on disk is whole


def test_a_log_that_cannot_be_written_keeps_rows_up_to_a_bound(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the log's folder should be")
    log = PredictionLog(str(blocked), "d", flush_rows=10, flush_seconds=0.05, max_buffer_rows=30)
    for i in range(100):
        log.record(_entry(i))
    log.flush()
    assert log.predictions.written_rows == 0
    assert log.predictions.buffered_rows <= 30
    assert log.predictions.dropped_rows == 100 - log.predictions.buffered_rows
    assert log.predictions.last_error is not None
    os.remove(blocked)  # storage comes back: the kept rows are written
    log.flush()
    assert log.predictions.written_rows == 100 - log.predictions.dropped_rows
    log.close()
