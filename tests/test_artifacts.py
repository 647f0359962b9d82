"""The run folder's files have one owner (pipeline/runs/artifacts.py): what it writes it reads
back unchanged, a file from an older schema version is upgraded, and one it cannot read (newer,
or with no upgrade path) is refused with a message naming the file and the version (exit 2)."""

import json
from pathlib import Path

import pytest

from pipeline.errors import InvalidWorkspace
from pipeline.runs import artifacts
from pipeline.runs.artifacts import JobRecord, Manifest, RunResults, load_run
from test_integrity import built, invoke, run_of, ws  # noqa: F401 (fixtures: one real run, copied per test)

FILES = {"manifest.json": Manifest, "run_results.json": RunResults, "cfo/email.json": JobRecord}


@pytest.mark.parametrize("name", FILES)
def test_what_is_written_reads_back_to_the_same_file(ws, name):
    path = run_of(ws) / name
    assert artifacts.dump(artifacts.read(path, FILES[name])) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("version", [99, 0, "1"])
def test_a_version_this_ladder_cannot_read_is_refused_naming_file_and_version(ws, name, version):
    path = run_of(ws) / name
    data = json.loads(path.read_text(encoding="utf-8"))
    data["schema_version"] = version
    path.write_text(json.dumps(data), encoding="utf-8")
    result = invoke("report", "-w", str(ws))
    assert result.exit_code == 2, result.output + result.stderr
    assert f"{path.name} schema_version:" in result.stderr and str(version) in result.stderr
    if version == 99:
        assert "newer ladder" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_an_older_version_is_upgraded_step_by_step(ws, monkeypatch):
    """As if this ladder wrote schema version 3: version-1 files upgrade through 2 to 3."""
    seen = []

    def one_to_two(data):
        seen.append(1)
        return {**data, "renamed_in_2": data.get("campaign")}

    def two_to_three(data):
        seen.append(2)
        return {**data, "added_in_3": True}

    monkeypatch.setattr(artifacts, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(artifacts, "UPGRADES", {1: one_to_two, 2: two_to_three})
    manifest = artifacts.read(run_of(ws) / "manifest.json", Manifest)
    assert seen == [1, 2] and manifest.schema_version == 3
    assert manifest.renamed_in_2 == manifest.campaign and manifest.added_in_3 is True


def test_a_required_key_an_upgrade_renames_is_looked_for_after_the_upgrade(ws, monkeypatch):
    """An older file holds a required key under its old name: the upgrade names it, then it is required."""
    path = run_of(ws) / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["campaign_id"] = data.pop("campaign")  # as if version 1 called it campaign_id
    path.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(artifacts, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(artifacts, "UPGRADES", {1: lambda d: {**{k: v for k, v in d.items() if k != "campaign_id"},
                                                               "campaign": d["campaign_id"]}})
    assert artifacts.read(path, Manifest).campaign == data["campaign_id"]
    monkeypatch.setattr(artifacts, "UPGRADES", {1: lambda d: d})  # an upgrade that forgets it: refused, named
    with pytest.raises(InvalidWorkspace, match="manifest.json: not a ladder run file: 'campaign' is missing"):
        artifacts.read(path, Manifest)
    path.write_text(json.dumps({"schema_version": 7, "name": "another program's file"}), encoding="utf-8")
    with pytest.raises(InvalidWorkspace, match="manifest.json: not a ladder run file: 'run_id' is missing"):
        artifacts.read(path, Manifest)  # not "written by a newer ladder"


def test_a_version_with_no_upgrade_path_is_refused(ws, monkeypatch):
    monkeypatch.setattr(artifacts, "SCHEMA_VERSION", 2)
    with pytest.raises(InvalidWorkspace, match=r"manifest.json schema_version: schema version 1 cannot be upgraded"):
        load_run(Path(ws) / "outputs")
