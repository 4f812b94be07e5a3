"""A model version's summary in Markdown or HTML, from what the registry already knows.

This is the seed of the model card: every section is filled from records (the package
manifest, the run, the datasets, the alias history, export reports), never invented.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from steward.context import get_backend
from steward.errors import InvalidInput
from steward.registry._api import get_model_version
from steward.registry._models import ModelVersion
from steward.registry._package import version_differences
from steward.report import html_page


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def model_summary(model_uri: str, *, format: str = "markdown") -> str:
    """Return the summary of a registered version as Markdown (or HTML with format='html')."""
    version = get_model_version(model_uri)
    text = _markdown(version)
    if format == "markdown":
        return text
    if format == "html":
        return html_page(text, f"{version.model} v{version.version}")
    raise InvalidInput(f"format must be 'markdown' or 'html'; got {format!r}.")


def _markdown(version: ModelVersion) -> str:
    backend = get_backend()
    model = backend.get_registered_model(version.model)
    m = version.manifest
    lines = [
        f"# {version.model} — version {version.version}",
        "",
        model.description or "_No description recorded for this model._",
        "",
        "## Details",
        "",
        f"- Flavor: `{m.flavor}` ({m.flavor_options.get('class', '')}); methods: {', '.join(m.methods)}",
        f"- Registered {_when(version.created_at)} by {version.created_by}; owners: {', '.join(model.owners)}",
        f"- Aliases: {', '.join(version.aliases) or 'none'}",
        f"- Source: `{version.source}`; run: `{version.run_id or 'none'}`",
        f"- Package manifest sha256: `{version.manifest_sha256}`",
        "",
        "## Intended use",
        "",
        model.tags.get("intended_use")
        or "_Missing: to be written by the model's owner (tag `intended_use`)._",
        "",
        "## Inputs",
        "",
    ]
    if m.signature is None:
        lines.append("_No signature was recorded: inputs are not checked at prediction time._")
    else:
        lines += [
            "| column | kind | dtype | nullable | seen in training |",
            "|---|---|---|---|---|",
        ]
        for c in m.signature.inputs:
            seen = (
                f"{c.min:g} … {c.max:g}"
                if c.min is not None and c.max is not None
                else ", ".join(c.categories[:8]) + (" …" if len(c.categories) > 8 else "")
                if c.categories
                else ""
            )
            flag = " ⚠ sensitive" if c.name in m.uses_sensitive_columns else ""
            lines.append(
                f"| {c.name}{flag} | {c.kind} | {c.dtype} | {'yes' if c.nullable else 'no'} | {seen} |"
            )
        out = m.signature.output
        classes = f"; classes {out.classes}" if out.classes is not None else ""
        lines += ["", f"Output: {out.task}{classes}."]
    if m.uses_sensitive_columns:
        lines += [
            "",
            f"**Uses sensitive attributes as features: {', '.join(m.uses_sensitive_columns)}.** "
            "Review whether that is lawful and fair for the intended use.",
        ]
    lines += ["", "## Data", ""]
    if m.datasets:
        lines += ["| dataset | version | used for | content sha256 |", "|---|---|---|---|"]
        lines += [
            f"| {d.dataset} | {d.version} | {d.context} | `{d.content_hash[:16]}…` |"
            for d in m.datasets
        ]
    else:
        lines.append("_No dataset versions were recorded for the run that produced this model._")
    lines += ["", "## Metrics", ""]
    if m.metrics:
        lines += ["| metric | value |", "|---|---|"] + [
            f"| {k} | {v:.6g} |" for k, v in sorted(m.metrics.items())
        ]
    else:
        lines.append("_No metrics were logged to the run before the model._")
    lines += ["", "## Environment", "", f"- Python {m.python}"]
    lines += [f"- {dist} == {pin}" for dist, pin in m.requirements.items()]
    differences = version_differences(m)
    if differences:
        lines += ["", "Installed here differs: " + "; ".join(differences)]
    lines += ["", "## Exports", ""]
    exports = [f for f in version.files if f.kind == "export" and f.path.endswith("parity.json")]
    if not exports:
        lines.append("_No portable exports yet (`steward models export`)._")
    for f in exports:
        report: dict[str, Any] = json.loads(backend.blobs.read_bytes(f.sha256))
        verdict = "valid" if report.get("valid") else "NOT valid"
        lines.append(
            f"- {report.get('format', '?').upper()}: {verdict} — {report.get('reason', '')}"
        )
    lines += ["", "## Alias history", ""]
    history = [
        h
        for h in backend.get_alias_history(version.model)
        if version.version in (h.from_version, h.to_version)
    ]
    if history:
        lines += ["| when | who | alias | from | to | reason |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {_when(h.time)} | {h.actor} | {h.alias} | {h.from_version or '—'} | {h.to_version or '—'} | {h.reason} |"
            for h in history
        ]
    else:
        lines.append("_This version has not been given an alias._")
    lines += [
        "",
        "## Sign-offs",
        "",
        "_Missing: approvals are recorded once governance is enabled._",
        "",
    ]
    return "\n".join(lines)
