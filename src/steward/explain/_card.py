"""Model cards (Mitchell et al., "Model Cards for Model Reporting", 2019), built from records.

Every section is filled from what Steward already knows: the registry (details, inputs,
requirements, exports, alias history), the run and its datasets (training and evaluation
data, metrics), and analyses computed here on the evaluation data (metrics per segment,
fairness, Shapley importance, partial dependence). Sections that need a person (intended
use, ethical considerations, caveats) come from the model's tags and are marked missing
when absent, never invented.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from steward.context import get_backend
from steward.errors import InvalidInput, StewardError, did_you_mean
from steward.explain._fairness import fairness_report
from steward.explain._inputs import resolve_data, resolve_model
from steward.explain._pdp import partial_dependence
from steward.explain._segments import segment_metrics
from steward.explain._shap_figures import importance_figure
from steward.explain._shapley import global_importance
from steward.registry import (
    EvaluationData,
    ModelFile,
    ModelVersion,
    evaluation_data,
    get_model_version,
    load_model,
)
from steward.report import html_page

PERSON_SECTIONS = {
    "intended_use": "Primary intended uses",
    "intended_users": "Primary intended users",
    "out_of_scope": "Out-of-scope uses",
    "ethical_considerations": "Ethical considerations",
    "caveats": "Caveats and recommendations",
}


@dataclass
class ModelCard:
    """A model card: Markdown for reading and diffing, HTML with interactive figures."""

    model: str
    version: int
    markdown: str
    figures: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    files: list[ModelFile] = field(default_factory=list)

    def to_html(self) -> str:
        """Return a self-contained HTML page (Plotly's script inlined once; works offline)."""
        return html_page(self.markdown, f"Model card: {self.model} v{self.version}", self.figures)


def model_card(
    model_uri: str,
    *,
    data: Any = None,
    target: str | None = None,
    segments: list[str] | None = None,
    max_rows: int = 2000,
    save: bool = True,
) -> ModelCard:
    """Return the model card of a registered version (and attach it to the version).

    ``data`` is the evaluation data: a DataFrame, a dataset name or a data file (default:
    the evaluation dataset the version's run read, else its training data); ``target``
    the label column (default: the one column of that data that is not a model input).
    Without any of these, the card is still built: its explanations use the logged input
    example plus rows sampled within the signature, and the sections that need outcomes
    (performance, fairness) say plainly that evaluation data is missing. The card is
    stored with the version as ``reports/model_card.md`` and ``reports/model_card.html``
    unless ``save=False``.
    """
    started = time.perf_counter()
    version = get_model_version(model_uri)
    loaded = load_model(version.uri)
    explained = resolve_model(loaded)
    evaluation = evaluation_data(version, data, purpose="evaluate the model on", rows=max_rows)
    frame, described = evaluation.frame, evaluation.description
    resolve_data(frame, explained)
    if target is None and evaluation.labeled:
        target = _target(frame, explained.features, _sensitive_columns(version, frame))
    elif target is not None and target not in frame.columns:
        raise InvalidInput(
            f"The target column {target!r} is not in the evaluation data ({described})."
            f"{did_you_mean(target, map(str, frame.columns))}"
        )
    if len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=0)
    backend = get_backend()
    registered = backend.get_registered_model(version.model)
    tags = {**registered.tags, **version.tags}
    missing: list[str] = []
    flags: list[str] = []
    figures: dict[str, Any] = {}
    m = version.manifest
    lines = [f"# Model card: {version.model} version {version.version}", ""]
    lines += _details(version, registered.description, registered.owners)
    lines += ["## Intended use", ""]
    for key in ("intended_use", "intended_users", "out_of_scope"):
        lines += _person(tags, key, missing)
    lines += ["## Factors", ""]
    sensitive = _sensitive_columns(version, frame)
    groups = segments or sensitive
    if groups:
        lines.append(
            f"Evaluated across: {', '.join(groups)} (sensitive attributes declared on the data: {', '.join(sensitive) or 'none'})."
        )
    else:
        lines.append(
            "_No segments or sensitive attributes are declared on the data; pass segments=[...] or declare sensitive columns on the dataset._"
        )
        missing.append("factors")
    lines += ["", "## Metrics", ""]
    lines += _metrics_table(m.metrics)
    lines += ["## Training data", "", *_datasets(version, "training")]
    lines += ["## Evaluation data", "", *_datasets(version, "evaluation")]
    if target is not None:
        lines += [
            f"Analyses below use {len(frame)} rows of {described}; target column `{target}`.",
            "",
        ]
    else:
        missing.append("evaluation data")
        lines += [
            f"_Missing: {_no_outcomes(evaluation)} Explanations below use {len(frame)} rows of {described}._",
            "",
        ]
    lines += ["## Quantitative analyses", ""]
    task = explained.task
    if target is None:
        lines += [
            "_Not computed: performance per segment and fairness need evaluation data with "
            "outcomes (see Evaluation data)._",
            "",
        ]
    elif groups:
        report = segment_metrics(loaded, frame, target=target, by=groups[0], n_boot=100)
        lines += [report.to_markdown(), ""]
        figures[f"Metrics per {groups[0]}"] = report.figure()
        for extra in groups[1:]:
            more = segment_metrics(loaded, frame, target=target, by=extra, n_boot=100)
            lines += [more.to_markdown(), ""]
    if target is not None and task == "classification" and sensitive:
        try:
            fairness = fairness_report(loaded, frame, target=target, sensitive=sensitive)
            lines += [fairness.to_markdown(), ""]
            figures["Fairness: selection rate per group"] = fairness.figure()
            flags += fairness.flags
        except StewardError as exc:
            lines += ["### Fairness", "", f"_Not computed: {exc.message}_", ""]
    lines += ["## Explanations", ""]
    lines += _explanations(loaded, frame, explained.features, figures)
    lines += ["## Ethical considerations", ""]
    if m.uses_sensitive_columns and not any("as input" in f for f in flags):
        flags.append(
            f"Uses sensitive attributes as features: {', '.join(m.uses_sensitive_columns)}."
        )
    for flag in dict.fromkeys(flags):
        lines.append(f"- **Flag:** {flag}")
    lines += _person(tags, "ethical_considerations", missing)
    lines += ["## Caveats and recommendations", "", *_person(tags, "caveats", missing)]
    lines += _environment_and_lineage(version)
    lines += [
        "## Sign-offs",
        "",
        "_Missing: approvals are recorded once governance is enabled._",
        "",
    ]
    missing.append("sign-offs")
    card = ModelCard(
        model=version.model,
        version=version.version,
        markdown="\n".join(lines),
        figures=figures,
        missing=missing,
        flags=list(dict.fromkeys(flags)),
    )
    card.seconds = time.perf_counter() - started
    if save:
        card.files = _attach(version, card)
    return card


