"""The mi server: configuration, the Trio server and its sessions, shard writers, the reaper,
command execution and the command line. Wiring of ``protocol`` and ``storage``, not algorithms."""
