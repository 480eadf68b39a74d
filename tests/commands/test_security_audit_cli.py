"""``polytraders security audit`` through the command line (SQLite and PostgreSQL): skipped
with one line without a database; with one (a JSON list or a zip of OSV records) and a
requirements file as the distribution list, findings recorded, printed and read back, exit 1 on
one scored 7.0 or more or unscored; a later audit resolves what it no longer finds; the demotion
monitor reads an audited finding; the installed environment audited by default."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from polytraders.readiness.lifecycle import State
from polytraders.readiness.promote import current_state
from polytraders.store import EventStore
from tests.commands.test_security_cli import BOT, T0, H, _invoke, existing, to_general_live
from tests.ops.test_osv_audit import INSTALLED, RECORDS, write_database

__all__ = ["existing"]

SKIPPED = "security audit: skipped: no vulnerability database given (--db FILE); nothing recorded"


def _pins(folder: Path, pins: dict[str, str], name: str = "requirements.txt") -> Path:
    path = folder / name
    path.write_text("".join(f"{package}=={version}\n" for package, version in pins.items()))
    return path


ALL = {d.name: d.version for d in INSTALLED}


def _audit(store: str, db: Path, requirements: Path, ts_ns: int) -> tuple[int, str, str]:
    return _invoke(
        "security",
        "audit",
        "--db",
        str(db),
        "--requirements",
        str(requirements),
        "--store",
        store,
        "--ts-ns",
        str(ts_ns),
    )


def test_without_a_database_nothing_is_audited(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-store.sqlite")
    assert _invoke("security", "audit", "--store", missing) == (0, SKIPPED + "\n", "")
    assert not (tmp_path / "no-store.sqlite").exists()


@pytest.mark.parametrize("as_zip", [False, True], ids=["json-list", "zip"])
def test_an_audit_records_prints_and_fails_on_a_critical_finding(
    existing: str, tmp_path: Path, as_zip: bool
) -> None:
    db = write_database(tmp_path, RECORDS, as_zip=as_zip)
    code, out, err = _audit(existing, db, _pins(tmp_path, ALL), T0)
    assert code == 1, err
    lines = out.splitlines()
    assert [line.split() for line in lines[:4]] == [
        ["package", "version", "id", "fixed", "in", "score"],
        ["jinja2", "3.1.2", "GHSA-test-0003-last", "-", "3.7"],
        ["pyyaml", "5.3", "PYSEC-TEST-4", "-", "unscored"],
        ["urllib3", "1.26.4", "GHSA-test-0001-crit", "1.26.17,", "2.0.6", "9.8"],
    ]
    assert lines[4].startswith(
        f"3 vulnerability(ies) in 5 distribution(s) against {db.name} (sha256:"
    )
    assert lines[4].endswith(
        ": 2 scored 7.0 or more or unscored; 3 recorded, 0 already open, 0 resolved"
    )
    code, out, _ = _invoke("security", "list", "--store", existing, "--json")
    listed = {f["vulnerability_id"]: f for f in json.loads(out)}
    assert {
        k: (f["package"], f["version"], f["cvss"], f["source"], f["bot_id"])
        for k, f in listed.items()
    } == {
        "GHSA-test-0003-last": ("jinja2", "3.1.2", "3.7", "osv-audit", "desk"),
        "PYSEC-TEST-4": ("pyyaml", "5.3", None, "osv-audit", "desk"),
        "GHSA-test-0001-crit": ("urllib3", "1.26.4", "9.8", "osv-audit", "desk"),
    }
    code, out, _ = _audit(existing, db, _pins(tmp_path, ALL), T0 + H)  # the same audit again
    assert code == 1 and out.splitlines()[-1].endswith("0 recorded, 3 already open, 0 resolved")


def test_a_later_audit_resolves_what_it_no_longer_finds(existing: str, tmp_path: Path) -> None:
    db = write_database(tmp_path, RECORDS, as_zip=False)
    assert _audit(existing, db, _pins(tmp_path, ALL), T0)[0] == 1
    upgraded = _pins(tmp_path, {**ALL, "urllib3": "1.26.17", "pyyaml": "5.4"}, "upgraded.txt")
    code, out, err = _audit(existing, db, upgraded, T0 + H)
    assert code == 0, err  # only the 3.7 finding is left
    lines = out.splitlines()
    assert sorted(line.split()[2:] for line in lines if line.startswith("resolved ")) == [
        ["pyyaml", "5.3", "PYSEC-TEST-4:", "no", "longer", "found"],
        ["urllib3", "1.26.4", "GHSA-test-0001-crit:", "no", "longer", "found"],
    ]
    assert lines[-1].endswith("0 recorded, 1 already open, 2 resolved")
    code, out, _ = _invoke("security", "list", "--store", existing, "--all", "--json")
    states = {f["vulnerability_id"]: (f["state"], f["resolution"]) for f in json.loads(out)}
    assert states["GHSA-test-0003-last"] == ("open", "")
    state, resolution = states["GHSA-test-0001-crit"]
    assert state == "resolved"
    assert resolution.startswith("no longer found by the OSV audit against osv.json (sha256:")


@pytest.mark.parametrize("upgraded_within_a_day", [False, True])
def test_the_demotion_rule_reads_an_audited_finding(
    existing: str, tmp_path: Path, upgraded_within_a_day: bool
) -> None:
    to_general_live(existing)
    db = write_database(tmp_path, RECORDS, as_zip=True)
    assert _audit(existing, db, _pins(tmp_path, {"urllib3": "1.26.4"}), T0)[0] == 1
    if upgraded_within_a_day:
        fixed = _pins(tmp_path, {"urllib3": "1.26.17"}, "fixed.txt")
        assert _audit(existing, db, fixed, T0 + 23 * H)[0] == 0
    code, out, err = _invoke(
        "demotion", "check", "--store", existing, "--now-ns", str(T0 + 24 * H), "--json"
    )
    assert code == 0, err
    [result] = json.loads(out)
    assert (result["bot_id"], result["demoted"]) == (BOT, not upgraded_within_a_day)
    with EventStore.open(existing, create=False) as store:
        expected = State.GENERAL_LIVE if upgraded_within_a_day else State.LIMITED_LIVE
        assert current_state(store, BOT) is expected


def test_the_installed_environment_is_audited_by_default(existing: str, tmp_path: Path) -> None:
    typer_version = importlib.metadata.version("typer")
    record = {
        "id": "GHSA-test-0008-env",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": "Typer"}, "versions": [typer_version]}
        ],
    }
    db = write_database(tmp_path, [record], as_zip=False)
    code, out, _ = _invoke("security", "audit", "--db", str(db), "--store", existing)
    assert code == 1
    assert out.splitlines()[1].split() == [
        "typer",
        typer_version,
        "GHSA-test-0008-env",
        "-",
        "unscored",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--db", "{tmp}/none.json"), "error: {tmp}/none.json: No such file or directory"),
        (("--db", "{tmp}/bad.json"), "error: {tmp}/bad.json: not OSV JSON: "),
        (
            ("--db", "{tmp}/osv.json", "--requirements", "{tmp}/r.txt"),
            "error: {tmp}/r.txt:1: 'urllib3>=1' is not one exact name==version pin",
        ),
        (("--db", "{tmp}/osv.json", "--bot", "risk.nope"), "error: --bot: unknown bot 'risk.nope'"),
    ],
)
def test_refusals(existing: str, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    write_database(tmp_path, RECORDS, as_zip=False)
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "r.txt").write_text("urllib3>=1\n")
    filled = [a.format(tmp=tmp_path) for a in args]
    code, out, err = _invoke("security", "audit", *filled, "--store", existing)
    assert code == 2 and err.startswith(message.format(tmp=tmp_path)) and out == ""
    assert len(err.splitlines()) == 1