def _no_outcomes(evaluation: EvaluationData) -> str:
    """Return why a card has no outcomes to evaluate on, and how to give them."""
    how = (
        "pass data= (a DataFrame, a dataset name or a file; `--data` on the command line) "
        "with the label column, or record it in training with "
        "steward.log_input(dataset, context='evaluation')"
    )
    if evaluation.labeled:
        return f"the evaluation data ({evaluation.description}) has no label column: {how}."
    return f"no evaluation data with outcomes was given, and the version's run recorded no dataset: {how}."


def _target(frame: pd.DataFrame, features: list[str], sensitive: list[str]) -> str | None:
    """Return the data's one column that is neither a model input nor a sensitive attribute
    (None when the data holds only inputs: it has no outcomes)."""
    others = [str(c) for c in frame.columns if c not in features and c not in sensitive]
    if len(others) == 1:
        return others[0]
    if not others:
        return None
    raise InvalidInput(
        f"Cannot tell the target column: the data has {len(others)} columns that are not model "
        f"inputs ({', '.join(others) or 'none'}). Pass target='...'."
    )


def _person(tags: dict[str, str], key: str, missing: list[str]) -> list[str]:
    title = PERSON_SECTIONS[key]
    if tags.get(key):
        return [f"**{title}:** {tags[key]}", ""]
    missing.append(key)
    return [
        f"**{title}:** _Missing: to be written by the model's owner (set the tag `{key}`: "
        f"`steward.set_model_tag(name, '{key}', '...')`)._",
        "",
    ]


def _details(version: ModelVersion, description: str, owners: list[str]) -> list[str]:
    m = version.manifest
    created = dt.datetime.fromtimestamp(version.created_at, dt.UTC).strftime("%Y-%m-%d")
    return [
        "## Model details",
        "",
        description or "_No description recorded._",
        "",
        f"- Version {version.version}, registered {created} by {version.created_by}; owners: {', '.join(owners)}",
        f"- Type: {m.flavor} `{m.flavor_options.get('class', '')}`; output: "
        f"{m.signature.output.task if m.signature else 'unknown'}"
        + (
            f" with classes {m.signature.output.classes}"
            if m.signature and m.signature.output.classes
            else ""
        ),
        f"- Aliases: {', '.join(version.aliases) or 'none'}; source `{version.source}`",
        "",
    ]


