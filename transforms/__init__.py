"""The PTransforms and pure Arrow functions that logshroud's jobs are built from."""
