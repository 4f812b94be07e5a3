"""`steward build-image`: a Docker build context and Kubernetes manifests for a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

import steward.serve
from steward.cli._output import fields_grid, indented, note, print_json, section, stderr, stdout
from steward.serve import ImageFiles


def build_image(
    uri: Annotated[
        str,
        typer.Argument(
            metavar="MODEL_URI",
            help="`models:/name@alias`, `models:/name/3`, `runs:/<run id>/model` or a package "
            "folder.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="FOLDER", help="The folder to write (default: `./<name>-image`)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="The Kubernetes objects' name: lowercase letters, digits and `-` (default: "
            "from the model's name).",
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            metavar="REF",
            help="The image the manifests run, e.g. `registry.example.com/team/churn:3` "
            "(default: `<name>:<version>`).",
        ),
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base-image",
            metavar="REF",
            help="The image to build on (default: `python:<the model's Python>-slim`).",
        ),
    ] = None,
    port: Annotated[
        int,
        typer.Option("--port", metavar="PORT", min=1, max=65535, help="The port the server uses."),
    ] = 8080,
    cpu: Annotated[str, typer.Option("--cpu", metavar="CPUS", help="CPU request.")] = "500m",
    memory: Annotated[
        str, typer.Option("--memory", metavar="BYTES", help="Memory request.")
    ] = "1Gi",
    cpu_limit: Annotated[str, typer.Option("--cpu-limit", metavar="CPUS", help="CPU limit.")] = "1",
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit",
            metavar="BYTES",
            help="Memory limit; the server caps itself at 80% of it (`--max-memory`).",
        ),
    ] = "2Gi",
    replicas: Annotated[
        int, typer.Option("--replicas", metavar="N", help="Replicas of each Deployment.")
    ] = 2,
    min_replicas: Annotated[
        int, typer.Option("--min-replicas", metavar="N", help="The autoscaler's minimum.")
    ] = 2,
    max_replicas: Annotated[
        int, typer.Option("--max-replicas", metavar="N", help="The autoscaler's maximum.")
    ] = 10,
    target_cpu: Annotated[
        int,
        typer.Option(
            "--target-cpu",
            metavar="PERCENT",
            help="Average CPU use, in % of the request, the autoscaler aims at.",
        ),
    ] = 70,
    steward_wheel: Annotated[
        Path | None,
        typer.Option(
            "--steward-wheel",
            metavar="PATH",
            help="A built wheel of Steward to install in the image (default: build one from "
            "the running Steward's source).",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier build context in --out.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON.")
    ] = False,
) -> None:
    """Write a Docker build context and Kubernetes manifests that serve a model.

    The folder holds a `Dockerfile` (slim Python image, only the model's pinned
    requirements and Steward's wheel, a non-root user, a health check, `steward serve` as
    its command), the verified model package, and `k8s/`: a Deployment with readiness and
    liveness probes, resource requests and limits, a Service, a HorizontalPodAutoscaler, and
    a blue-green pair of Deployments behind a Service whose selector picks the live slot.
    No Docker engine is needed to write them. Quantities are Kubernetes quantities
    (`500m`, `2`, `512Mi`, `2Gi`).

    Example:

    ```
    steward build-image models:/churn@champion --out churn-image \\
        --image registry.example.com/ml/churn:3 --memory-limit 4Gi
    ```
    """
    with stderr().status("Writing the build context (a wheel of Steward, the model, k8s/)"):
        built = steward.serve.build_image(
            uri,
            out,
            name=name,
            port=port,
            base_image=base_image,
            image=image,
            cpu=cpu,
            memory=memory,
            cpu_limit=cpu_limit,
            memory_limit=memory_limit,
            replicas=replicas,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            target_cpu=target_cpu,
            steward_wheel=steward_wheel,
            overwrite=overwrite,
        )
    if as_json:
        print_json(built.model_dump(mode="json"))
        return
    _print(built)


def _print(built: ImageFiles) -> None:
    console = stdout()
    version = f" version {built.version}" if built.version is not None else ""
    console.print(
        Text.assemble(
            "Build context of ",
            (f"{built.model}{version}", "bold cyan"),
            " in ",
            (str(built.folder), "bold"),
        )
    )
    console.print(
        indented(
            fields_grid(
                [
                    ("image", built.image),
                    ("Kubernetes name", built.name),
                    ("server", f"port {built.port}, --max-memory {built.max_memory}"),
                ]
            )
        )
    )
    model_files = [f for f in built.files if f.startswith("model/")]
    shown = [f for f in built.files if not f.startswith("model/")]
    listing = Text("\n".join([*shown, f"model/ ({len(model_files)} files, the verified package)"]))
    section(console, "Written", listing)
    console.print()
    console.print(Text("Next", style="bold underline"))
    for command in built.commands:  # one line each, unwrapped, so that it copies whole
        console.print(Text(f"  {command}", style="cyan"), soft_wrap=True)
    note(
        f"Or, for blue-green releases, kubectl apply -f {built.folder.as_posix()}/k8s/"
        "blue-green.yaml instead of the three files (see its README.md)."
    )
