"""``polytraders gov``: offline governance commands: signer keys, the signed signer list, and
adding one signature to a release manifest or a sign-off (issue 16). Nothing here touches the
event store or the network; library: :mod:`polytraders.readiness.governance`.

A private key is read from a file of mode 600 (``--key``) or an environment variable holding
its PEM (``--key-env``); it is never printed.

Exit codes: 0 done; 1 a document or key was refused (``error: GOV_...: ...``, one line on
stderr); 2 a bad option or an unreadable input.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from securesystemslib.dsse import Envelope

from polytraders.commands.failures import EXIT_FAILED, EXIT_REFUSED, fail
from polytraders.readiness.governance.envelopes import (
    add_signature,
    read_envelope,
    write_envelope,
)
from polytraders.readiness.governance.errors import GovernanceError, SignersRefusedError
from polytraders.readiness.governance.keys import (
    KEY_ENV_VAR,
    PublicKeyDoc,
    SignerKey,
    generate_key,
    load_key_env,
    load_key_file,
    write_keypair,
)
from polytraders.readiness.governance.manifest import load_manifest, parse_manifest
from polytraders.readiness.governance.signers import (
    ROLES,
    SIGNERS_DIR,
    SignerEntry,
    SignerList,
    load_signer_chain,
    parse_signer_list,
    rotated,
    signer_list_envelope,
    signers_path,
    verify_signer_chain,
    verify_signer_chain_signatures,
)
from polytraders.readiness.governance.signoffs import load_signoff, parse_signoff
from polytraders.readiness.governance.utc import NS_PER_S, utc_text

DEFAULT_GOV_DIR = Path("governance")
"""Where the signer list lives unless ``--gov-dir`` says otherwise (``signers/<n>.json``)."""

_NS_PER_DAY = 86_400 * NS_PER_S

app = typer.Typer(
    name="gov",
    help="Governance, offline: signer keys, the signed signer list, signing manifests and "
    "sign-offs.",
    no_args_is_help=True,
)
signers_app = typer.Typer(
    name="signers", help="The signed list of signers and their roles.", no_args_is_help=True
)
manifest_app = typer.Typer(name="manifest", help="Signed release manifests.", no_args_is_help=True)
signoff_app = typer.Typer(
    name="signoff",
    help="Signed reviewer sign-offs, risk reviews and gate waivers.",
    no_args_is_help=True,
)
app.add_typer(signers_app)
app.add_typer(manifest_app)
app.add_typer(signoff_app)

GovDirOption = Annotated[
    Path, typer.Option("--gov-dir", help="Governance directory (holds signers/<version>.json).")
]
KeyOption = Annotated[
    Path | None, typer.Option("--key", help="Private key file (mode 600, from gov keygen).")
]
KeyEnvOption = Annotated[
    str | None,
    typer.Option(
        "--key-env", help=f"Environment variable holding the PEM key, e.g. {KEY_ENV_VAR}."
    ),
]
ExpiresDaysOption = Annotated[
    int, typer.Option("--expires-days", min=1, help="Days until the signer list expires.")
]


def _refused(exc: GovernanceError) -> NoReturn:
    fail(f"{exc.code}: {exc.message}", EXIT_FAILED, exc)


def _signer_key(key: Path | None, key_env: str | None) -> SignerKey:
    if (key is None) == (key_env is None):
        fail("give exactly one of --key KEYFILE or --key-env VAR", EXIT_REFUSED)
    return load_key_file(key) if key is not None else load_key_env(str(key_env))


def _entry(spec: str, option: str) -> SignerEntry:
    """``PUBFILE:role1,role2`` as a signer entry."""
    path, _, roles = spec.rpartition(":")
    if not path or not roles:
        fail(f"{option} {spec!r}: expected PUBFILE:role1,role2 (roles: {', '.join(ROLES)})")
    try:
        doc = PublicKeyDoc.read(Path(path))
    except ValueError as exc:
        fail(f"{option}: {exc}", EXIT_REFUSED, exc)
    return SignerEntry.from_public_doc(doc, roles.split(","))


def _now_ns() -> int:
    return time.time_ns()


def _sign(
    file: Path,
    key: SignerKey,
    load: Callable[[Path], Envelope],
    check: Callable[[Envelope], object],
) -> None:
    envelope = load(file)
    check(envelope)
    added = add_signature(envelope, key)
    if added:
        write_envelope(file, envelope)
    state = "signed" if added else "already signed"
    typer.echo(f"{file}: {state} by key {key.keyid}; {len(envelope.signatures)} signature(s)")


@app.command("keygen")
def keygen(
    signer: Annotated[str, typer.Option("--signer", help="The signer's name (a-z 0-9 _ . -).")],
    out: Annotated[
        Path, typer.Option("--out", help="Directory for NAME.key and NAME.pub.json.")
    ] = Path("."),
) -> None:
    """Generate an Ed25519 key: NAME.key (private, mode 600, never printed) and NAME.pub.json;
    prints the public key document and both paths."""
    try:
        key = generate_key()
        key_path, pub_path = write_keypair(key, signer, out)
    except GovernanceError as exc:
        _refused(exc)
    except (ValueError, OSError) as exc:
        fail(str(exc), EXIT_REFUSED, exc)
    doc = key.public_doc(signer)
    typer.echo(f"signer {doc.name}: keyid {doc.keyid}, ed25519 public key {doc.public_key}")
    typer.echo(f"private key: {key_path} (mode 600; keep it offline, never share it)")
    typer.echo(f"public key:  {pub_path}")


@signers_app.command("init")
def signers_init(
    gov_dir: GovDirOption,
    signer: Annotated[
        list[str],
        typer.Option(
            "--signer", help="PUBFILE:role1,role2 (repeat; roles reviewer, approver, risk_officer)."
        ),
    ],
    expires_days: ExpiresDaysOption = 365,
    threshold: Annotated[int, typer.Option("--threshold", help="Approvals needed.")] = 2,
) -> None:
    """Write signer list version 1 (unsigned) to GOV_DIR/signers/1.json; each approver of it
    then signs it with ``gov signers sign``."""
    entries = [_entry(spec, "--signer") for spec in signer]
    path = signers_path(gov_dir, 1)
    try:
        signers = SignerList.create(
            version=1,
            expires_ns=_now_ns() + expires_days * _NS_PER_DAY,
            threshold=threshold,
            signers=entries,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        write_envelope(path, signer_list_envelope(signers), create=True)
    except GovernanceError as exc:
        _refused(exc)
    except OSError as exc:
        fail(f"cannot write {path}: {exc}", EXIT_REFUSED, exc)
    _print_list(signers)
    typer.echo(f"wrote {path} (unsigned: {threshold} approvers must sign it)")


@signers_app.command("rotate")
def signers_rotate(
    gov_dir: GovDirOption,
    add: Annotated[
        list[str] | None,
        typer.Option("--add", help="PUBFILE:role1,role2 of a new signer (repeat)."),
    ] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Name of a signer to drop (repeat).")
    ] = None,
    set_roles: Annotated[
        list[str] | None,
        typer.Option("--set", help="NAME:role1,role2 new roles of a signer (repeat)."),
    ] = None,
    expires_days: ExpiresDaysOption = 365,
    threshold: Annotated[
        int | None, typer.Option("--threshold", help="New threshold (default: unchanged).")
    ] = None,
) -> None:
    """Write signer list version N+1 (unsigned) from the verified version N (it may have
    expired: rotation renews it); the threshold of approvers of N and of N+1 must sign it."""
    changes: dict[str, list[str]] = {}
    for spec in set_roles or []:
        name, _, roles = spec.partition(":")
        if not name or not roles:
            fail(f"--set {spec!r}: expected NAME:role1,role2")
        changes[name] = roles.split(",")
    added = [_entry(spec, "--add") for spec in add or []]
    try:
        current = verify_signer_chain_signatures(load_signer_chain(gov_dir))
        new = rotated(
            current,
            expires_ns=_now_ns() + expires_days * _NS_PER_DAY,
            add=added,
            remove=remove or [],
            set_roles=changes,
            threshold=threshold,
        )
        path = signers_path(gov_dir, new.version)
        write_envelope(path, signer_list_envelope(new), create=True)
    except GovernanceError as exc:
        _refused(exc)
    except OSError as exc:
        fail(f"cannot write into {gov_dir / SIGNERS_DIR}: {exc}", EXIT_REFUSED, exc)
    _print_list(new)
    typer.echo(
        f"wrote {path} (unsigned: {current.threshold} approvers of version {current.version} "
        f"and {new.threshold} of version {new.version} must sign it)"
    )


@signers_app.command("sign")
def signers_sign(
    file: Annotated[Path, typer.Argument(help="A signer list file (signers/<version>.json).")],
    key: KeyOption = None,
    key_env: KeyEnvOption = None,
) -> None:
    """Add one signature to a signer list file (signing twice with one key adds nothing)."""
    try:
        _sign(file, _signer_key(key, key_env), read_envelope, parse_signer_list)
    except GovernanceError as exc:
        _refused(exc)
    except OSError as exc:
        fail(f"cannot write {file}: {exc}", EXIT_REFUSED, exc)


def _print_list(signers: SignerList) -> None:
    approvers = len(signers.approvers())
    typer.echo(
        f"signer list version {signers.version}: expires {utc_text(signers.expires_ns)}, "
        f"threshold {signers.threshold} of {approvers} approver(s)"
    )
    for e in signers.signers:
        typer.echo(f"  {e.name:<16} {e.keyid}  {','.join(sorted(e.roles))}")


@signers_app.command("show")
def signers_show(gov_dir: GovDirOption = DEFAULT_GOV_DIR) -> None:
    """Print the newest signer list and whether the chain verifies now."""
    try:
        chain = load_signer_chain(gov_dir)
        _print_list(parse_signer_list(chain[-1]))
    except GovernanceError as exc:
        _refused(exc)
    try:
        verify_signer_chain(chain, now_ns=_now_ns())
    except SignersRefusedError as exc:
        typer.echo(f"NOT verified: {exc.code}: {exc.message}")
        return
    typer.echo(f"verified: {len(chain)} version(s) in {gov_dir / SIGNERS_DIR}")


@signers_app.command("verify")
def signers_verify(gov_dir: GovDirOption = DEFAULT_GOV_DIR) -> None:
    """Verify the signer-list chain now (exit 1 with the reason code when it does not)."""
    try:
        current = verify_signer_chain(load_signer_chain(gov_dir), now_ns=_now_ns())
    except GovernanceError as exc:
        _refused(exc)
    typer.echo(
        f"signer list version {current.version} verified: threshold {current.threshold} of "
        f"{len(current.approvers())} approver(s), expires {utc_text(current.expires_ns)}"
    )


@manifest_app.command("sign")
def manifest_sign(
    file: Annotated[Path, typer.Argument(help="A release manifest file.")],
    key: KeyOption = None,
    key_env: KeyEnvOption = None,
) -> None:
    """Add one signature to a release manifest (signing twice with one key adds nothing)."""
    try:
        _sign(file, _signer_key(key, key_env), load_manifest, parse_manifest)
    except GovernanceError as exc:
        _refused(exc)
    except OSError as exc:
        fail(f"cannot write {file}: {exc}", EXIT_REFUSED, exc)


@signoff_app.command("sign")
def signoff_sign(
    file: Annotated[Path, typer.Argument(help="A sign-off file.")],
    key: KeyOption = None,
    key_env: KeyEnvOption = None,
) -> None:
    """Add one signature to a sign-off (signing twice with one key adds nothing)."""
    try:
        _sign(file, _signer_key(key, key_env), load_signoff, parse_signoff)
    except GovernanceError as exc:
        _refused(exc)
    except OSError as exc:
        fail(f"cannot write {file}: {exc}", EXIT_REFUSED, exc)
