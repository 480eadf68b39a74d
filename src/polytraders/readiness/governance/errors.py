"""The one refusal type of governance: a registered ``GOV_`` reason code and a one-line message."""

from __future__ import annotations


class GovernanceError(ValueError):
    """A governance document or key was refused.

    Attributes:
        code: the registered reason code (``GOV_...``, ``contracts/reasons.toml``).
        message: one line naming what is wrong (never key material).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SignerKeyError(GovernanceError):
    """A private key file or variable was refused (``GOV_SIGNING_KEY_REFUSED``)."""

    def __init__(self, message: str) -> None:
        super().__init__("GOV_SIGNING_KEY_REFUSED", message)


class EnvelopeError(GovernanceError):
    """An envelope file or payload was refused; ``duplicate_keyid`` is set when the reason is
    two signatures under one key id (callers map it to their document's code)."""

    def __init__(self, message: str, *, duplicate_keyid: str | None = None) -> None:
        super().__init__("GOV_ENVELOPE_MALFORMED", message)
        self.duplicate_keyid = duplicate_keyid


class SignersRefusedError(GovernanceError):
    """A signer list or chain of signer lists was refused (``GOV_SIGNERS_*``)."""


class ManifestRefusedError(GovernanceError):
    """A release manifest was refused (``GOV_MANIFEST_*``)."""


class SignoffRefusedError(GovernanceError):
    """A sign-off or gate waiver was refused (``GOV_SIGNOFF_*``)."""
