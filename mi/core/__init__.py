"""The connection and execution core: the Trio server, one session per connection, the shard
writers' group commit, and what a command runs against (keyspace, units, watches, MONITOR)."""
