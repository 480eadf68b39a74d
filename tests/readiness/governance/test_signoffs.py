"""Sign-offs: a reviewer sign-off needs a reviewer, a final risk review a risk officer, a gate
waiver the threshold of distinct approvers; each is bound to the code and config digests and
expires."""

from __future__ import annotations

import dataclasses

import pytest

from polytraders.readiness.governance.errors import SignoffRefusedError
from polytraders.readiness.governance.keys import SignerKey
from polytraders.readiness.governance.signers import SignerList
from polytraders.readiness.governance.signoffs import (
    Signoff,
    SignoffKind,
    build_signoff,
    verify_signoff,
)
from polytraders.readiness.lifecycle import State
from tests.readiness.governance.conftest import BOT, CODE, CONFIG, DAY_NS, NOW_NS, sign

REVIEW = Signoff(
    bot_id=BOT,
    bot_version="1.0.0",
    kind=SignoffKind.REVIEWER_SIGNOFF,
    to_state=State.SHADOW,
    code_sha256=CODE,
    config_sha256=CONFIG,
    created_ns=NOW_NS - DAY_NS,
    expires_ns=NOW_NS + DAY_NS,
    statement="Reviewed the spec, the tests and 50 sampled decisions.",
    gate_id=None,
)


def _check(
    signoff: Signoff,
    signers: SignerList,
    *keys: SignerKey,
    now_ns: int = NOW_NS,
    code: str = CODE,
    config: str = CONFIG,
) -> object:
    return verify_signoff(
        sign(build_signoff(signoff), *keys),
        signers=signers,
        now_ns=now_ns,
        expected_code_sha256=code,
        expected_config_sha256=config,
    )


def _refused(reason: str, *args: object, **kwargs: object) -> None:
    with pytest.raises(SignoffRefusedError) as refused:
        _check(*args, **kwargs)  # type: ignore[arg-type]
    assert refused.value.code == reason
    assert BOT in str(refused.value)


@pytest.mark.parametrize(
    ("kind", "right", "wrong"),
    [
        (SignoffKind.REVIEWER_SIGNOFF, "dave", ("bob", "carol", "erin")),
        (SignoffKind.FINAL_RISK_REVIEW, "erin", ("alice", "carol", "dave")),
    ],
)
def test_role_is_required(
    signers: SignerList,
    keys: dict[str, SignerKey],
    kind: SignoffKind,
    right: str,
    wrong: tuple[str, ...],
) -> None:
    signoff = dataclasses.replace(REVIEW, kind=kind)
    verified = _check(signoff, signers, keys[right], *(keys[n] for n in wrong))
    assert verified.signers == (right,)  # type: ignore[attr-defined]
    _refused("GOV_SIGNOFF_ROLE_MISSING", signoff, signers, *(keys[n] for n in wrong))


def test_gate_waiver_needs_threshold_of_approvers(
    signers: SignerList, keys: dict[str, SignerKey]
) -> None:
    waiver = dataclasses.replace(
        REVIEW, kind=SignoffKind.GATE_WAIVER, gate_id="R7", statement="no source for R7 yet"
    )
    _refused("GOV_SIGNOFF_THRESHOLD_NOT_MET", waiver, signers, keys["alice"], keys["dave"])
    verified = _check(waiver, signers, keys["alice"], keys["carol"])
    assert verified.signers == ("alice", "carol")  # type: ignore[attr-defined]
    with pytest.raises(SignoffRefusedError, match="gate_id") as refused:
        build_signoff(dataclasses.replace(waiver, gate_id=None))
    assert refused.value.code == "GOV_SIGNOFF_MALFORMED"
    with pytest.raises(SignoffRefusedError, match="gate_id must be null"):
        build_signoff(dataclasses.replace(REVIEW, gate_id="R7"))


def test_bound_to_code_config_and_time(signers: SignerList, keys: dict[str, SignerKey]) -> None:
    _refused("GOV_SIGNOFF_EXPIRED", REVIEW, signers, keys["dave"], now_ns=REVIEW.expires_ns)
    _refused("GOV_SIGNOFF_CODE_MISMATCH", REVIEW, signers, keys["dave"], code="cd" * 32)
    _refused("GOV_SIGNOFF_CONFIG_MISMATCH", REVIEW, signers, keys["dave"], config="cd" * 32)
