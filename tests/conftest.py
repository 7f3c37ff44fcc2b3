"""Shared fixtures: a workspace with its own zones and keyring, and log lines from documentation ranges."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import yaml

from transforms.config import Config, load_config

# The shared test data sits beside the repository (../shared/data) and is read in place.
SHARED = Path(os.environ.get("LOGSHROUD_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SAMPLE_LOG = SHARED / "samples" / "elastic_apache_logs.log"


@pytest.fixture(scope="session")
def sample_log() -> Path:
    assert SAMPLE_LOG.is_file(), f"the shared sample log is missing: {SAMPLE_LOG} (set LOGSHROUD_SHARED_DATA)"
    return SAMPLE_LOG


def clf_line(client: str = "192.0.2.10", when: dt.datetime = dt.datetime(2026, 11, 24, 10, 0, 0),
             target: str = "/index.html", status: int = 200, agent: str = "Mozilla/5.0", user: str = "-",
             referrer: str = "-") -> str:  # fmt: skip
    """One combined-format line, as Apache writes it."""
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{client} - {user} [{stamp}] "GET {target} HTTP/1.1" {status} 512 "{referrer}" "{agent}"'


class Workspace:
    """A folder with zones, keyring and config of its own, as a new user would have."""

    def __init__(self, root: Path, **overrides):
        self.root = root
        document = {
            "zones": {z: str(root / "data" / z) for z in ("raw", "restricted", "anonymised", "audit")},
            "keys": {"path": str(root / "keys" / "keyring.json")},
        }
        for key, value in overrides.items():
            section, _, name = key.partition("__")
            if name:
                document.setdefault(section, {})[name] = value
            else:
                document[section] = value
        self.config_path = root / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(document))
        (root / "logs").mkdir(exist_ok=True)

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def zone(self, name: str) -> Path:
        return self.root / "data" / name

    def log(self, name: str, lines: list[str] | bytes) -> Path:
        path = self.root / "logs" / name
        path.write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
        return path


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture
def make_workspace(tmp_path: Path):
    def make(**overrides) -> Workspace:
        return Workspace(tmp_path, **overrides)

    return make
