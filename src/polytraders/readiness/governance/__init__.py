"""Governance, offline: Ed25519 signer keys, the signed signer list (TUF's rotation rules),
in-toto Statements in DSSE envelopes, evidence bundles, signed release manifests and sign-offs
(issue 16; ``shared/research/governance.md`` section 2). Pure library: no store, no network;
verification takes the time as an argument (``now_ns``)."""
