"""``polytraders gov``: the signed promotion path. Offline: signer keys, the signed signer list,
adding one signature to a release manifest or a sign-off (no store, no network; library:
:mod:`polytraders.readiness.governance`). Store-backed: pinning the signer list, creating and
verifying manifests and sign-offs (:mod:`polytraders.readiness.releases`), and the chained
audit log (``gov log --verify``).

A private key is read from a file of mode 600 (``--key``) or an environment variable holding
its PEM (``--key-env``); it is never printed.

Exit codes: 0 done; 1 a document or key was refused (``error: GOV_...: ...``, one line on
stderr); 2 a bad option or an unreadable input.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import msgspec
import typer
from securesystemslib.dsse import Envelope

from polytraders.backtest.engine import RunRefusedError
from polytraders.commands.desk_option import load_desk
from polytraders.commands.failures import EXIT_FAILED, EXIT_REFUSED, fail
from polytraders.commands.operator import operator_name
from polytraders.feeds.samples import sample_path
from polytraders.readiness.context import (
    ReadinessContext,
    RepositoryNotFoundError,
    find_repository,
    git_commit,
)
from polytraders.readiness.exchange_packs import optional_simulators
from polytraders.readiness.gates import GATES_BY_ID
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
from polytraders.readiness.governance.signoffs import SignoffKind, load_signoff, parse_signoff
from polytraders.readiness.governance.utc import NS_PER_S, utc_text
from polytraders.readiness.lifecycle import State, TargetError, parse_target
from polytraders.readiness.releases import (
    accept_manifest,
    accept_signers,
    accept_signoff,
    create_manifest,
    create_signoff,
)
from polytraders.readiness.rollback_drill import run_drill
from polytraders.store import EventStore, StoreError
from polytraders.store.audit_chain import verify_chain

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
    key: Path | None,
    key_env: str | None,
    load: Callable[[Path], Envelope],
    check: Callable[[Envelope], object],
) -> None:
    """Add one signature of the key (``--key`` or ``--key-env``) to the document at ``file``
    (``load`` reads it, ``check`` refuses a malformed one); exits 1 on a refusal."""
    try:
        signer = _signer_key(key, key_env)
        envelope = load(file)
        check(envelope)
        added = add_signature(envelope, signer)
        if added:
            write_envelope(file, envelope)
    except GovernanceError as exc:
        _refused(exc)
    except OSError as exc:
        fail(f"cannot write {file}: {exc}", EXIT_REFUSED, exc)
    state = "signed" if added else "already signed"
    typer.echo(f"{file}: {state} by key {signer.keyid}; {len(envelope.signatures)} signature(s)")


@app.command("keygen")
def keygen(
    signer: Annotated[str, typer.Option("--signer", help="The signer's name (a-z 0-9 _ . -).")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Directory for NAME.key and NAME.pub.json (created mode 700)."),
    ] = Path("."),
) -> None:
    """Generate an Ed25519 key: NAME.key (private, mode 600, never printed) and NAME.pub.json;
    prints the public key document and both paths."""
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    _sign(file, key, key_env, read_envelope, parse_signer_list)


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
    _sign(file, key, key_env, load_manifest, parse_manifest)


@signoff_app.command("sign")
def signoff_sign(
    file: Annotated[Path, typer.Argument(help="A sign-off file.")],
    key: KeyOption = None,
    key_env: KeyEnvOption = None,
) -> None:
    """Add one signature to a sign-off (signing twice with one key adds nothing)."""
    _sign(file, key, key_env, load_signoff, parse_signoff)


# ----------------------------------------------------------------------------- store-backed

StoreOption = Annotated[
    str,
    typer.Option("--store", help="Event store: SQLite path/URL or postgresql+psycopg://…"),
]
DeskOption = Annotated[
    Path | None,
    typer.Option(
        "--desk",
        help="The desk file whose bots' code and config are released (default: the default desk).",
    ),
]
OperatorOption = Annotated[
    str, typer.Option("--operator", help="Who acts (recorded; default: the login name).")
]
DEFAULT_STORE = "runs/desk.sqlite"


def _store(url: str) -> EventStore:
    try:
        return EventStore.open(url)
    except StoreError as exc:
        fail(f"--store: {exc}", EXIT_REFUSED, exc)


def _target(text: str) -> State:
    try:
        target = parse_target(text)
    except TargetError as exc:
        fail(f"--to: {exc}")
    if not isinstance(target, State):
        fail(f"--to: {target.value} is a stage; a release names a lifecycle state")
    return target


_Verified = TypeVar("_Verified")


def _accept(
    accept: Callable[..., _Verified],
    file: Path,
    *,
    desk: Path | None,
    gov_dir: Path,
    store: str,
    operator: str,
) -> _Verified:
    """Verify the signed document at ``file`` with ``accept`` (a manifest's or a sign-off's)
    against the desk, the governance directory and the store, recording it; exits 1 on a
    refusal."""
    desk_file = load_desk(desk)
    event_store = _store(store)
    try:
        return accept(
            file,
            store=event_store,
            gov_dir=gov_dir,
            desk=desk_file,
            now_ns=_now_ns(),
            actor=operator_name(operator),
        )
    except GovernanceError as exc:
        _refused(exc)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED, exc)
    finally:
        event_store.close()


@signers_app.command("accept")
def signers_accept(
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
    store: StoreOption = DEFAULT_STORE,
    operator: OperatorOption = "",
) -> None:
    """Verify the signer list and pin every new version in the event store
    (GOV_SIGNERS_ACCEPTED, with the keys added and removed); an accepted version that changed
    on disk is refused."""
    event_store = _store(store)
    try:
        new = accept_signers(event_store, gov_dir, now_ns=_now_ns(), actor=operator_name(operator))
    except GovernanceError as exc:
        _refused(exc)
    finally:
        event_store.close()
    if new:
        typer.echo(f"GOV_SIGNERS_ACCEPTED: version(s) {', '.join(map(str, new))} pinned")
    else:
        typer.echo("signer list unchanged: every version was already accepted")


@manifest_app.command("create")
def manifest_create(
    bot_id: Annotated[str, typer.Argument(help="The bot, e.g. risk.killswitch.")],
    to: Annotated[str, typer.Option("--to", help="The lifecycle state released (e.g. shadow).")],
    playbook: Annotated[
        Path, typer.Option("--playbook", help="The incident playbook (Markdown) to attach.")
    ],
    rollback_plan: Annotated[
        Path, typer.Option("--rollback-plan", help="The rollback plan (Markdown) to attach.")
    ],
    expires_days: Annotated[
        int, typer.Option("--expires-days", min=1, help="Days until the manifest expires.")
    ] = 30,
    desk: DeskOption = None,
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
    store: StoreOption = DEFAULT_STORE,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="Repository to judge (default: the one holding the cwd)."),
    ] = None,
    operator: OperatorOption = "",
) -> None:
    """Evaluate the gates of the bot's next transition, write its evidence bundle and the
    unsigned release manifest under --gov-dir (manifests/BOT/SEQ.json). Refused (exit 1) when
    a critical gate blocks, except the gates the signed manifest itself provides."""
    target = _target(to)
    for path in (playbook, rollback_plan):
        if not path.is_file():
            fail(f"{path}: no such file")
    desk_file = load_desk(desk)
    event_store = _store(store)
    now_ns = _now_ns()
    try:
        root = find_repository(repo if repo is not None else Path.cwd())
        ctx = ReadinessContext(
            repo=root,
            store=event_store,
            now_ns=now_ns,
            commit=git_commit(root),
            desk=desk_file,
            gov_dir=gov_dir,
        )
        with optional_simulators(ctx):
            path, evaluation = create_manifest(
                bot_id,
                target,
                desk=desk_file,
                ctx=ctx,
                gov_dir=gov_dir,
                playbook=playbook,
                rollback_plan=rollback_plan,
                expires_ns=now_ns + expires_days * _NS_PER_DAY,
                actor=operator_name(operator),
            )
    except RepositoryNotFoundError as exc:
        fail(str(exc), EXIT_REFUSED, exc)
    except GovernanceError as exc:
        _refused(exc)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED, exc)
    finally:
        event_store.close()
    waived = [r.gate.gate_id for r in evaluation.results if r.waived_by]
    typer.echo(
        f"GOV_MANIFEST_CREATED: {path} ({bot_id} → {target.label}, "
        f"{len(evaluation.results)} gate(s) evaluated"
        + (f", waived: {', '.join(waived)}" if waived else "")
        + "); sign it with `polytraders gov manifest sign FILE --key KEYFILE`"
    )


@manifest_app.command("verify")
def manifest_verify(
    file: Annotated[Path, typer.Argument(help="A signed release manifest.")],
    desk: DeskOption = None,
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
    store: StoreOption = DEFAULT_STORE,
    operator: OperatorOption = "",
) -> None:
    """Verify a manifest (threshold of distinct approvers of the pinned signer list, not
    expired, sequence after the last accepted one, evidence, code and config recomputed and
    equal) and, only then, record it as the bot's release (GOV_RELEASE_SIGNED). A refusal is
    recorded under its GOV_ code (exit 1)."""
    verified = _accept(
        accept_manifest, file, desk=desk, gov_dir=gov_dir, store=store, operator=operator
    )
    m = verified.manifest
    state = "already accepted, verifies" if verified.reverified else "GOV_RELEASE_SIGNED"
    typer.echo(
        f"{state}: {m.bot_id} release {m.sequence} to {m.to_state.label} (config "
        f"{m.config_version}), signed by {', '.join(verified.approvers)}, expires "
        f"{utc_text(m.expires_ns)}"
    )


@signoff_app.command("create")
def signoff_create(
    bot_id: Annotated[str, typer.Argument(help="The bot, e.g. risk.killswitch.")],
    kind: Annotated[
        SignoffKind,
        typer.Option("--kind", help="reviewer_signoff, final_risk_review or gate_waiver."),
    ],
    to: Annotated[str, typer.Option("--to", help="The lifecycle state it is for.")],
    statement: Annotated[
        str, typer.Option("--statement", help="What was reviewed, or why the gate is waived.")
    ],
    gate: Annotated[
        str | None, typer.Option("--gate", help="gate_waiver: the gate id waived.")
    ] = None,
    expires_days: Annotated[
        int, typer.Option("--expires-days", min=1, help="Days until it expires.")
    ] = 30,
    desk: DeskOption = None,
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
) -> None:
    """Write an unsigned sign-off, final risk review or gate waiver bound to the bot's code
    and config as the desk runs it (signoffs/BOT/KIND-TIME.json under --gov-dir)."""
    target = _target(to)
    if (gate is not None) != (kind is SignoffKind.GATE_WAIVER):
        fail("--gate: exactly with --kind gate_waiver")
    if gate is not None and gate not in GATES_BY_ID:
        fail(f"--gate {gate!r}: no such gate (polytraders gates list)")
    now_ns = _now_ns()
    try:
        path = create_signoff(
            bot_id,
            kind,
            target,
            desk=load_desk(desk),
            gov_dir=gov_dir,
            statement=statement,
            gate_id=gate,
            now_ns=now_ns,
            expires_ns=now_ns + expires_days * _NS_PER_DAY,
        )
    except GovernanceError as exc:
        _refused(exc)
    typer.echo(f"{path}: {kind.value} of {bot_id} for {target.label}, unsigned")


@signoff_app.command("verify")
def signoff_verify(
    file: Annotated[Path, typer.Argument(help="A signed sign-off, risk review or waiver.")],
    desk: DeskOption = None,
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
    store: StoreOption = DEFAULT_STORE,
    operator: OperatorOption = "",
) -> None:
    """Verify a statement (signers with the right role, or the approvers' threshold for a
    waiver; not expired; bound to the code and config that run) and record it
    (GOV_SIGNOFF_RECORDED or GOV_GATE_WAIVED). A refusal is recorded under its GOV_ code
    (exit 1)."""
    verified = _accept(
        accept_signoff, file, desk=desk, gov_dir=gov_dir, store=store, operator=operator
    )
    s = verified.signoff
    code = "GOV_GATE_WAIVED" if s.kind is SignoffKind.GATE_WAIVER else "GOV_SIGNOFF_RECORDED"
    typer.echo(
        f"{code}: {s.kind.value} of {s.bot_id} for {s.to_state.label}"
        + (f" (gate {s.gate_id})" if s.gate_id else "")
        + f", signed by {', '.join(verified.signers)}"
    )


@app.command("log")
def gov_log(
    verify: Annotated[
        bool, typer.Option("--verify", help="Verify the hash chain; exit 1 on a break.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    gov_only: Annotated[
        bool, typer.Option("--gov-only", help="Only entries whose action is a GOV_ code.")
    ] = False,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """The store's audit log, oldest first: time, actor, action (the GOV_ code), detail and
    each entry's chain digest. With --verify, every link and digest is checked and the head
    digest printed (keep it elsewhere to detect a rewrite of the whole tail)."""
    event_store = _store(store)
    try:
        entries = event_store.audit_chain()
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED, exc)
    finally:
        event_store.close()
    for e in entries:
        if gov_only and not e.action.startswith("GOV_"):
            continue
        if as_json:
            typer.echo(json.dumps(msgspec.to_builtins(e), sort_keys=True))
        else:
            run = f" [{e.run_id}@{e.attempt}]" if e.run_id else ""
            typer.echo(
                f"{e.row_id:>6}  {utc_text(e.ts_ns)}  {e.actor:<16} {e.action:<28}{run} "
                f"{e.detail}  #{(e.entry_sha256 or '-')[:12]}"
            )
    if verify:
        report = verify_chain(entries)
        for problem in report.problems:
            typer.echo(f"broken: {problem}", err=True)
        if not report.intact:
            typer.echo(
                f"audit log chain BROKEN: {len(report.problems)} problem(s) in "
                f"{report.entries} entries",
                err=True,
            )
            raise typer.Exit(EXIT_FAILED)
        typer.echo(f"audit log chain intact: {report.entries} entries, head {report.head_sha256}")


@app.command("drill")
def gov_drill(
    bot_id: Annotated[str, typer.Argument(help="The bot, e.g. risk.killswitch.")],
    data: Annotated[
        str | None,
        typer.Option(
            "--data", help="Recorded data to replay (default: the shipped Polymarket sample)."
        ),
    ] = None,
    after_events: Annotated[
        int | None,
        typer.Option(
            "--after-events", min=0, help="Demote after this many events (default: half)."
        ),
    ] = None,
    desk: DeskOption = None,
    gov_dir: GovDirOption = DEFAULT_GOV_DIR,
    store: StoreOption = DEFAULT_STORE,
    operator: OperatorOption = "",
) -> None:
    """Rehearse a rollback: replay --data with the bot ENFORCED under its current release,
    demote it part-way (GOV_ROLLBACK_DRILL) and check the desk returned to what the previous
    release allows; record the drill and every check (exit 1 when a check fails)."""
    desk_file = load_desk(desk)
    try:
        drill = run_drill(
            bot_id,
            desk=desk_file,
            data=data if data is not None else sample_path(),
            store_url=store,
            gov_dir=gov_dir,
            now_ns=_now_ns(),
            actor=operator_name(operator),
            after_events=after_events,
        )
    except GovernanceError as exc:
        _refused(exc)
    except RunRefusedError as exc:
        fail(str(exc), EXIT_REFUSED, exc)
    except StoreError as exc:
        fail(str(exc), EXIT_FAILED, exc)
    for check in drill.checks:
        typer.echo(f"  {'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    verdict = "passed" if drill.passed else "FAILED"
    typer.echo(
        f"GOV_ROLLBACK_DRILL: {bot_id} release {drill.from_sequence} → {drill.to_sequence} "
        f"{verdict} (run {drill.run_id}@{drill.attempt})"
    )
    if not drill.passed:
        raise typer.Exit(EXIT_FAILED)