def _metrics_table(metrics: dict[str, float]) -> list[str]:
    if not metrics:
        return ["_No metrics were logged to the training run._", ""]
    rows = ["| metric (training run) | value |", "|---|---|"]
    rows += [f"| {k} | {v:.4g} |" for k, v in sorted(metrics.items())]
    return [*rows, ""]


def _datasets(version: ModelVersion, context: str) -> list[str]:
    refs = [d for d in version.manifest.datasets if d.context == context]
    if not refs:
        return [f"_No {context} dataset was recorded by the run._", ""]
    backend = get_backend()
    lines = []
    for ref in refs:
        meta = backend.get_dataset_version(ref.dataset, ref.version)
        lines.append(
            f"- `{ref.dataset}` v{ref.version}: {meta.row_count} rows, {len(meta.columns)} columns; "
            f"source: {meta.source or 'not recorded'}; terms: {meta.terms_of_use or 'not recorded'}; "
            f"sensitive columns: {', '.join(meta.sensitive_columns) or 'none declared'}; "
            f"content sha256 `{meta.content_hash[:16]}…`"
        )
    return [*lines, ""]


def _sensitive_columns(version: ModelVersion, frame: pd.DataFrame) -> list[str]:
    backend = get_backend()
    found: list[str] = []
    for ref in version.manifest.datasets:
        for col in backend.get_dataset_version(ref.dataset, ref.version).sensitive_columns:
            if col in frame.columns and col not in found:
                found.append(col)
    return found


def _explanations(
    model: Any, frame: pd.DataFrame, features: list[str], figures: dict[str, Any]
) -> list[str]:
    lines: list[str] = []
    try:
        importance = global_importance(model, frame, max_rows=500)
        raw: Any = importance.attrs.get("settings")
        settings = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw or {})
        how = (
            f"{settings['explainer']} explainer ({settings.get('method')}), output: "
            f"{settings.get('output')}; background {settings.get('background_rows')} rows, "
            f"seed {settings.get('seed')}, shap {settings.get('shap_version')}"
            if settings.get("explainer")
            else "shap"
        )
        lines += [
            f"Global importance: mean |Shapley value| over {min(len(frame), 500)} rows ({how}).",
            "",
            "| feature | mean abs SHAP |",
            "|---|---|",
        ]
        lines += [
            f"| {r.feature} | {r.mean_abs_shap:.4g} |" for r in importance.head(10).itertuples()
        ]
        lines.append("")
        figures["Shapley importance"] = importance_figure(importance)
        top = [str(f) for f in importance["feature"].head(2)]
    except StewardError as exc:
        lines += [f"_Shapley values not computed: {exc.message}_", ""]
        top = features[:2]
    for feature in top:
        try:
            pd_result = partial_dependence(model, frame, feature, kind="both", max_rows=500)
            figures[f"Partial dependence: {feature}"] = pd_result.figure()
            lines.append(f"- Partial dependence and ICE on `{feature}`: see the figure.")
        except StewardError as exc:
            lines.append(f"- Partial dependence on `{feature}` not computed: {exc.message}")
    return [*lines, ""]


def _environment_and_lineage(version: ModelVersion) -> list[str]:
    m = version.manifest
    lines = [
        "## Environment and lineage",
        "",
        f"- Python {m.python}; " + ", ".join(f"{k}=={v}" for k, v in m.requirements.items()),
    ]
    lines.append(
        f"- Trained by run `{version.run_id or 'unknown'}`; package manifest sha256 `{version.manifest_sha256}`"
    )
    exports = [
        f.path for f in version.files if f.kind == "export" and f.path.endswith("parity.json")
    ]
    if exports:
        lines.append(f"- Portable exports with parity reports: {', '.join(exports)}")
    history = get_backend().get_alias_history(version.model)
    moves = [h for h in history if version.version in (h.from_version, h.to_version)]
    for h in moves:
        when = dt.datetime.fromtimestamp(h.time, dt.UTC).strftime("%Y-%m-%d %H:%M")
        lines.append(
            f"- {when}: {h.actor} moved `{h.alias}` {h.from_version or '—'} → {h.to_version or '—'} ({h.reason or 'no reason given'})"
        )
    return [*lines, ""]


def _attach(version: ModelVersion, card: ModelCard) -> list[ModelFile]:
    backend = get_backend()
    files = []
    for path, content in (
        ("reports/model_card.md", card.markdown.encode()),
        ("reports/model_card.html", card.to_html().encode()),
    ):
        sha, size = backend.blobs.put_bytes(content)
        file = ModelFile(path=path, sha256=sha, size=size, kind="report")
        backend.add_model_version_file(version.model, version.version, file)
        files.append(file)
    return files
