"""Config files shipped with logshroud; `default.yaml` is the embedded default."""
