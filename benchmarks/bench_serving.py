"""Serving benchmark: `steward serve` against a bare FastAPI app and `mlflow models serve`.

Run: python benchmarks/bench_serving.py [--quick] [--seconds 15] [--connections 8]

One run, the same machine, the same fitted scikit-learn pipeline (StandardScaler +
LogisticRegression on 30 numeric columns), one uvicorn worker each, one-row requests
with keep-alive from a separate load process (`wrk`, Debian's package). The peers:

- **bare**: a FastAPI app that parses the JSON into a NumPy array and calls
  ``model.predict`` (no checks, no log, no probabilities): the practical limit;
- **steward**: `steward serve` with signature checks, the prediction log and metrics on,
  answering predictions, probabilities, the version and a request id;
- **mlflow**: `mlflow models serve --env-manager local` on the same model.

Then micro-batching (off, and on with 16 rows / 2 ms) under 32 connections, and how the
cost grows with the rows per request. Targets (issue 9): steward >= 80% of bare, >= 8x
mlflow.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

RESULTS = Path(__file__).parent / "results" / "serving.json"
FEATURES = 30

BARE_APP = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    import orjson
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    model, columns = pickle.load(open(sys.argv[1], "rb"))
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        body = orjson.loads(await request.body())
        X = np.array([[r[c] for c in columns] for r in body["records"]], dtype=float)
        return Response(orjson.dumps({"predictions": model.predict(X).tolist()}),
                        media_type="application/json")

    if __name__ == "__main__":
        import uvicorn
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                    access_log=False)
    """
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s per measure: a smoke run")
    parser.add_argument("--seconds", type=int, default=15, help="seconds per measure (15)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (8)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow peer")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(
    command: list[str], url: str, env: dict[str, str], ready: str, log: Path
) -> Iterator[int]:
    """Run a server, wait until ``url + ready`` answers 200, yield its pid, stop it."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + ready, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[:3]} not ready: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wrk(url: str, body: str, seconds: int, connections: int, work: Path) -> dict[str, float]:
    """Return req/s and latency percentiles (ms) of POSTing ``body`` with wrk."""
    script = work / f"post-{abs(hash(body))}.lua"
    payload = work / f"body-{abs(hash(body))}.json"
    payload.write_text(body)
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{payload}", "r"); wrk.body = f:read("*all"); f:close()\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("ERRORS %d %d\\n", summary.errors.status, summary.requests))\n'
        "  for _, p in pairs({50, 90, 99}) do\n"
        '    io.write(string.format("P%d %f\\n", p, latency:percentile(p) / 1000.0))\n'
        "  end\nend\n"
    )
    subprocess.run(
        ["wrk", "-t1", "-c", str(connections), "-d", "2s", "-s", str(script), url],
        capture_output=True,
    )
    done = subprocess.run(
        ["wrk", "-t1", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors, total = (int(x) for x in re.search(r"ERRORS (\d+) (\d+)", out).groups())  # type: ignore[union-attr]
    pct = {f"p{p}_ms": float(re.search(rf"P{p} ([\d.]+)", out).group(1)) for p in (50, 90, 99)}  # type: ignore[union-attr]
    return {"req_per_s": rate, "non_2xx": errors, "requests": total, **pct}


def setup(work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Train the model, register it with Steward, log it with MLflow, pickle it for bare."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
    y = (X.f0 + X.f1 - X.f2 > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    bare_model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X.to_numpy(), y)
    assert (bare_model.predict(X.to_numpy()) == model.predict(X)).all()  # the same model
    (work / "model.pkl").write_bytes(pickle.dumps((bare_model, list(X.columns))))
    (work / "bare.py").write_text(BARE_APP)
    script = textwrap.dedent(
        f"""
        import pickle, steward
        model, X = pickle.load(open({str(work / "steward.pkl")!r}, "rb"))
        with steward.start_run("bench", capture_environment_info=False):
            steward.log_model(model, input_example=X, registered_model_name="bench")
        """
    )
    (work / "steward.pkl").write_bytes(pickle.dumps((model, X)))
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    row = {k: float(v) for k, v in X.iloc[0].items()}
    return {"model": model, "X": X, "row": row}


def mlflow_model(work: Path, model: Any, X: pd.DataFrame) -> str | None:
    try:
        import mlflow
        import mlflow.sklearn
    except ImportError:
        return None
    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(5))
    return str(info.model_uri)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (Debian's package).")
    seconds = 5 if args.quick else args.seconds
    work = Path(tempfile.mkdtemp(prefix="steward-bench-serving-"))
    env = {**os.environ, "STEWARD_HOME": str(work / "home"), "STEWARD_USER": "bench"}
    env.pop("STEWARD_URI", None)
    made = setup(work, env)
    one = json.dumps({"records": [made["row"]]})
    results: dict[str, Any] = {
        "seconds": seconds,
        "connections": args.connections,
        "features": FEATURES,
    }
    python = sys.executable
    steward_cmd = [
        python,
        "-m",
        "steward.cli",
        "serve",
        "models:/bench/1",
        "--log-dir",
        str(work / "log"),
    ]

    bare_port, steward_port = free_port(), free_port()
    bare_url, url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{steward_port}"
    bare_cmd = [python, str(work / "bare.py"), str(work / "model.pkl"), str(bare_port)]
    with (
        process(bare_cmd, bare_url, env, "/docs", work / "bare.log"),
        process(
            [*steward_cmd, "--port", str(steward_port)],
            url,
            env,
            "/v2/health/ready",
            work / "steward.log",
        ),
    ):
        # Both servers up, measured in turns: the machine's drift hits both alike.
        rounds: dict[str, list[dict[str, float]]] = {"bare": [], "steward": []}
        for _ in range(1 if args.quick else 5):
            rounds["bare"].append(wrk(bare_url + "/predict", one, seconds, args.connections, work))
            rounds["steward"].append(wrk(url + "/predict", one, seconds, args.connections, work))
        for name in rounds:
            results[name] = sorted(rounds[name], key=lambda r: r["req_per_s"])[
                len(rounds[name]) // 2
            ]
            results[f"{name}_rounds"] = [r["req_per_s"] for r in rounds[name]]
        print(
            f"bare FastAPI + NumPy      {_line(results['bare'])}  (median of {len(rounds['bare'])})",
            flush=True,
        )
        print(
            f"steward serve             {_line(results['steward'])}  (median of {len(rounds['steward'])})",
            flush=True,
        )
        status = httpx.get(url + "/deployment").json()
        results["steward_log_rows"] = status["prediction_log"]["written_rows"]
        scaling = {}
        X = made["X"]
        for rows in (1, 10, 100, 1000):
            body = json.dumps({"records": X.head(rows).to_dict(orient="records")})
            measured = wrk(url + "/predict", body, max(3, seconds // 3), args.connections, work)
            scaling[rows] = {**measured, "rows_per_s": measured["req_per_s"] * rows}
            print(
                f"  {rows:>5} rows/request   {measured['req_per_s'] * rows:>10.0f} rows/s, p99 {measured['p99_ms']:.1f} ms",
                flush=True,
            )
        results["rows_per_request"] = scaling
        results["concurrency_32_unbatched"] = wrk(url + "/predict", one, seconds, 32, work)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    batched = [*steward_cmd, "--port", str(port), "--batch-size", "16", "--batch-wait-ms", "2"]
    with process(batched, url, env, "/v2/health/ready", work / "batched.log"):
        results["concurrency_32_batched"] = wrk(url + "/predict", one, seconds, 32, work)
        results["batching_stats"] = httpx.get(url + "/deployment").json().get("batching")
    un, ba = results["concurrency_32_unbatched"], results["concurrency_32_batched"]
    print(f"32 connections, unbatched {_line(un)}")
    print(
        f"32 connections, batched   {_line(ba)}  ({ba['req_per_s'] / un['req_per_s']:.2f}x)",
        flush=True,
    )

    uri = None if args.no_mlflow else mlflow_model(work, made["model"], made["X"])
    if uri is not None:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        mlflow_env = {
            **env,
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
            # mlflow starts `uvicorn` through a shell: the interpreter's bin folder first
            "PATH": f"{Path(python).parent}{os.pathsep}{env.get('PATH', '')}",
        }
        command = [
            python,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        with process(command, url, mlflow_env, "/ping", work / "mlflow.log"):
            body = json.dumps({"dataframe_records": [made["row"]]})
            results["mlflow"] = wrk(url + "/invocations", body, seconds, args.connections, work)
        print(f"mlflow models serve       {_line(results['mlflow'])}", flush=True)
    bare, ours = results["bare"]["req_per_s"], results["steward"]["req_per_s"]
    results["steward_vs_bare"] = ours / bare
    print(f"\nsteward / bare   = {ours / bare:.2f}  (target >= 0.80)")
    if "mlflow" in results:
        results["steward_vs_mlflow"] = ours / results["mlflow"]["req_per_s"]
        print(f"steward / mlflow = {results['steward_vs_mlflow']:.1f}x (target >= 8x)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def _line(r: dict[str, float]) -> str:
    return (
        f"{r['req_per_s']:>8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms"
        f"   non-2xx {int(r['non_2xx'])}"
    )


if __name__ == "__main__":
    main()
