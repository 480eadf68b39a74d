"""Paper venue: simulated Polymarket CLOB v2 matching against the recorded or live book.

The desk drives :class:`PaperVenue` through the :class:`polytraders.venues.base.Venue`
protocol. Below are the fill rules, exact, in the style of hftbacktest's ``order_fill.rst``.
Sources: DESIGN.md "Venues" and ``../shared/POLYMARKET.md`` "Orders" and "Fees". Tests in
``tests/venues/paper/`` pin each rule with hand-computed cases.

Notation: all prices ``p`` and sizes are integer micro-units (0.45 → 450_000; 1 share →
1_000_000 micro-shares); times are ns. For a token, ``S_bid(x)`` / ``S_ask(x)`` is the size the
venue's copy of the book shows at price ``x`` (0 when no level); ``taken(side, x)`` is what our
own fills took from that level (rule 5) and ``A(side, x) = max(0, S(side, x) − taken(side, x))``
is the *available* size. Latencies (ns) come from the venue's latency model
(:mod:`.latency`), per order: ``L`` entry, ``C`` cancel, ``R`` response; the default
(:class:`~.latency.ConstantLatency`) is ``order_latency_ms``, ``cancel_latency_ms`` and
``response_latency_ms`` × 10⁶ for every order, and :class:`~.latency.RecordedLatency` takes them
per order from a recorded session. An order has side, limit price ``p``, size ``q`` (or
notional ``N`` for a BUY market order), filled ``f`` and remaining ``r = q − f``.

1. Time and latency
   1.1 An order submitted at ``t_s`` reaches the venue at ``t_a = t_s + L``.
   1.2 A pending action (arrival, cancel, expiry) at time ``T`` is processed before any market
       event with ``ts_event_ns ≥ T`` is applied, and by ``advance(now)`` for ``now ≥ T``.
       Actions due together run in ``(T, order of scheduling)`` order. So an arriving order
       meets the book made of every market event with ``ts_event_ns < t_a`` (the desk feeds
       events in time order and advances its clock to each event's time).
   1.3 Market events must come in non-decreasing ``ts_event_ns`` (else ``ValueError``).
   1.4 Every venue event about an order (ack, fill, cancel, rejection, expiry) carries
       ``ts_event_ns`` = the time of the action or market event that caused it and
       ``ts_recv_ns = ts_event_ns + R`` (``R`` of its order); a funding payment (rule 12.6),
       which concerns no order, has ``ts_recv_ns = ts_event_ns``, its funding time. The
       venue's clock is the latest time given to ``advance`` or ``on_market_event``;
       ``poll()`` returns the events with ``ts_recv_ns ≤`` clock not returned before, in
       ``(ts_recv_ns, creation)`` order. Balances, holdings and
       ``open_orders()`` are the venue's own state at once; the desk learns of a fill ``R``
       later, at its first step at or after ``ts_recv_ns`` (a fill still travelling when its
       market resolves reaches the desk after the settlement, so keep ``R`` below the time
       between a market's close and its resolution).

2. Marketable orders (taker on arrival)
   2.1 A BUY with limit ``p`` takes ask levels ``x`` in ascending order while ``x ≤ p``; a SELL
       takes bid levels in descending order while ``x ≥ p``. At each level it takes
       ``min(A(x), wanted)`` with ``wanted = r`` (size orders) or
       ``⌊(N − spent) × 10⁶ / x⌋`` (BUY by notional; ``spent = Σ ⌊x × size / 10⁶⌋``).
       One ``Fill`` per level, at the level's price ``x``, liquidity TAKER.
   2.2 Taker fee per level: ``taker_fee_micros(size, x, rate)`` =
       ``size × rate × x × (1 − x)`` rounded half-up to 5 decimals of pUSD, ``rate`` the fee
       rate of the market's category (``PaperVenueConfig.fee_rates_ppm``). Makers pay 0.
   2.3 FOK: fills iff the walk is complete — size orders: ``Σ taken = q``; notional orders:
       the walk stopped because a level could supply all it wanted, or the unspent
       ``N − spent`` satisfies ``⌊(N − spent) × 10⁶ / p⌋ = 0`` — else rejected
       ``SYS_VENUE_FOK_NOT_FILLED`` with nothing traded.
       FAK: fills what the walk found; a remainder ``r > 0`` (or an incomplete notional) is
       cancelled: ``OrderCanceled(SYS_VENUE_FAK_REMAINDER_CANCELED)``, also when nothing filled.
       GTC/GTD: fills what the walk found; the remainder rests at ``p`` (rule 4).
   2.4 Event order for an accepted order: ``OrderAccepted``, the taker ``Fill``s best level
       first, then ``OrderCanceled`` (FAK remainder) if any.

3. Checks on arrival, in this order; the first failing one rejects the order
   (``OrderRejected`` with the code, nothing reserved or traded):
   3.1 the token is one of the venue's markets' tokens — ``SYS_UNKNOWN_TOKEN``;
   3.2 well formed: ``p > 0``; exactly one of ``q``, ``N`` positive; ``N`` only on BUY FOK/FAK;
       post-only only with GTC/GTD; ``expire_at_ns > 0`` iff GTD — ``SYS_VENUE_INVALID_ORDER``;
   3.3 the market accepts orders (rule 9) — ``SYS_VENUE_MARKET_NOT_ACCEPTING``;
   3.4 ``p mod tick = 0`` with the token's current tick — ``SYS_VENUE_INVALID_TICK``;
   3.5 ``tick ≤ p ≤ 10⁶ − tick`` — ``SYS_VENUE_PRICE_OUT_OF_RANGE``;
   3.6 ``q ≥ min_order_size`` of the token (size orders, every kind), or
       ``N ≥ min_market_notional_micros`` — ``SYS_VENUE_BELOW_MIN_SIZE``;
   3.7 GTD: ``expire_at_ns − M > t_a`` with ``M`` = ``gtd_security_margin_s × 10⁹``
       (Polymarket's one-minute security margin by default) — ``SYS_VENUE_INVALID_EXPIRATION``;
   3.8 post-only: the walk of rule 2.1 would take nothing (BUY: no ``x ≤ p`` with
       ``A_ask(x) > 0``; SELL: no ``x ≥ p`` with ``A_bid(x) > 0``) —
       ``SYS_VENUE_POST_ONLY_WOULD_CROSS``;
   3.9 balance (rule 6): BUY by size needs ``free cash ≥ ⌈p × q / 10⁶⌉ + F``; BUY by notional
       ``free cash ≥ N + F``, ``F`` = the taker fees of the walk; SELL needs
       ``free tokens ≥ q`` (no selling tokens not held) — ``SYS_VENUE_INSUFFICIENT_BALANCE``;
   3.10 FOK completeness (rule 2.3) — ``SYS_VENUE_FOK_NOT_FILLED``.
   Reduce-only is not a venue feature on Polymarket: the venue ignores it (the desk enforces
   it).

4. Resting orders (maker)
   4.1 Placement: a GTC/GTD remainder ``r`` rests at ``p`` with queue ahead
       ``Q = A(own side, p)`` at ``t_a`` (all liquidity already there is ahead of us; later
       liquidity joins behind). Our own earlier orders at ``p`` are ahead of it (time
       priority). Its fills are MAKER, at ``p``, fee 0.
   4.2 Trades: a public ``Trade`` at price ``x`` of size ``V`` with aggressor SELL reaches our
       resting BUYs with ``p ≥ x``; aggressor BUY our SELLs with ``p ≤ x``; unknown aggressor
       both (bids first), from one shared budget ``v = V``. Levels are visited in price
       priority (best price first). At ``p = x`` the volume goes through the front of the
       queue (rule 4.6). At a better price than ``x`` the print proves the queue there is gone:
       ``Q ← 0`` and each order fills ``min(v, r)`` in time priority. Fills never exceed ``V``.
       The trade's ``V`` is remembered as *explained* volume of our level at ``x`` (rule 4.3).
       Complementary token (``complement_fills``, default on): on Polymarket buying YES at
       ``p`` is selling NO at ``1 − p`` and the two books mirror each other, so a trade on one
       token at ``x`` with aggressor ``a`` is then also applied, with what is left of the same
       budget, to our orders on the complementary token as a trade at ``1 − x`` with the
       opposite aggressor (a NO buyer at ``1 − p`` reaches our YES bid at ``p``); ``V`` is
       explained volume of the mirrored level too. Crossing (rule 4.5) reads the order's own
       book only: it already shows the complement's orders at the mirrored price, and reading
       both would count the same liquidity twice.
   4.3 Level decreases: when a book update changes our level from ``S_old`` to ``S_new``:
       if ``S_new ≥ S_old`` nothing moves (and the explained volume resets to 0). Else
       ``D = S_old − S_new``, ``E`` the explained volume, ``U = max(0, D − E)`` (the part not
       already accounted for by trades), ``E ← 0``; then the queue model (rule 4.4). A token is
       *trade-fed* from the first public trade that reached it (rule 4.2, either token of the
       market with ``complement_fills``): its feed reports trades, so a decrease it does not
       explain is a cancellation.
   4.4 Queue models (``queue_model``; :mod:`.queue`), for the level's orders ``o₁ … oₖ`` in time
       priority, ``Q₁`` the queue ahead of ``o₁``; each ends with ``Q ← min(Q, S_new)`` for
       every order. "Through the front" is rule 4.6; its fills need the market to accept
       orders (rule 4.8).
       ``pessimistic`` (hftbacktest's RiskAdverseQueueModel): ``U`` is behind us; nothing else
       moves. Only trades (4.2) and crossing (4.5) fill us: the lower bound.
       ``l2_inference`` (snapshot-only data such as the Polymarket sample, which has no
       trades): ``U`` goes through the front, so a decrease larger than ``Q₁`` fills us with
       the excess: the upper bound, as every cancellation counts as trading.
       ``probabilistic`` (hftbacktest's ProbQueueModel, ``docs/order_fill.rst``; the default):
       if ``Q₁ > 0``, with ``F = Q₁`` and ``B = max(0, S_old − F)``, the share of ``U`` behind
       ``o₁`` is ``w = f(B) / (f(B) + f(F))`` — ``log`` (``queue_function``'s default):
       ``f(x) = ln(1 + x/10⁶)`` (x in shares); ``power``: ``f(x) = xⁿ`` (``queue_power_n``,
       default 2 as in hftbacktest's examples);
       ``behind = min(B, ⌊w × U⌋)`` (integral ``n``: exactly ``⌊U × Bⁿ / (Bⁿ + Fⁿ)⌋``; else
       ``w`` is an IEEE-754 double) and ``A = U − behind`` goes through the front. On a token
       that is not trade-fed, ``A`` beyond the queue ahead fills us (the decrease may be
       trading); on a trade-fed token it only moves the queue (hftbacktest instead keeps a
       negative queue position that its next trade at the price fills in full).
       Example (power, n = 2): ``Q₁ = 30``, ``S_old = 90``, ``U = 20`` shares: ``B = 60``,
       ``behind = ⌊20 × 3600 / 4500⌋ = 16``, ``A = 4``, ``Q₁ ← 26``.
   4.5 Crossing: after every book update of the token, our resting BUY at ``p`` with best ask
       ``≤ p`` (SELL at ``p`` with best bid ``≥ p``) fills as a maker at ``p`` against the
       available crossing liquidity, walked as in rule 2.1 up to ``r`` and consumed (rule 5).
       Orders are visited bids first (highest ``p`` first), then asks (lowest first), time
       priority within a price; ``Q`` is ignored (nobody can be ahead of a crossed order).
   4.6 Volume ``V`` through the front of a level, our orders ``o₁ … oₖ`` in time priority:
       ``v = V``, ``x = 0``; for each ``oᵢ``: ``a = max(0, Qᵢ − x)``, ``e = min(v, a)``,
       ``Qᵢ ← a − e``, ``x += e``, ``v −= e``; if ``Qᵢ = 0``: ``oᵢ`` fills ``min(v, rᵢ)`` and
       ``v`` shrinks by it. Hence Σ fills ``≤ V − Q₁ ≤ V``. (The queue model's hooks: rule 4.1
       is ``on_new_order``, this rule ``on_trade``, rule 4.4 ``on_level_change``, and the
       amounts reached are what ``fillable`` hands to the fills.)
   4.7 Our taker fill of ``s`` at a level where we also rest (opposite side) moves the queue of
       those orders by rule 4.6 with ``V = s`` but never fills them (no self-trade).
   4.8 A market not accepting orders (rule 9) produces no maker fills: trades and decreases
       still move the queue (rules 4.6 and 4.4 without fills).

5. Our fills consume liquidity
   5.1 Every micro-share one of our orders takes from a book level (rule 2.1, rule 4.5) adds to
       ``taken(side, x)``; matching always reads ``A = max(0, S − taken)``, so the same book
       liquidity never fills two of our orders.
   5.2 ``taken(side, x)`` is forgotten when the book no longer has a level at ``(side, x)`` (a
       delta sets it to 0 or a snapshot omits it): when the book shows the level again it is
       new liquidity. While the level stays, whatever its size, ``taken`` keeps being
       subtracted (the feed never reflects our simulated trades).

6. Balances and money (:mod:`.ledger`)
   6.1 Cash and fees are pUSD micro-units; fees are paid in pUSD.
   6.2 BUY fill of ``s`` at ``x`` with fee ``φ``: ``cash −= ⌊x × s / 10⁶⌋ + φ``,
       ``tokens += s``; SELL: ``cash += ⌊x × s / 10⁶⌋ − φ``, ``tokens −= s``.
   6.3 A resting BUY reserves ``⌈p × r / 10⁶⌉`` pUSD, a resting SELL reserves ``r`` tokens;
       reservations shrink with fills and are released on cancel / expiry. ``balances()``
       reports free amounts: ``cash − reserved`` and ``tokens − reserved``.
   6.4 Redemption at resolution (rule 11) of ``h`` held micro-shares at payout ``π``
       micro-pUSD per share: ``cash += ⌊π × h / 10⁶⌋``, ``tokens ← 0``.
   6.5 Hence at every moment ``cash − starting cash = Σ SELL notionals − Σ BUY notionals −
       Σ fees + Σ payouts`` and ``tokens − starting tokens = Σ BUY sizes − Σ SELL sizes −
       Σ redeemed sizes``, exactly, and no balance is ever negative. These are the cash rules
       of the desk's ledger (:mod:`polytraders.accounting.ledger`: fills and settlement), so
       with the same fills and resolutions venue cash equals ledger cash and venue holdings
       equal ledger positions, to the micro-unit.

7. Cancels and expiry
   7.1 ``cancel(id, t)`` takes effect at ``max(t + C, t_a(id))`` (a cancel never overtakes its
       order); until then the order can still fill. An open order gets
       ``OrderCanceled`` (reason code empty); an order already filled, cancelled or expired
       gets nothing more; an id the venue never received gets
       ``OrderRejected(SYS_VENUE_UNKNOWN_ORDER)``.
   7.2 ``cancel_all(t)`` = ``cancel(id, t)`` for every open order, in submission order.
   7.3 A resting GTD order expires at ``expire_at_ns − M`` (rule 1.2: before any market event
       with ``ts_event_ns ≥ expire_at_ns − M``): ``OrderExpired``. ``expire_at_ns`` is the wire
       expiry, which the execution bot sets to the intended expiry plus ``M``, as on
       Polymarket; with ``M = 0`` it is the effective expiry.

8. Tick-size changes: a ``TickSizeChange`` sets the token's tick for later orders (rule 3.4);
   resting orders whose price fails rule 3.4 or 3.5 under the new tick are cancelled
   (``OrderCanceled(SYS_VENUE_TICK_SIZE_CHANGED)``, in arrival order).

9. Market status: a market accepts orders iff its last ``MarketStatus`` said
   ``accepting_orders``, its state is not CLOSED or RESOLVED (initially: ``Market.state``
   is ACTIVE) and it has not been redeemed (rule 11.4). CLOSED or RESOLVED cancels our
   resting orders there (``OrderCanceled(SYS_VENUE_MARKET_CLOSED)``, in submission order).

10. Determinism: no clock reads and no randomness. Venue order ids ``{run_id}/v{n}`` and fill
    ids ``ids.fill_id(run_id, n)`` count in processing order; the same events, calls and
    config give byte-identical venue events (the one float of rule 4.4, for a non-integral
    ``n`` or ``log``, is an IEEE-754 double computed the same way every time). Events for
    tokens or markets the venue was not given, and non-market events, are ignored (counted in
    ``PaperVenue.stats``).

11. Resolution and redemption (Polymarket: the market's condition is reported with payout
    numerators 1 for the winning outcome and 0 for the other, and the Conditional Tokens
    ``redeemPositions`` burns the holder's whole balance of each outcome token and pays
    ``balance × numerator / denominator`` pUSD; both have 6 decimals).
    11.1 A ``MarketStatus`` with ``state = RESOLVED`` and a ``winning_token_id`` resolves its
         market at ``t = ts_event_ns``. It is the one path: the desk hands every market
         event to the venue (``Desk`` step 1, right after its ledger settled the same
         event), so the venue redeems on exactly the events the ledger settles on.
    11.2 At ``t``, after the actions due at or before ``t`` (rule 1.2) and the cancels of
         rule 9 (every resting order of the market: ``OrderCanceled(SYS_VENUE_MARKET_CLOSED)``,
         reservations released), each token of the market is redeemed (rule 6.4): the
         winning token at ``π = 10⁶`` (``h`` micro-shares pay ``h`` micro-pUSD, 1 pUSD per
         share), the other at ``π = 0``; holdings of both become 0. No venue event is
         emitted (redemption is not an order); ``balances()`` shows the new cash at once.
    11.3 An order still travelling at ``t`` arrives at a market not accepting orders and is
         rejected ``SYS_VENUE_MARKET_NOT_ACCEPTING`` (rule 3.3); it never trades.
    11.4 A market redeems once and is final: it never accepts orders again, and a later
         ``MarketStatus`` for it redeems nothing.
    11.5 ``RESOLVED`` without a winning token closes the market (rule 9) and redeems nothing
         (the ledger does not settle it either); a winning token that is not one of the
         market's tokens raises ``ValueError`` and the event is not applied (the actions
         due before it have run, rule 1.2).
    11.6 Redemption is immediate: on Polymarket the holder calls ``redeemPositions`` after
         resolution; the paper venue does so at the resolution event, which is when the
         ledger books the payout.

12. Crypto instruments (``PaperVenue(..., instruments=[Instrument, ...])``, token id
    ``"<venue>:<symbol>"``): the same clock, matching, queue and consumed-liquidity rules
    (1, 2.1, 2.3, 2.4, 4, 5, 7, 10), with these differences.
    12.1 No market: no accepting flag, status, tick-size change or resolution applies
         (rules 8, 9, 11); a public trade may print at any positive price and has no
         complement (rule 4.2 on its own token only).
    12.2 Checks on arrival instead of 3.3–3.6 (:func:`.validation.instrument_problem`): sized
         in base units, ``p > 0`` and ``p mod price_increment = 0`` (no (0, 1) range),
         ``q mod size_increment = 0`` and ``q ≥ min_size``.
    12.3 Fees, makers and takers alike, per fill (a spot BUY's: rule 12.4):
         ``⌊x × s × bps / 10¹⁰⌋`` micro-units of the quote currency
         (:func:`polytraders.model.fees.bps_fee_micros`), the venue's
         ``instrument_maker_fee_bps`` / ``instrument_taker_fee_bps`` (default Binance USDⓈ-M
         VIP 0: 2 and 5 bps). Cash and fees are the quote currency (the ledger's one cash).
    12.4 Spot (venue not in :data:`polytraders.model.market.PERPETUAL_VENUES`): rules 3.9 and
         6 as for tokens (a SELL beyond free holdings is rejected
         ``SYS_VENUE_INSUFFICIENT_BALANCE``). A BUY pays its commission in the base asset it
         receives, as Binance spot does: :func:`polytraders.model.fees.spot_buy_commission`
         (the rate of the size floored to 10⁻⁸, then ``fee_size`` rounded up to a micro-unit
         and ``fee`` its value at the fill price rounded up: what the ccxt venue books from
         the exchange's trade); holdings grow by ``size − fee_size``, cash pays the notional
         only (no quote fee; a BUY reserves and needs only its notional), and the
         :class:`~polytraders.model.fills.Fill` carries ``fee`` and ``fee_size``. A SELL pays
         rule 12.3's fee in the quote. Reduce-only as on the ccxt venue (one composition,
         backtest and live): a reduce-only SELL is a plain SELL (rule 3.9 caps it at the
         holding; the desk caps it at its position), a reduce-only BUY is refused
         ``SYS_VENUE_INVALID_ORDER`` (no short to reduce on spot).
    12.5 Perpetual (linear, e.g. ``binance-usdm``): holdings are signed, a SELL beyond them
         opens a short; no reservation. Collateral check instead of rule 3.9 (fully
         collateralised, 1×): Σ over perpetuals of ``max(|h + B|, |h − S|)`` × mark (``h``
         held, ``B``/``S`` the open remaining of resting BUYs/SELLs plus this order; mark the
         book mid, else the order's price; for this order's instrument the higher of mark and
         limit, rounded up) must not exceed free cash + Σ held instrument units × mark, else
         ``SYS_VENUE_INSUFFICIENT_BALANCE``. Cash moves as rule 6.2 (so cash + h × mark is the
         equity) and may go below zero. Margin, leverage and liquidation are not modelled.
    12.6 Funding (perpetuals): a ``FundingRate`` event for a perpetual sets its rate and, when
         it names a later ``next_funding_ns``, schedules a funding settlement then (once per
         instrument and time). At that time (in time order with arrivals, cancels and
         expiries) the position held pays or receives
         :func:`polytraders.model.perp.funding_payment`: ``−h × mark × rate`` floored toward
         −∞ (positive rate: longs pay, shorts receive), mark the book mid (Binance uses its
         mark price, which the recordings lack), with the instrument's latest rate; cash
         moves by it (:meth:`.ledger.PaperLedger.settle_funding`) and a
         :class:`~polytraders.model.events.FundingPayment` reports it to the desk (id
         ``<run id>/funding/<token id>/<funding time ns>``, the position, mark, rate and
         amount), which books it in its own ledger. No mid at that time (a one-sided book)
         raises ``ValueError``. A backtest's rates are an assumption
         (``PaperVenueConfig.funding_rates_ppb``), not recorded data.
"""

from polytraders.venues.paper.config import QUEUE_MODELS, PaperVenueConfig, QueueFunction
from polytraders.venues.paper.config import QueueModel as QueueModelName
from polytraders.venues.paper.latency import (
    ConstantLatency,
    LatencyModel,
    OrderLatency,
    RecordedLatency,
)
from polytraders.venues.paper.ledger import COLLATERAL, LedgerError, PaperLedger
from polytraders.venues.paper.queue import QueueModel, queue_model
from polytraders.venues.paper.venue import PaperVenue, PaperVenueStats

__all__ = [
    "COLLATERAL",
    "QUEUE_MODELS",
    "ConstantLatency",
    "LatencyModel",
    "LedgerError",
    "OrderLatency",
    "PaperLedger",
    "PaperVenue",
    "PaperVenueConfig",
    "PaperVenueStats",
    "QueueFunction",
    "QueueModel",
    "QueueModelName",
    "RecordedLatency",
    "queue_model",
]
