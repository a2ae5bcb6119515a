"""Configuration: the server's settings (TOML, environment, flags) and each namespace's own."""
