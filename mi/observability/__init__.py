"""What the server tells the outside: structured logs, command metrics, the Prometheus endpoint,
and readiness notices to systemd."""
