"""``polytraders security scan``: clean on the repository, finds planted secrets (never
printing them), the allowlist, exit codes, SQLite stores."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from polytraders.commands.security import app as security_app
from polytraders.ops.secret_scan import (
    AllowlistError,
    fingerprint,
    load_allowlist,
    scan_paths,
)

REPO = Path(__file__).resolve().parents[2]


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(security_app, name="security")
    return root


def _scan(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_cli(), ["security", "scan", *args])
    return result.exit_code, result.output


def test_the_repository_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the reviewed allowlist .secrets-allowlist.toml is read from here
    code, out = _scan(".")
    assert code == 0, out
    assert out.startswith("0 finding(s) in ")
    assert "warning" not in out  # every allowlist entry still matches something


def test_planted_secrets_are_found_and_never_printed(tmp_path: Path) -> None:
    key = "0x" + secrets.token_hex(32)
    raw_key = secrets.token_hex(32)
    api_secret = secrets.token_urlsafe(32)
    passphrase = secrets.token_hex(32)
    (tmp_path / "config.json").write_text(
        f'{{"market": "0x{"ab" * 32}",\n "private_key": "{key}"}}\n'
    )
    (tmp_path / ".env").write_text(
        f"POLYMARKET_API_SECRET={api_secret}\npassphrase = {passphrase}\nDEBUG=1\n"
    )
    (tmp_path / "signer.key").write_text(raw_key + "\n")
    pem_body = secrets.token_urlsafe(48)
    (tmp_path / "id.pem").write_text(
        f"-----BEGIN EC PRIVATE KEY-----\n{pem_body}\n-----END EC PRIVATE KEY-----\n"
    )
    (tmp_path / "notes.md").write_text(
        f"condition 0x{secrets.token_hex(32)}; tx {secrets.token_hex(32)}\n"
        "export POLYMARKET_PRIVATE_KEY=0x$(python3 -c 'import secrets')\n"
        'api_secret = "<your secret>"  password=password\n'
    )
    code, out = _scan(str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    expected = {
        f"{tmp_path.as_posix()}/.env:line 1: env-secret POLYMARKET_API_SECRET",
        f"{tmp_path.as_posix()}/.env:line 2: env-secret passphrase",
        f"{tmp_path.as_posix()}/config.json:line 2: hex-private-key private_key",
        f"{tmp_path.as_posix()}/id.pem:line 1: pem-private-key",
        f"{tmp_path.as_posix()}/signer.key:line 1: key-file",
    }
    assert {line.rsplit(" (", 1)[0] for line in lines[:-1]} == expected
    assert lines[-1] == "5 finding(s) in 5 file(s) (0 allowlisted, 0 binary file(s) skipped)"
    assert f"({fingerprint(key)})" in out
    for secret in (key, key[2:], raw_key, api_secret, passphrase, pem_body):
        assert secret not in out


def test_the_allowlist_silences_reviewed_values_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    public = secrets.token_hex(32)
    (data / "vectors.py").write_text(f'PRIVATE_KEY = "0x{public}"\n')
    allow = tmp_path / "allow.toml"
    allow.write_text(
        f'[[allow]]\nfingerprint = "{fingerprint("0x" + public)}"\npath = "*/vectors.py"\n'
        'reason = "a documented test vector"\n'
    )
    code, out = _scan(str(data), "--allowlist", str(allow))
    assert (code, out.splitlines()[-1]) == (
        0,
        "0 finding(s) in 1 file(s) (1 allowlisted, 0 binary file(s) skipped)",
    )
    (data / "other.py").write_text(f'signer_key = "0x{public}"\n')  # same value, other file
    code, out = _scan(str(data), "--allowlist", str(allow))
    assert code == 1 and "other.py:line 1: hex-private-key signer_key" in out
    allow.write_text('[[allow]]\nfingerprint = "sha256:0123456789abcdef"\n')
    code, out = _scan(str(data), "--allowlist", str(allow))
    assert code == 2 and "entry 1: a reason is required" in out
    allow.write_text('[[allow]]\nfingerprint = "abc"\nreason = "x"\n')
    with pytest.raises(AllowlistError, match="fingerprint must be"):
        load_allowlist(allow)
    code, out = _scan(str(tmp_path / "missing"))
    assert code == 2 and "no such file or folder" in out


def test_sqlite_text_columns_are_scanned(tmp_path: Path) -> None:
    passphrase = secrets.token_hex(32)
    store = tmp_path / "store.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE audit_log (detail TEXT, n INTEGER)")
        db.execute("INSERT INTO audit_log VALUES (?, 1)", ('{"ok": true}',))
        db.execute(
            "INSERT INTO audit_log VALUES (?, 2)", (f'{{"api_passphrase": "{passphrase}"}}',)
        )
    db.close()
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01private_key=" + passphrase.encode())
    report = scan_paths([tmp_path])
    assert [f.line() for f in report.findings] == [
        f"{store.as_posix()}:audit_log.detail row 2: api-credential api_passphrase "
        f"({fingerprint(passphrase)})"
    ]
    assert (report.files, report.skipped) == (1, 1)
