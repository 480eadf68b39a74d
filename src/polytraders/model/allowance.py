"""The collateral allowance a Polymarket account grants the exchange contracts, and the rule
that judges it before real orders are sent.

An order settles on-chain by the exchange contract pulling the maker's collateral (pUSD, an
ERC-20 with 6 decimals) with ``transferFrom``, so the account (the funder) must first have
called ``approve(spender, amount)`` for each contract that settles its orders: the CTF
Exchange V2 for ordinary markets, the Neg Risk CTF Exchange V2 and the Neg Risk Adapter for
neg-risk ones (Polymarket's approval examples: py-clob-client-v2
``examples/account/approve_allowances.py`` and ``approve_neg_risk_allowances.py``;
rs-clob-client ``examples/approvals.rs``, which approves ``U256::MAX``). The CLOB reports the
approvals it sees in ``GET /balance-allowance`` (:mod:`polytraders.venues.polymarket.wire`).

The rule (:func:`check_allowance`): the allowance to every required spender is at least the
collateral balance, and above 0. The venue accepts a BUY only up to the free collateral, so an
allowance of at least the balance covers every order the venue would accept, whatever the
desk's own limits (which can change without a new check); the usual unlimited approval
(2²⁵⁶ − 1) always passes. An allowance of 0 never passes, even on an empty wallet: there is
no approval at all, and the first deposit would leave every BUY refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

MAX_UINT256: Final = 2**256 - 1
"""The largest ERC-20 allowance: an unlimited approval (``approve(spender, 2**256 - 1)``)."""


class CollateralAllowance(msgspec.Struct, frozen=True, kw_only=True):
    """An account's collateral balance and its allowances, as the venue reports them.

    Attributes:
        balance_micros: pUSD held (micro-pUSD).
        allowances_micros: spender address (EIP-55 checksum) → allowance (micro-pUSD, up to
            :data:`MAX_UINT256`).
    """

    balance_micros: int
    allowances_micros: dict[str, int]

    def allowance_to(self, spender: str) -> int:
        """The allowance to ``spender`` (any letter case), 0 when the venue reports none."""
        wanted = spender.lower()
        return next(
            (v for k, v in self.allowances_micros.items() if k.lower() == wanted),
            0,
        )


class AllowanceCheck(msgspec.Struct, frozen=True, kw_only=True):
    """One start-up check of an account's collateral allowances (recorded as the audit entry
    ``GOV_WALLET_ALLOWANCE_CHECKED``, :mod:`polytraders.store.allowance_checks`).

    Attributes:
        account: the funder address whose allowances were checked (it holds the collateral).
        signer: the address that signs the orders.
        spenders: the contracts that must be approved, in the order checked.
        balance_micros: the collateral balance (micro-pUSD).
        allowance_micros: spender → its allowance (micro-pUSD; 0 when not reported).
        verified: every spender's allowance is at least the balance and above 0.
    """

    account: str
    signer: str
    spenders: tuple[str, ...]
    balance_micros: int
    allowance_micros: dict[str, int]
    verified: bool

    @property
    def short(self) -> list[str]:
        """The spenders whose allowance fails the rule, in the order checked."""
        return [
            s for s in self.spenders if not _covers(self.allowance_micros[s], self.balance_micros)
        ]

    @property
    def problem(self) -> str:
        """One line saying why the check failed (empty when verified)."""
        if self.verified:
            return ""
        named = ", ".join(f"{s} {self.allowance_micros[s]}" for s in self.short)
        return (
            f"wallet allowance too low (GOV_WALLET_ALLOWANCE_INSUFFICIENT): account "
            f"{self.account} has {self.balance_micros} micro-pUSD but allows only {named} "
            "micro-pUSD; approve the exchange contracts for the collateral first"
        )


def _covers(allowance_micros: int, balance_micros: int) -> bool:
    """The rule for one spender: an approval exists and covers the balance."""
    return allowance_micros > 0 and allowance_micros >= balance_micros


def check_allowance(
    collateral: CollateralAllowance, spenders: Sequence[str], *, account: str, signer: str
) -> AllowanceCheck:
    """Judge ``collateral`` against ``spenders`` (module docstring: each allowance ≥ the
    balance and > 0).

    Raises:
        ValueError: no spender given (a check of nothing verifies nothing).
    """
    if not spenders:
        raise ValueError("an allowance check needs at least one spender")
    allowances = {s: collateral.allowance_to(s) for s in spenders}
    balance = collateral.balance_micros
    return AllowanceCheck(
        account=account,
        signer=signer,
        spenders=tuple(spenders),
        balance_micros=balance,
        allowance_micros=allowances,
        verified=all(_covers(a, balance) for a in allowances.values()),
    )
