"""The paper account: pUSD cash, token holdings and the reservations of open orders.

Rules (section 6 of :mod:`polytraders.venues.paper`):

- Free cash = cash − Σ reservations of open BUY orders; free tokens of a token = holdings −
  Σ reservations of open SELL orders in it. Polymarket does not let an account sell tokens it
  does not hold, so holdings never go below zero (no shorting).
- A fill of ``size`` micro-shares at ``price`` with fee ``fee`` moves, exactly:
  BUY: cash −= ⌊price × size / 10⁶⌋ + fee, holdings += size;
  SELL: cash += ⌊price × size / 10⁶⌋ − fee, holdings −= size.
  A spot BUY whose commission is kept in the bought asset (``fee_size`` > 0, rule 12.4 of
  :mod:`polytraders.venues.paper`): cash −= ⌊price × size / 10⁶⌋, holdings += size −
  fee_size (its ``fee`` is not charged to cash: not in ``fees_paid``).
  (``⌊price × size / 10⁶⌋`` is :func:`polytraders.model.money.notional_micros`, the same
  rounding accounting uses, so the venue and the books reconcile to the micro-unit.)
- Redemption of a resolved market's token (rule 11 of :mod:`polytraders.venues.paper`; the
  Conditional Tokens ``redeemPositions`` burns the whole balance and pays
  ``balance × numerator / denominator``): cash += ⌊payout × holdings / 10⁶⌋ with ``payout``
  the payout per share in micro-pUSD (10⁶ for the winning token, 0 for the losing one) and
  holdings → 0.
- Money is conserved: cash − starting cash = Σ SELL notionals − Σ BUY notionals − Σ fees +
  Σ payouts + Σ funding (fees charged to cash), and holdings − starting holdings = Σ BUY sizes
  − Σ BUY fee sizes − Σ SELL sizes − Σ redeemed sizes, at every moment.

A movement that would make cash, holdings or a free balance negative is a bug in the caller
(the venue checks balances before it accepts an order) and raises :class:`LedgerError`.

Perpetuals (``short_tokens``, rule 12 of :mod:`polytraders.venues.paper`): the same cash
movements (a linear contract's PnL is exactly the spot-style cash flows, so cash + holdings ×
mark is the account's equity), but holdings are signed (a SELL beyond what is held opens a
short) and the cash may go below zero (a long bought with less cash than its notional after a
loss); no reservation is made for them (a reservation of one must be 0). Funding payments
(rule 12.6) move the cash: cash += payment (negative: the account pays), counted in
``funding``. Margin and liquidation are not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping

from polytraders.model.money import ONE, notional_micros
from polytraders.model.orders import Side

COLLATERAL = "pUSD"
"""Asset key of the collateral in :meth:`PaperLedger.balances`."""


class LedgerError(RuntimeError):
    """A movement would break the ledger's invariants (negative cash, holdings or reserve)."""


