"""Who may do what, and how often: users and permissions, failed-AUTH throttling, rate limits, TLS."""
