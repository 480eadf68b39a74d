"""Offline EIP-712 signing of Polymarket CLOB v2 orders (no network, ~0.1 ms per order).

The signed struct, domain and exchange addresses are those of ``../shared/POLYMARKET.md``
"Orders" and of ``py_clob_client_v2.order_utils.exchange_order_builder_v2`` (the official
client), which this module reproduces with the per-exchange domain separator computed once
and the struct encoded by hand (eleven 32-byte words), instead of the client's per-order
``encode_typed_data`` + domain rebuild. ``tests/venues/polymarket/test_signing.py`` checks
that both produce the same signature for the same order.

::

    Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,
          uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,
          bytes32 metadata,bytes32 builder)
    domain = EIP712Domain("Polymarket CTF Exchange", "2", 137, <exchange>)
    digest = keccak256(0x1901 ‖ domainSeparator ‖ keccak256(typeHash ‖ words))

The order id on the CLOB is this digest (0x-hex), so an order's venue id is known before it
is posted: a restart re-derives the same id and never sends a duplicate. Amounts are 6-decimal
integers (micro-units): BUY makerAmount = pUSD paid, takerAmount = shares; SELL the reverse.
Signature types 0 (EOA), 1 (proxy) and 2 (Gnosis Safe) sign the digest with the signer key;
type 3 (deposit wallet, ERC-1271) is not supported here (:class:`ValueError`).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_keys import keys  # type: ignore[attr-defined]
from eth_utils import keccak, to_checksum_address  # type: ignore[attr-defined]

from polytraders.model.money import MICROS
from polytraders.model.orders import Side
from polytraders.venues.polymarket.config import CHAIN_ID_POLYGON

DOMAIN_NAME = "Polymarket CTF Exchange"
DOMAIN_VERSION = "2"
CTF_EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
"""CTF Exchange V2 on Polygon (``../shared/POLYMARKET.md``; py-clob-client-v2 1.2.1
``config.py`` ``exchange_v2``)."""
NEG_RISK_CTF_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
"""Neg-risk CTF Exchange V2 on Polygon; orders of ``neg_risk`` markets are signed for it."""
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"
"""Neg Risk Adapter on Polygon: no order is signed for it, but an account trading neg-risk
markets approves it for the collateral too (py-clob-client-v2 1.2.1 ``config.py``
``get_contract_config(137).neg_risk_adapter``; rs-clob-client-v2 ``src/lib.rs``
``NEG_RISK_CONFIG``, "Users must approve this contract")."""
ZERO_BYTES32 = "0x" + "00" * 32

ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,"
    "uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,"
    "uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
ORDER_TYPE_HASH = keccak(text=ORDER_TYPE)
_DOMAIN_TYPE_HASH = keccak(text=DOMAIN_TYPE)

SIDE_CODE = {Side.BUY: 0, Side.SELL: 1}
"""Side as the signed ``uint8`` (0 BUY, 1 SELL)."""

SHARE_STEP = 10_000
"""Size granularity the client signs: 0.01 share (``ROUNDING_CONFIG`` size = 2 decimals)."""


def domain_separator(exchange: str, chain_id: int = CHAIN_ID_POLYGON) -> bytes:
    """EIP-712 domain separator of a CTF Exchange V2 contract (32 bytes)."""
    return keccak(
        _DOMAIN_TYPE_HASH
        + keccak(text=DOMAIN_NAME)
        + keccak(text=DOMAIN_VERSION)
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(exchange[2:])
    )


def order_amounts(side: Side, price: int, size: int) -> tuple[int, int]:
    """(makerAmount, takerAmount) in 6-decimal units for a limit order of ``size`` micro-shares
    at ``price`` micro-units.

    BUY: maker = ⌈price × size / 10⁶⌉ pUSD (exact on the venue grids: size in 0.01 shares and
    price in ticks ≥ 0.0001 give ≤ 6 decimals), taker = size. SELL: maker = size, taker = cash.
    Example (POLYMARKET.md): BUY 10 @ 0.45 → (4_500_000, 10_000_000).

    Raises:
        ValueError: non-positive price or size, or a size not a multiple of 0.01 share.
    """
    if price <= 0 or price >= MICROS or size <= 0:
        raise ValueError(f"price {price} must be in (0, 1e6) and size {size} positive")
    if size % SHARE_STEP:
        raise ValueError(f"size {size} is not a multiple of 0.01 share")
    cash, remainder = divmod(price * size, MICROS)
    if remainder:
        raise ValueError(f"price {price} × size {size} is not a whole micro-unit")
    return (cash, size) if side is Side.BUY else (size, cash)


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """A signed V2 order: the signed fields plus ``expiration`` (JSON only) and the signature.

    ``order_hash`` is the EIP-712 digest (0x-hex), which the CLOB uses as the order id.
    Addresses are checksummed; amounts and ids are ints.
    """

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: Side
    signature_type: int
    timestamp_ms: int
    metadata: str
    builder: str
    expiration_s: int
    signature: str
    order_hash: str

    def to_wire(self) -> dict[str, object]:
        """The ``order`` object of a ``POST /order`` body, exactly as the official client's
        ``order_to_json_v2`` writes it (strings for amounts, int salt and signature type)."""
        return {
            "salt": self.salt,
            "maker": self.maker,
            "signer": self.signer,
            "tokenId": str(self.token_id),
            "makerAmount": str(self.maker_amount),
            "takerAmount": str(self.taker_amount),
            "side": self.side.value,
            "expiration": str(self.expiration_s),
            "signatureType": self.signature_type,
            "timestamp": str(self.timestamp_ms),
            "metadata": self.metadata,
            "builder": self.builder,
            "signature": self.signature,
        }


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _bytes32(hex_text: str) -> bytes:
    raw = bytes.fromhex(hex_text[2:] if hex_text.startswith("0x") else hex_text)
    if len(raw) > 32:
        raise ValueError(f"{hex_text!r} is longer than 32 bytes")
    return raw.rjust(32, b"\x00")


def order_digest(
    separator: bytes,
    *,
    salt: int,
    maker: str,
    signer: str,
    token_id: int,
    maker_amount: int,
    taker_amount: int,
    side: int,
    signature_type: int,
    timestamp_ms: int,
    metadata: str,
    builder: str,
) -> bytes:
    """EIP-712 digest of one order under ``separator`` (see the module docstring)."""
    struct_hash = keccak(
        ORDER_TYPE_HASH
        + _word(salt)
        + bytes(12)
        + bytes.fromhex(maker[2:])
        + bytes(12)
        + bytes.fromhex(signer[2:])
        + _word(token_id)
        + _word(maker_amount)
        + _word(taker_amount)
        + _word(side)
        + _word(signature_type)
        + _word(timestamp_ms)
        + _bytes32(metadata)
        + _bytes32(builder)
    )
    return keccak(b"\x19\x01" + separator + struct_hash)


def recover_signer(digest: bytes, signature: str) -> str:
    """Checksummed address that produced ``signature`` (65 bytes r‖s‖v, v ∈ {27, 28}) over
    ``digest``.

    Raises:
        ValueError: malformed signature.
    """
    raw = bytes.fromhex(signature[2:] if signature.startswith("0x") else signature)
    if len(raw) != 65 or raw[64] not in (27, 28):
        raise ValueError("signature must be 65 bytes with v in {27, 28}")
    sig = keys.Signature(raw[:64] + bytes([raw[64] - 27]))
    return str(sig.recover_public_key_from_msg_hash(digest).to_checksum_address())


class OrderSigner:
    """Builds and signs V2 orders offline for one signer key.

    Args:
        private_key: 32-byte key as bytes or 0x-hex (never logged; ``repr`` hides it).
        funder: address holding the funds (``maker``); defaults to the signer's address.
        signature_type: 0 EOA, 1 proxy, 2 Gnosis Safe.
        chain_id: EIP-712 chain id (137).
        exchanges: exchange name → contract address; ``"ctf"`` and ``"neg_risk"`` by default.

    Raises:
        ValueError: unsupported signature type or malformed key/address.
    """

    def __init__(
        self,
        private_key: bytes | str,
        *,
        funder: str | None = None,
        signature_type: int = 0,
        chain_id: int = CHAIN_ID_POLYGON,
        exchanges: dict[str, str] | None = None,
    ) -> None:
        if signature_type not in (0, 1, 2):
            raise ValueError(f"signature type {signature_type} is not supported (0, 1 or 2)")
        key_bytes = (
            bytes.fromhex(private_key.removeprefix("0x"))
            if isinstance(private_key, str)
            else private_key
        )
        self._key = keys.PrivateKey(key_bytes)
        self.address = str(self._key.public_key.to_checksum_address())
        self.funder = to_checksum_address(funder) if funder else self.address
        self.signature_type = signature_type
        self.chain_id = chain_id
        self.exchanges = dict(
            exchanges or {"ctf": CTF_EXCHANGE_V2, "neg_risk": NEG_RISK_CTF_EXCHANGE_V2}
        )
        self._separators = {
            name: domain_separator(to_checksum_address(addr), chain_id)
            for name, addr in self.exchanges.items()
        }

    def __repr__(self) -> str:
        return f"OrderSigner(address={self.address}, funder={self.funder})"

    def sign(
        self,
        *,
        token_id: str,
        side: Side,
        price: int,
        size: int,
        neg_risk: bool,
        salt: int,
        timestamp_ms: int,
        builder_code: str = "",
        metadata: str = ZERO_BYTES32,
        expiration_s: int = 0,
    ) -> SignedOrder:
        """Sign a limit order of ``size`` micro-shares at ``price`` micro-units.

        Deterministic: the same arguments give the same signature and order hash (ECDSA per
        RFC 6979). ``neg_risk`` picks the neg-risk exchange. ``builder_code`` is the bytes32
        builder attribution (0x-hex; empty = zero).

        Raises:
            ValueError: see :func:`order_amounts`; malformed token id or builder code.
        """
        maker_amount, taker_amount = order_amounts(side, price, size)
        builder = builder_code or ZERO_BYTES32
        token = int(token_id)
        side_code = SIDE_CODE[side]
        digest = order_digest(
            self._separators["neg_risk" if neg_risk else "ctf"],
            salt=salt,
            maker=self.funder,
            signer=self.address,
            token_id=token,
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            side=side_code,
            signature_type=self.signature_type,
            timestamp_ms=timestamp_ms,
            metadata=metadata,
            builder=builder,
        )
        sig = self._key.sign_msg_hash(digest).to_bytes()
        signature = "0x" + sig[:64].hex() + bytes([sig[64] + 27]).hex()
        return SignedOrder(
            salt=salt,
            maker=self.funder,
            signer=self.address,
            token_id=token,
            maker_amount=maker_amount,
            taker_amount=taker_amount,
            side=side,
            signature_type=self.signature_type,
            timestamp_ms=timestamp_ms,
            metadata=metadata,
            builder=builder,
            expiration_s=expiration_s,
            signature=signature,
            order_hash="0x" + digest.hex(),
        )


def salt_for(client_order_id: str) -> int:
    """Deterministic order salt from a client order id (< 2⁵³, safe in JSON numbers)."""
    return int.from_bytes(keccak(text=client_order_id)[:8], "big") >> 11
