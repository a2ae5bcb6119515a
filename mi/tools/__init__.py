"""The operator's command line: ``mi`` and its subcommands (cli, top, snapshot, restore, verify,
journal, passwd), and the small blocking client they talk to the server with."""
