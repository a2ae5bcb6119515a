"""The mi server, in rooms: ``core`` (the server, sessions, execution), ``commands`` (one handler
module per command family), ``delivery``, ``upkeep`` (checkpoints, trimming, snapshots),
``policy`` (auth, rate limits, TLS), ``settings``, ``observability`` and ``tools`` (the command
line); ``client`` is the Python client. Wiring of ``protocol`` and ``storage``, not algorithms."""

VERSION = "0.1.0"  # as pyproject.toml says; HELLO, INFO and ``mi --version`` answer it
