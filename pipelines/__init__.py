"""The jobs a logshroud user runs, and the `logshroud` command line."""
