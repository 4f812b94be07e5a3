"""`steward datasets list / show / profile / register` on a real local store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import steward

from .conftest import Invoke, make_run, people_frame


@pytest.fixture
def people_csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    people_frame().to_csv(path, index=False)
    return path


def test_list_when_empty_says_how_to_register(cli: Invoke) -> None:
    result = cli("datasets", "list")
    assert result.exit_code == 0
    assert "No datasets yet" in result.stderr and "steward datasets register" in result.stderr


def test_list_shows_each_dataset_with_its_latest_version(cli: Invoke) -> None:
    steward.register_dataset(people_frame(), "people")
    steward.register_dataset(people_frame().head(3), "people")
    steward.register_dataset(people_frame(), "other")
    result = cli("datasets", "list")
    assert result.exit_code == 0
    people = next(line for line in result.stdout.splitlines() if line.startswith("people"))
    other = next(line for line in result.stdout.splitlines() if line.startswith("other"))
    assert "v2" in people and "v1" in other and "tester" in people
    names = [d["name"] for d in json.loads(cli("datasets", "list", "--json").stdout)]
    assert names == ["other", "people"]


def test_show_has_provenance_schema_and_usage(cli: Invoke) -> None:
    version = steward.register_dataset(
        people_frame(),
        "people",
        source="s3://lake/people.csv",
        terms_of_use="CC-BY-4.0",
        sensitive_columns=["sex"],
    )
    with steward.start_run("trainer", capture_environment_info=False) as run:
        steward.log_input(version, context="training")
    make_run("bystander")
    result = cli("datasets", "show", "people")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Dataset people  version 1 (latest) of 1" in out
    assert re.search(r"rows\s+8\b", out)
    assert re.search(r"source\s+s3://lake/people.csv", out)
    assert re.search(r"terms of use\s+CC-BY-4.0", out)
    assert version.content_hash in out.replace("\n", "").replace(" ", "")
    assert re.search(r"sex\s+\S+\s+no\s+⚠ sensitive", out)
    assert re.search(r"age\s+int64\s+no\s+looks sensitive \(not marked\)", out)
    assert re.search(r"income\s+float64\s+yes\s*$", out, re.MULTILINE)
    assert "Used by runs (1)" in out
    usage = next(line for line in out.splitlines() if run.id[:8] in line)
    assert "trainer" in usage and "training" in usage
    assert "bystander" not in out


def test_show_a_given_version(cli: Invoke) -> None:
    steward.register_dataset(people_frame(), "people")
    steward.register_dataset(people_frame().head(3), "people")
    first = cli("datasets", "show", "people@1")
    assert "version 1 of 2" in first.stdout and re.search(r"rows\s+8\b", first.stdout)
    latest = cli("datasets", "show", "people@latest")
    assert "version 2 (latest) of 2" in latest.stdout and re.search(r"rows\s+3\b", latest.stdout)
    data = json.loads(cli("datasets", "show", "people@v1", "--json").stdout)
    assert data["version"] == 1 and data["row_count"] == 8 and data["used_by"] == []


def test_show_unknown_dataset_suggests_the_closest_name(cli: Invoke) -> None:
    steward.register_dataset(people_frame(), "customers")
    result = cli("datasets", "show", "customer")
    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: Dataset 'customer' does not exist. Did you mean 'customers'?"
    )
    assert "Traceback" not in result.output


def test_show_missing_or_malformed_version(cli: Invoke) -> None:
    steward.register_dataset(people_frame(), "people")
    missing = cli("datasets", "show", "people@7")
    assert missing.exit_code == 3
    assert "Error: Dataset 'people' has no version 7; its versions are 1." in missing.stderr
    malformed = cli("datasets", "profile", "people@seven")
    assert malformed.exit_code == 2
    assert malformed.stderr.startswith(
        "Error: The version in 'people@seven' must be a positive number"
    )


def test_profile_summarises_each_column(cli: Invoke) -> None:
    steward.register_dataset(people_frame(), "people", sensitive_columns=["sex"])
    result = cli("datasets", "profile", "people")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Profile of people  version 1: 8 rows, 3 columns" in out
    age = next(line for line in out.splitlines() if line.startswith("age"))
    assert re.search(r"numeric\s+0%\s+8\s+18 to 79, median 46\.5", age)
    assert re.search(r"[▁▂▃▄▅▆▇█]{4,}", age), "a histogram sparkline"
    sex = next(line for line in out.splitlines() if line.startswith("sex"))
    assert "⚠" in sex and re.search(r"categorical\s+0%\s+2\s+(m 50% · f 50%|f 50% · m 50%)", sex)
    income = next(line for line in out.splitlines() if line.startswith("income"))
    assert re.search(r"numeric\s+25%\s+6\s+1000 to 6000", income)


def test_profile_json_is_the_stored_profile(cli: Invoke) -> None:
    version = steward.register_dataset(people_frame(), "people")
    data = json.loads(cli("datasets", "profile", "people", "--json").stdout)
    assert data == json.loads(json.dumps(version.profile))


def test_register_a_file(cli: Invoke, people_csv: Path) -> None:
    result = cli(
        "datasets",
        "register",
        str(people_csv),
        "--name",
        "people",
        "--terms",
        "internal",
        "--sensitive",
        "sex,age",
        "-d",
        "Eight people",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Registered people@1: 8 rows, 3 columns")
    assert "steward datasets show people@1" in result.stderr
    stored = steward.get_dataset("people")
    assert stored.sensitive_columns == ["sex", "age"]
    assert stored.terms_of_use == "internal" and stored.description == "Eight people"
    assert stored.source == str(people_csv.resolve())
    assert steward.load_dataset("people").equals(people_frame())


def test_register_the_same_content_again_is_a_no_op_that_says_so(
    cli: Invoke, people_csv: Path
) -> None:
    assert cli("datasets", "register", str(people_csv), "-n", "people").exit_code == 0
    again = cli("datasets", "register", str(people_csv), "-n", "people", "--sensitive", "sex")
    assert again.exit_code == 0
    assert again.stdout.startswith("Unchanged: people@1 already holds this content")
    assert "keeps what was recorded" in again.stderr  # --sensitive sex was not applied
    assert len(steward._backend.get_backend().list_dataset_versions("people")) == 1


def test_register_warns_about_unmarked_sensitive_columns(cli: Invoke, people_csv: Path) -> None:
    result = cli("datasets", "register", str(people_csv), "-n", "people", "--sensitive", "sex")
    assert "look sensitive but are not marked: age" in result.stderr


def test_register_json(cli: Invoke, people_csv: Path) -> None:
    data = json.loads(cli("datasets", "register", str(people_csv), "-n", "people", "--json").stdout)
    assert data["created"] is True and data["dataset"] == "people" and data["version"] == 1
    again = json.loads(
        cli("datasets", "register", str(people_csv), "-n", "people", "--json").stdout
    )
    assert again["created"] is False and again["id"] == data["id"]


def test_register_a_missing_file(cli: Invoke, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = cli("datasets", "register", str(missing), "--name", "people")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: Cannot read dataset file '{missing}': no such file.")
    assert "Traceback" not in result.output


def test_register_an_unknown_file_type(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "people.txt"
    path.write_text("a,b\n1,2\n")
    result = cli("datasets", "register", str(path), "--name", "people")
    assert result.exit_code == 2
    assert "unknown file type '.txt'" in result.stderr


def test_register_an_unknown_sensitive_column(cli: Invoke, people_csv: Path) -> None:
    result = cli(
        "datasets", "register", str(people_csv), "--name", "people", "--sensitive", "gender,sexx"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Sensitive column 'gender' is not in the data.")
    assert cli("datasets", "list", "--json").stdout.strip() == "[]"


def test_register_needs_a_name(cli: Invoke, people_csv: Path) -> None:
    result = cli("datasets", "register", str(people_csv))
    assert result.exit_code == 2
    assert "--name" in result.output


def test_register_shows_progress_on_a_terminal(cli: Invoke, people_csv: Path) -> None:
    quiet = cli("datasets", "register", str(people_csv), "-n", "people")
    assert "Reading" not in quiet.stderr  # no spinner in pipes and logs
    shown = cli("datasets", "register", str(people_csv), "-n", "other", env={"FORCE_COLOR": "1"})
    assert shown.exit_code == 0
    assert "Reading people.csv" in shown.stderr
    assert "Hashing, profiling and storing 8 rows" in shown.stderr
