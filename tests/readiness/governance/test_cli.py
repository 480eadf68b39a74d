"""``polytraders gov`` offline commands through typer's CliRunner: keys, a signer list signed
and rotated, a manifest and a sign-off signed; and no private key material (PEM lines or raw
hex) appears in any output or exception of any of them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from polytraders.commands.gov import app as gov_app
from polytraders.readiness.governance.envelopes import read_envelope, write_envelope
from polytraders.readiness.governance.signoffs import Signoff, SignoffKind, build_signoff
from polytraders.readiness.lifecycle import State
from tests.readiness.governance.conftest import BOT, CODE, CONFIG, ManifestFactory, raw_private_hex

NAMES = ("alice", "bob", "carol", "dave")


def _secrets(key_dir: Path) -> list[str]:
    """Every PEM base64 line and the raw private hex of each key file."""
    secrets = []
    for name in NAMES:
        path = key_dir / f"{name}.key"
        secrets += [line for line in path.read_text().splitlines() if "-----" not in line]
        secrets.append(raw_private_hex(path.read_bytes()))
    return secrets


class Cli:
    def __init__(self) -> None:
        root = typer.Typer()
        root.add_typer(gov_app, name="gov")
        self.app, self.runner, self.results = root, CliRunner(), list[Result]()

    def __call__(self, *args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = self.runner.invoke(self.app, ["gov", *args], env=env)
        self.results.append(result)
        assert result.exit_code == code, result.output
        return result.output


def test_offline_commands_never_show_private_keys(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    cli, keys, gov = Cli(), tmp_path / "keys", tmp_path / "gov"
    keys.mkdir()
    for name in NAMES:
        out = cli("keygen", "--signer", name, "--out", str(keys))
        assert "keyid" in out
        assert oct(os.stat(keys / f"{name}.key").st_mode & 0o777) == "0o600"
    cli("keygen", "--signer", "alice", "--out", str(keys), code=1)  # never overwritten
    secrets = _secrets(keys)

    roles = {"alice": "approver,reviewer", "bob": "approver", "carol": "approver,risk_officer"}
    specs = [f"--signer={keys / n}.pub.json:{r}" for n, r in roles.items()]
    cli(
        "signers",
        "init",
        "--gov-dir",
        str(gov),
        *specs,
        "--signer",
        f"{keys}/dave.pub.json:reviewer",
    )
    v1 = str(gov / "signers" / "1.json")
    assert "GOV_SIGNERS_THRESHOLD_NOT_MET" in cli(
        "signers", "verify", "--gov-dir", str(gov), code=1
    )
    assert "NOT verified" in cli("signers", "show", "--gov-dir", str(gov))
    cli("signers", "sign", v1, "--key", str(keys / "alice.key"))
    assert "already signed" in cli("signers", "sign", v1, "--key", str(keys / "alice.key"))
    env = {"POLYTRADERS_SIGNER_KEY": (keys / "bob.key").read_text()}
    cli("signers", "sign", v1, "--key-env", "POLYTRADERS_SIGNER_KEY", env=env)
    assert "version 1 verified" in cli("signers", "verify", "--gov-dir", str(gov))
    assert "verified: 1 version(s)" in cli("signers", "show", "--gov-dir", str(gov))

    cli("signers", "rotate", "--gov-dir", str(gov), "--set", "dave:approver,reviewer")
    v2 = str(gov / "signers" / "2.json")
    cli("signers", "sign", v2, "--key", str(keys / "alice.key"))
    cli("signers", "sign", v2, "--key", str(keys / "dave.key"))
    assert "GOV_SIGNERS_THRESHOLD_NOT_MET" in cli(
        "signers", "verify", "--gov-dir", str(gov), code=1
    )
    cli("signers", "sign", v2, "--key", str(keys / "bob.key"))
    assert "version 2 verified" in cli("signers", "verify", "--gov-dir", str(gov))

    manifest = tmp_path / "manifest.json"
    write_envelope(manifest, make_manifest())
    for name in ("alice", "carol"):
        cli("manifest", "sign", str(manifest), "--key", str(keys / f"{name}.key"))
    assert len(read_envelope(manifest).signatures) == 2
    signoff = tmp_path / "signoff.json"
    write_envelope(
        signoff,
        build_signoff(
            Signoff(
                BOT,
                "1.0.0",
                SignoffKind.REVIEWER_SIGNOFF,
                State.SHADOW,
                CODE,
                CONFIG,
                0,
                10**18,
                "reviewed",
                None,
            )
        ),
    )
    cli("signoff", "sign", str(signoff), "--key", str(keys / "dave.key"))
    assert "GOV_MANIFEST_MALFORMED" in cli(
        "manifest", "sign", str(signoff), "--key", str(keys / "dave.key"), code=1
    )

    # refusals that handle the key: a key file open to others, a bad variable, both options
    (keys / "bob.key").chmod(0o644)
    out = cli("manifest", "sign", str(manifest), "--key", str(keys / "bob.key"), code=1)
    assert "GOV_SIGNING_KEY_REFUSED" in out and "mode 644" in out
    bad = {"K": (keys / "carol.key").read_text()[:-40]}
    assert "does not hold" in cli(
        "signoff", "sign", str(signoff), "--key-env", "K", env=bad, code=1
    )
    cli("signoff", "sign", str(signoff), "--key", str(keys / "dave.key"), "--key-env", "K", code=2)

    written = [p.read_text() for p in (gov / "signers").glob("*.json")]
    written += [
        manifest.read_text(),
        signoff.read_text(),
        *(p.read_text() for p in keys.glob("*.pub.json")),
    ]
    for result in cli.results:
        texts = [result.output, repr(result.exception), str(result.exception)]
        for secret in secrets:
            assert all(secret not in text for text in texts)
    for text in written:
        assert all(secret not in text for secret in secrets)
        json.loads(text)


def test_cli_refuses_a_missing_gov_dir(tmp_path: Path) -> None:
    out = Cli()("signers", "verify", "--gov-dir", str(tmp_path), code=1)
    assert "GOV_SIGNERS_MISSING" in out


@pytest.mark.parametrize("spec", ["nofile", "missing.pub.json:approver"])
def test_cli_refuses_bad_signer_specs(tmp_path: Path, spec: str) -> None:
    Cli()("signers", "init", "--gov-dir", str(tmp_path), "--signer", spec, code=2)
