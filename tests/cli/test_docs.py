"""docs/cli.md is the reference rendered from the CLI; it must not go stale."""

from __future__ import annotations

import difflib
from pathlib import Path

from steward.cli._docs import render_reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date() -> None:
    expected = render_reference()
    actual = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    diff = "".join(
        difflib.unified_diff(
            actual.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            "docs/cli.md",
            "generated",
        )
    )
    assert actual == expected, (
        "docs/cli.md differs from the CLI. Regenerate it with\n"
        "    PYTHONPATH=src python -m steward.cli._docs > docs/cli.md\n" + diff[:4000]
    )


def test_reference_documents_every_command_and_option() -> None:
    text = render_reference()
    for heading in (
        "## `steward`",
        "### `steward server`",
        "#### `steward runs list`",
        "#### `steward runs show`",
        "#### `steward runs compare`",
        "#### `steward datasets register`",
        "#### `steward store check`",
    ):
        assert f"\n{heading}\n" in text
    assert "| `-f, --filter EXPR` |" in text
    assert "| `-s, --sensitive COLUMN` |" in text
    assert "[default: 5000; 1<=x<=65535]" in text
    assert "(#steward-runs-list)" in text  # links from a group to its commands
