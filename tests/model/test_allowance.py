"""The allowance rule (``model.allowance``): every required spender's allowance above 0 and at
least the collateral balance; anything else fails and names the short spenders."""

from __future__ import annotations

import pytest

from polytraders.model.allowance import (
    MAX_UINT256,
    AllowanceCheck,
    CollateralAllowance,
    check_allowance,
)

CTF = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG = "0xe2222d279d744050d28e00520010520000310F59"
ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
FUNDER = "0x00000000000000000000000000000000000000f1"


def _check(
    balance: int, allowances: dict[str, int], spenders: tuple[str, ...] = (CTF,)
) -> AllowanceCheck:
    collateral = CollateralAllowance(balance_micros=balance, allowances_micros=allowances)
    return check_allowance(collateral, spenders, account=FUNDER, signer=FUNDER)


@pytest.mark.parametrize(
    ("balance", "allowance", "verified"),
    [
        (1_000_000_000, MAX_UINT256, True),  # an unlimited approval
        (1_000_000_000, 1_000_000_000, True),  # exactly the balance
        (1_000_000_000, 999_999_999, False),  # one micro-pUSD short
        (0, 1, True),
        (0, 0, False),  # no approval at all, even on an empty wallet
    ],
)
def test_the_allowance_must_cover_the_balance(balance: int, allowance: int, verified: bool) -> None:
    check = _check(balance, {CTF: allowance})
    assert check.verified is verified
    assert check.allowance_micros == {CTF: allowance}
    assert (check.problem == "") is verified


def test_a_spender_the_venue_does_not_report_has_no_allowance_and_any_case_matches() -> None:
    check = _check(5_000_000, {CTF.lower(): MAX_UINT256}, (CTF, NEG, ADAPTER))
    assert check.allowance_micros == {CTF: MAX_UINT256, NEG: 0, ADAPTER: 0}
    assert not check.verified
    assert check.short == [NEG, ADAPTER]
    problem = check.problem
    assert "GOV_WALLET_ALLOWANCE_INSUFFICIENT" in problem and "\n" not in problem
    assert f"{NEG} 0" in problem and f"{ADAPTER} 0" in problem and CTF not in problem


def test_a_check_of_no_spender_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one spender"):
        _check(1, {CTF: 1}, ())
