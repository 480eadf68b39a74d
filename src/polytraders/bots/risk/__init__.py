"""Risk bots: approve, reject, reshape (never riskier) or halt each intent, with registered
reason codes."""
