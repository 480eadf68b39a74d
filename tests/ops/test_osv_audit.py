"""The offline OSV audit (:mod:`polytraders.ops.osv_audit`) on a small OSV database in both
published forms (a JSON list, a zip of per-advisory files) against a made-up distribution list:
ranges evaluated as the OSV schema defines them (introduced / fixed / last_affected / limit),
``versions`` lists, aliases merged into one finding, scores computed from CVSS vectors and never
guessed (no vector: unscored), withdrawn and other ecosystems ignored, requirements pins read."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from polytraders.ops.osv_audit import (
    AuditInputError,
    Distribution,
    _Event,
    _in_range,
    audit,
    cvss_score_tenths,
    load_database,
    pinned_requirements,
)

CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
LOW = "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N"  # 3.7


def _pypi(
    name: str, *events: dict[str, str], versions: list[str] | None = None
) -> dict[str, object]:
    ranges = [{"type": "ECOSYSTEM", "events": list(events)}] if events else []
    return {
        "package": {"ecosystem": "PyPI", "name": name},
        "ranges": ranges,
        "versions": versions or [],
    }


# Made-up advisories (ids marked TEST) in the OSV schema's shape.
RECORDS: list[dict[str, object]] = [
    {  # urllib3 before 1.26.17 (and 2.0.0 to 2.0.6): a CVSS 3.1 vector scoring 9.8
        "id": "GHSA-test-0001-crit",
        "aliases": ["CVE-2099-0001"],
        "summary": "Cookie header kept on cross-origin redirects.",
        "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
        "affected": [
            _pypi(
                "urllib3",
                {"introduced": "0"},
                {"fixed": "1.26.17"},
                {"introduced": "2.0.0"},
                {"fixed": "2.0.6"},
            ),
        ],
    },
    {  # the same vulnerability in the other database (no severity): merged, not doubled
        "id": "PYSEC-TEST-1",
        "aliases": ["CVE-2099-0001"],
        "affected": [_pypi("urllib3", {"introduced": "1.0"}, {"fixed": "1.26.17"})],
    },
    {  # fixed below the installed version: not affected
        "id": "GHSA-test-0002-old",
        "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
        "affected": [_pypi("requests", {"introduced": "0"}, {"fixed": "2.20.0"})],
    },
    {  # last_affected: 3.1.2 itself is affected, 3.1.3 is not
        "id": "GHSA-test-0003-last",
        "summary": "Sandbox escape.",
        "severity": [{"type": "CVSS_V3", "score": LOW}],
        "affected": [_pypi("Jinja2", {"introduced": "0"}, {"last_affected": "3.1.2"})],
    },
    {  # an explicit versions list and no CVSS vector: unscored
        "id": "PYSEC-TEST-4",
        "summary": "Arbitrary code execution in full_load.",
        "severity": [{"type": "Ubuntu", "score": "high"}],
        "affected": [_pypi("PyYAML", versions=["5.3", "5.3.1"])],
    },
    {  # withdrawn: ignored
        "id": "GHSA-test-0005-gone",
        "withdrawn": "2099-01-01T00:00:00Z",
        "severity": [{"type": "CVSS_V3", "score": CRITICAL}],
        "affected": [_pypi("urllib3", {"introduced": "0"})],
    },
    {  # another ecosystem's package of the same name: ignored
        "id": "GHSA-test-0006-npm",
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    },
]

INSTALLED = [
    Distribution("urllib3", "1.26.4"),
    Distribution("requests", "2.31.0"),
    Distribution("jinja2", "3.1.2"),
    Distribution("pyyaml", "5.3"),
    Distribution("msgspec", "0.19.0"),
]


def write_database(folder: Path, records: list[dict[str, object]], *, as_zip: bool) -> Path:
    """``records`` as an OSV database file: a JSON list, or a zip of one file per record."""
    if not as_zip:
        path = folder / "osv.json"
        path.write_text(json.dumps(records))
        return path
    path = folder / "all.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    return path


@pytest.mark.parametrize("as_zip", [False, True], ids=["json-list", "zip"])
def test_the_database_in_both_forms_gives_the_same_findings(tmp_path: Path, as_zip: bool) -> None:
    found = audit(INSTALLED, load_database(write_database(tmp_path, RECORDS, as_zip=as_zip)))
    assert [(r.package, r.version, r.vulnerability_id, r.cvss_score_tenths) for r in found] == [
        ("jinja2", "3.1.2", "GHSA-test-0003-last", 37),
        ("pyyaml", "5.3", "PYSEC-TEST-4", None),  # no CVSS vector: unscored, never guessed
        ("urllib3", "1.26.4", "GHSA-test-0001-crit", 98),
    ]
    urllib3 = found[2]
    assert urllib3.aliases == ("CVE-2099-0001", "PYSEC-TEST-1")  # one finding, not two
    assert urllib3.fix_versions == ("1.26.17", "2.0.6")
    assert urllib3.description == "Cookie header kept on cross-origin redirects."


def test_upgraded_versions_are_not_affected(tmp_path: Path) -> None:
    upgraded = [
        Distribution("urllib3", "1.26.17"),  # the fixed version itself
        Distribution("urllib3", "2.0.5"),  # inside the second introduced/fixed interval
        Distribution("jinja2", "3.1.3"),  # above last_affected
        Distribution("pyyaml", "5.3.0"),  # PEP 440: the same version as the listed 5.3
        Distribution("pyyaml", "5.4"),
    ]
    found = audit(upgraded, load_database(write_database(tmp_path, RECORDS, as_zip=False)))
    assert [(r.package, r.version) for r in found] == [("pyyaml", "5.3.0"), ("urllib3", "2.0.5")]


@pytest.mark.parametrize(
    ("version", "events", "affected"),
    [
        ("1.0", [{"introduced": "0"}], True),  # every version
        ("0.9", [{"introduced": "1.0"}, {"fixed": "2.0"}], False),
        ("1.0", [{"introduced": "1.0"}, {"fixed": "2.0"}], True),  # introduced is inclusive
        ("2.0", [{"introduced": "1.0"}, {"fixed": "2.0"}], False),  # fixed is exclusive
        ("2.0", [{"introduced": "0"}, {"last_affected": "2.0"}], True),  # last_affected inclusive
        ("2.0.1", [{"introduced": "0"}, {"last_affected": "2.0"}], False),
        ("3.1", [{"fixed": "2.0"}, {"introduced": "3.0"}, {"introduced": "0"}], True),  # sorted
        ("2.5", [{"fixed": "2.0"}, {"introduced": "3.0"}, {"introduced": "0"}], False),
        ("1.0rc1", [{"introduced": "1.0"}], False),  # PEP 440: a pre-release sorts before
        ("1.5", [{"introduced": "1.0"}, {"limit": "1.4"}], False),  # at or past the limit
        ("1.3", [{"introduced": "1.0"}, {"limit": "1.4"}], True),
        ("9.0", [{"introduced": "1.0"}, {"limit": "*"}], True),  # "*" is infinity
    ],
)
def test_ranges_follow_the_osv_evaluation(
    version: str, events: list[dict[str, str]], affected: bool
) -> None:
    assert _in_range(version, [_Event(**e) for e in events]) == (affected, "")


def test_an_unparseable_version_counts_as_affected() -> None:
    inside, why = _in_range("1.0", [_Event(introduced="0"), _Event(fixed="not a version")])
    assert inside and why == "version not a version is not PEP 440: affected assumed (fail closed)"


def test_scores_come_from_vectors_only() -> None:
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3
    assert cvss_score_tenths([("CVSS_V3", CRITICAL)]) == (98, [])
    assert cvss_score_tenths([("CVSS_V3", LOW)]) == (37, [])
    assert cvss_score_tenths([("CVSS_V4", v4)]) == (93, [])
    assert cvss_score_tenths([("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:P/A:P")]) == (75, [])
    assert cvss_score_tenths([("CVSS_V3", LOW), ("CVSS_V4", v4)]) == (93, [])  # the highest
    assert cvss_score_tenths([("CVSS_V3", "CVSS:3.1/AV:Z")]) == (None, ["CVSS:3.1/AV:Z"])
    assert cvss_score_tenths([("Ubuntu", "high")]) == (None, [])


def test_a_malformed_vector_leaves_the_finding_unscored_and_says_so(tmp_path: Path) -> None:
    record = {
        "id": "GHSA-test-0007-bad",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Z"}],
        "affected": [_pypi("msgspec", {"introduced": "0"})],
    }
    [found] = audit(INSTALLED, load_database(write_database(tmp_path, [record], as_zip=False)))
    assert found.cvss_score_tenths is None
    assert found.description == "malformed CVSS vector CVSS:3.1/AV:Z"


def test_requirements_pins_are_read(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# pinned\n"
        "urllib3==1.26.4 \\\n"
        "    --hash=sha256:aaaa\n"
        "Jinja2[i18n]==3.1.2 ; python_version >= '3.8'  # templating\n"
        "\n"
        "PyYAML===5.3\n"
    )
    assert pinned_requirements(path) == [
        Distribution("jinja2", "3.1.2"),
        Distribution("pyyaml", "5.3"),
        Distribution("urllib3", "1.26.4"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("requests>=2.0", "requirements.txt:2: 'requests>=2.0' is not one exact name==version pin"),
        ("requests==2.*", "is not one exact name==version pin"),
        ("requests", "is not one exact name==version pin"),
        ("-r other.txt", "requirements.txt:2: options are not supported, only name==version pins"),
        ("requests @ https://x/y.whl", "is not one exact name==version pin"),
        ("==1.0", "requirements.txt:2: Expected package name"),
    ],
)
def test_a_requirement_that_is_not_a_pin_is_refused(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(f"urllib3==1.26.4\n{line}\n")
    with pytest.raises(AuditInputError, match=message.replace("*", r"\*").replace(".", r"\.")):
        pinned_requirements(path)


def test_malformed_databases_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"affected": []}]')
    with pytest.raises(AuditInputError, match=r"bad\.json: not OSV JSON: Object missing"):
        list(load_database(bad))
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("X.json", "not json")
    with pytest.raises(AuditInputError, match=r"bad\.zip:X\.json: not OSV JSON"):
        list(load_database(archive))
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(AuditInputError, match="File is not a zip file"):
        list(load_database(tmp_path / "fake.zip"))
    with pytest.raises(AuditInputError, match="No such file"):
        list(load_database(tmp_path / "none.json"))
