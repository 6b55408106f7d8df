"""The `vla` command line; one module per subcommand, listed in vla/cli/main.py."""
