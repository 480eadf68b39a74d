"""The credentials file is refused with one clear line that never echoes its content (it holds
secrets): not UTF-8, too large, a line without ``=``, a folder (issue 12, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polytraders.cli import app
from polytraders.venues.polymarket.credentials import Credentials, CredentialsError

SECRET = "0x" + "5e" * 32
GOOD = (
    f"POLYMARKET_PRIVATE_KEY={SECRET}\nPOLYMARKET_API_KEY=key\n"
    "POLYMARKET_API_SECRET=c2VjcmV0\nPOLYMARKET_API_PASSPHRASE=passphrase\n"
).encode()


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "creds.env"
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(CredentialsError) as caught:
        Credentials.from_file(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for secret in (SECRET, "c2VjcmV0", "passphrase", "\\xe9", "0xe9", "é"):
        assert secret not in message
    return message


def test_a_file_that_is_not_utf8_names_the_line_not_the_bytes(tmp_path: Path) -> None:
    data = GOOD.replace(b"passphrase", b"pass\xe9phrase")
    message = _refusal(_file(tmp_path, data))
    assert message == f"credentials file {tmp_path / 'creds.env'}:4: not UTF-8 text"


def test_a_line_without_equals_is_named_not_quoted(tmp_path: Path) -> None:
    message = _refusal(_file(tmp_path, GOOD + SECRET.encode() + b"\n"))
    assert message.endswith(":5: expected NAME=value")


def test_a_huge_file_is_not_read(tmp_path: Path) -> None:
    message = _refusal(_file(tmp_path, GOOD + b"#" * 70_000))
    assert "not a credentials file" in message


def test_a_folder_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "creds"
    folder.mkdir(mode=0o700)
    assert "cannot read credentials file" in _refusal(folder)


def test_a_good_file_still_loads(tmp_path: Path) -> None:
    assert Credentials.from_file(_file(tmp_path, GOOD)).api_passphrase == "passphrase"


def test_the_cli_refuses_a_non_utf8_credentials_file_with_one_line(tmp_path: Path) -> None:
    path = _file(tmp_path, GOOD.replace(b"passphrase", b"pass\xe9phrase"))
    completed = CliRunner().invoke(app, ["sim-clob", "--credentials-file", str(path)])
    assert completed.exit_code == 2, completed.output
    lines = [line for line in completed.output.splitlines() if line.strip()]
    assert lines == [f"error: credentials file {path}:4: not UTF-8 text"]
