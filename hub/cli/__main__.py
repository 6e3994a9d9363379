"""`python -m hub.cli`: the same as the `camhub` command."""

from hub.cli import main

raise SystemExit(main())
