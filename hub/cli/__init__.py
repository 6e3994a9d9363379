"""The `camhub` command line, one module per command group."""
