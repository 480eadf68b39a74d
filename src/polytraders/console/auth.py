"""Console authentication: argon2 password hashes, signed session cookies with their CSRF
token, and the sign-in rate limit.

Sessions are stateless signed cookies (HMAC-SHA256 with the console's secret, ``docs/console.md``
"Security model"): the payload names the user, the version of that user's record at sign-in,
a random session id and the issue time. A session is void once it is older than its maximum
age, once the user's record changed (password changed, removed) or once it was signed out in
this process. The CSRF token of a session is derived from its id with the same secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections import deque
from collections.abc import Callable, Iterable

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

NS_PER_S = 1_000_000_000

DEFAULT_HASHER = PasswordHasher()
"""argon2id with argon2-cffi's default cost (RFC 9106 low-memory profile)."""

MIN_PASSWORD_CHARS = 12
"""The shortest password ``polytraders console user add|passwd`` accepts."""


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """The argon2id hash of ``password`` in PHC string form (``$argon2id$…``)."""
    return hasher.hash(password)


class PasswordCheck:
    """Verifies passwords against stored hashes, spending the same work when the user does
    not exist (a dummy hash of the default cost) so timing does not tell names apart."""

    def __init__(self, hasher: PasswordHasher = DEFAULT_HASHER) -> None:
        self._hasher = hasher
        self._dummy = hasher.hash(secrets.token_urlsafe(16))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored_hash`` (None: no such user, always False)."""
        try:
            self._hasher.verify(stored_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored_hash is not None


class LoginLimiter:
    """At most ``max_failures`` failed sign-ins per key (a user name, a client address) in a
    sliding window of ``window_ns``; a key at the limit is refused until its oldest failure
    leaves the window, even with the right password. ``clock_ns`` is the wall clock (tests
    hand in their own)."""

    def __init__(
        self,
        *,
        clock_ns: Callable[[], int],
        max_failures: int = 5,
        window_ns: int = 15 * 60 * NS_PER_S,
    ) -> None:
        if max_failures < 1 or window_ns < 1:
            raise ValueError("max_failures and window_ns must be at least 1")
        self._clock_ns = clock_ns
        self._max = max_failures
        self._window_ns = window_ns
        self._failures: dict[str, deque[int]] = {}

    def _recent(self, key: str, now_ns: int) -> deque[int]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now_ns - self._window_ns:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def blocked(self, keys: Iterable[str]) -> bool:
        """True when any of ``keys`` reached the limit within the window."""
        now_ns = self._clock_ns()
        return any(len(self._recent(key, now_ns)) >= self._max for key in keys)

    def failed(self, keys: Iterable[str]) -> None:
        """Count one failed sign-in against each of ``keys``."""
        now_ns = self._clock_ns()
        for key in keys:
            self._failures.setdefault(key, self._recent(key, now_ns)).append(now_ns)
        if len(self._failures) > 10_000:  # forget keys whose failures all left the window
            for key in list(self._failures):
                self._recent(key, now_ns)

    def forget(self, key: str) -> None:
        """Clear ``key``'s failures (a user who signed in successfully)."""
        self._failures.pop(key, None)


class SessionClaims(msgspec.Struct, frozen=True, kw_only=True):
    """A session cookie's signed payload: user ``name``, the ``version`` of the user's record
    at sign-in, random session id ``sid`` and issue time ``iat_ns`` (wall clock, ns)."""

    name: str
    version: int
    sid: str
    iat_ns: int


class Signer:
    """Signs and checks values with HMAC-SHA256 under the console's secret: session cookies,
    the sign-in form's token, CSRF tokens."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the console secret must hold at least 32 bytes")
        self._secret = secret

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\x1f" + data, hashlib.sha256).digest()

    def sign(self, purpose: str, payload: dict[str, object]) -> str:
        """``payload`` as compact JSON, base64url, a dot and its MAC (base64url)."""
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return f"{_b64(data)}.{_b64(self._mac(purpose, data))}"

    def unsign(self, purpose: str, token: str) -> dict[str, object] | None:
        """The payload of a token signed for ``purpose``, or None when it is malformed or its
        MAC does not verify."""
        try:
            data_text, mac_text = token.split(".")
            data, mac = _unb64(data_text), _unb64(mac_text)
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(mac, self._mac(purpose, data)):
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def csrf_token(self, sid: str) -> str:
        """The CSRF token of session ``sid`` (64 hex digits)."""
        return self._mac("csrf", sid.encode()).hex()

    def issue(self, *, name: str, version: int, now_ns: int) -> tuple[SessionClaims, str]:
        """A new session of user ``name`` (record version ``version``) and its cookie value."""
        claims = SessionClaims(
            name=name, version=version, sid=secrets.token_urlsafe(24), iat_ns=now_ns
        )
        return claims, self.sign("session", msgspec.to_builtins(claims))

    def claims(self, cookie: str) -> SessionClaims | None:
        """The claims of a session cookie whose signature verifies, or None."""
        payload = self.unsign("session", cookie)
        if payload is None:
            return None
        try:
            return msgspec.convert(payload, SessionClaims)
        except msgspec.ValidationError:
            return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
