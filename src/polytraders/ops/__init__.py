"""Operations: Prometheus metrics, structured logs, health."""