class PaperLedger:
    """Exact pUSD and token balances of the paper account (micro-units).

    Attributes:
        cash: pUSD held (micro), including the part reserved for open BUY orders.
        reserved_cash: pUSD reserved for open BUY orders (micro).
        bought_notional / sold_notional / fees_paid / payouts / funding: running totals
            (micro) for reconciliation; ``payouts`` is the pUSD credited by redemptions,
            ``funding`` the net perpetual funding received (negative: paid).
    """

    __slots__ = (
        "_holdings",
        "_reserved_tokens",
        "_short_tokens",
        "_starting_cash",
        "_starting_holdings",
        "bought_notional",
        "cash",
        "fees_paid",
        "funding",
        "payouts",
        "reserved_cash",
        "sold_notional",
    )

    def __init__(
        self,
        starting_cash: int,
        starting_holdings: Mapping[str, int] | None = None,
        *,
        short_tokens: frozenset[str] = frozenset(),
    ):
        if starting_cash < 0:
            raise ValueError("starting cash must not be negative")
        holdings = dict(starting_holdings or {})
        if any(size < 0 for size in holdings.values()):
            raise ValueError("starting holdings must not be negative")
        self.cash = starting_cash
        self._starting_cash = starting_cash
        self._holdings = holdings
        self._starting_holdings = dict(holdings)
        self._reserved_tokens: dict[str, int] = {}
        self._short_tokens = short_tokens
        self.reserved_cash = 0
        self.bought_notional = 0
        self.sold_notional = 0
        self.fees_paid = 0
        self.payouts = 0
        self.funding = 0

    # ------------------------------------------------------------------ reads
    @property
    def starting_cash(self) -> int:
        """pUSD the account started with (micro)."""
        return self._starting_cash

    def holdings(self, token_id: str) -> int:
        """Micro-shares of ``token_id`` held (reserved ones included)."""
        return self._holdings.get(token_id, 0)

    def starting_holdings(self, token_id: str) -> int:
        """Micro-shares of ``token_id`` held at the start."""
        return self._starting_holdings.get(token_id, 0)

    def free_cash(self) -> int:
        """pUSD not reserved by open BUY orders (micro)."""
        return self.cash - self.reserved_cash

    def free_tokens(self, token_id: str) -> int:
        """Micro-shares of ``token_id`` not reserved by open SELL orders."""
        return self._holdings.get(token_id, 0) - self._reserved_tokens.get(token_id, 0)

    def balances(self) -> dict[str, int]:
        """``{"pUSD": free cash}`` plus free micro-shares per token ever held, keys sorted."""
        result = {COLLATERAL: self.free_cash()}
        for token_id in sorted(self._holdings):
            result[token_id] = self.free_tokens(token_id)
        return result

    # ------------------------------------------------------------------ reservations
    def reserve(self, side: Side, token_id: str, amount: int) -> None:
        """Reserve ``amount`` (pUSD micro for BUY, micro-shares for SELL) for an open order.

        A perpetual's orders reserve nothing: ``amount`` must be 0 (its holdings and the free
        cash may be negative).

        Raises:
            LedgerError: negative amount, more than is free, or non-zero for a perpetual.
        """
        if amount < 0:
            raise LedgerError("cannot reserve a negative amount")
        if token_id in self._short_tokens:
            if amount:
                raise LedgerError(f"{token_id} is a perpetual: its orders reserve nothing")
            return
        if side is Side.BUY:
            if amount > self.free_cash():
                raise LedgerError(f"reserve {amount} exceeds free cash {self.free_cash()}")
            self.reserved_cash += amount
        else:
            if amount > self.free_tokens(token_id):
                raise LedgerError(f"reserve {amount} exceeds free {token_id}")
            self._reserved_tokens[token_id] = self._reserved_tokens.get(token_id, 0) + amount

    def release(self, side: Side, token_id: str, amount: int) -> None:
        """Release a reservation made with :meth:`reserve`.

        Raises:
            LedgerError: negative amount, more than is reserved, or non-zero for a perpetual.
        """
        if amount < 0:
            raise LedgerError("cannot release a negative amount")
        if token_id in self._short_tokens:
            if amount:
                raise LedgerError(f"{token_id} is a perpetual: its orders reserve nothing")
            return
        if side is Side.BUY:
            if amount > self.reserved_cash:
                raise LedgerError("release exceeds reserved cash")
            self.reserved_cash -= amount
        else:
            reserved = self._reserved_tokens.get(token_id, 0)
            if amount > reserved:
                raise LedgerError(f"release exceeds reserved {token_id}")
            self._reserved_tokens[token_id] = reserved - amount

    # ------------------------------------------------------------------ fills
    def settle_fill(
        self, side: Side, token_id: str, price: int, size: int, fee: int, *, fee_size: int = 0
    ) -> None:
        """Move cash and tokens for one fill (see the module rules). With ``fee_size`` > 0 (a
        spot BUY's commission kept in the bought asset) holdings grow by ``size − fee_size``
        and ``fee`` is not charged to cash (it is that commission's value, reported).

        Call after releasing the order's reservation for the filled part.

        Raises:
            LedgerError: non-positive size, negative fee, ``fee_size`` outside [0, size] or
                on a SELL or a perpetual, or a balance would go negative.
        """
        if size <= 0 or fee < 0:
            raise LedgerError("fill size must be positive and fee not negative")
        if not 0 <= fee_size <= size or (
            fee_size and (side is not Side.BUY or token_id in self._short_tokens)
        ):
            raise LedgerError(f"fee_size {fee_size} out of range for a {side} of {token_id}")
        if fee_size:
            fee = 0  # paid in the bought asset: cash pays the notional only
        notional = notional_micros(price, size)
        if token_id in self._short_tokens:
            signed = size if side is Side.BUY else -size
            self._holdings[token_id] = self._holdings.get(token_id, 0) + signed
            self.cash += (-notional if side is Side.BUY else notional) - fee
            if side is Side.BUY:
                self.bought_notional += notional
            else:
                self.sold_notional += notional
            self.fees_paid += fee
            return
        if side is Side.BUY:
            cash = self.cash - notional - fee
            if cash < self.reserved_cash:
                raise LedgerError(f"BUY fill of {notional}+{fee} exceeds free cash")
            self.cash = cash
            self._holdings[token_id] = self._holdings.get(token_id, 0) + size - fee_size
            self.bought_notional += notional
        else:
            held = self._holdings.get(token_id, 0) - size
            if held < self._reserved_tokens.get(token_id, 0):
                raise LedgerError(f"SELL fill of {size} exceeds free {token_id}")
            cash = self.cash + notional - fee
            if cash < self.reserved_cash:
                raise LedgerError("SELL fee exceeds free cash")
            self.cash = cash
            self._holdings[token_id] = held
            self.sold_notional += notional
        self.fees_paid += fee

    # ------------------------------------------------------------------ funding
    def settle_funding(self, token_id: str, payment: int) -> None:
        """Book a perpetual's funding payment at a funding time: cash += ``payment`` (micro;
        negative: the account pays; :func:`polytraders.model.perp.funding_payment`).

        Raises:
            LedgerError: ``token_id`` is not a perpetual of this ledger.
        """
        if token_id not in self._short_tokens:
            raise LedgerError(f"funding for {token_id}, which is not a perpetual")
        self.cash += payment
        self.funding += payment

    # ------------------------------------------------------------------ redemption
    def redeem(self, token_id: str, payout_per_share: int) -> int:
        """Redeem every held share of ``token_id`` at ``payout_per_share`` micro-pUSD (see the
        module rules): cash += ⌊payout_per_share × holdings / 10⁶⌋, holdings → 0.

        Call after the token's open SELL orders released their reservations.

        Returns:
            The pUSD credited (micro; 0 for a losing token or when nothing is held).

        Raises:
            LedgerError: a payout outside [0, 10⁶], or tokens still reserved by open orders.
        """
        if not 0 <= payout_per_share <= ONE:
            raise LedgerError(f"payout {payout_per_share} for {token_id} outside [0, {ONE}]")
        if self._reserved_tokens.get(token_id, 0):
            raise LedgerError(f"cannot redeem {token_id}: tokens reserved by open orders")
        held = self._holdings.get(token_id, 0)
        if held == 0:
            return 0
        credited = notional_micros(payout_per_share, held)
        self._holdings[token_id] = 0
        self.cash += credited
        self.payouts += credited
        return credited

    def conservation_problems(self) -> list[str]:
        """Check the cash identity of the module docstring and that no balance is negative
        (empty when both hold)."""
        problems: list[str] = []
        expected = (
            self._starting_cash
            + self.sold_notional
            - self.bought_notional
            - self.fees_paid
            + self.payouts
            + self.funding
        )
        if self.cash != expected:
            problems.append(f"cash {self.cash} != {expected}")
        if self.reserved_cash < 0 or (
            not self._short_tokens and (self.cash < 0 or self.free_cash() < 0)
        ):
            problems.append("negative cash or reservation")
        for token_id, held in self._holdings.items():
            if token_id in self._short_tokens:
                continue
            if held < 0 or self.free_tokens(token_id) < 0:
                problems.append(f"negative holdings of {token_id}")
        return problems
