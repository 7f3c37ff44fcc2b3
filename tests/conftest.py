"""Shared fixtures: a workspace with its own zones and keyring, and log lines from documentation ranges."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
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


def parsed_row(spec: str | dict, line: str) -> dict:
    """The fields of one line parsed with a format as the config names it; fails if it is quarantined."""
    from transforms.config import log_format
    from transforms.parse import parse_lines

    parsed = parse_lines(pa.array([line]), log_format(spec), 65536)
    assert len(parsed.rows) == 1, f"quarantined: {parsed.reasons.to_pylist()}"
    return {name: column[0].as_py() for name, column in parsed.fields.items()}


class Workspace:
    """A folder with zones, keyring and config of its own, as a new user would have."""

    def __init__(self, root: Path, **overrides):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
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


# --- a real S3 endpoint: moto's server as a separate process on 127.0.0.1 ---------------------------------

S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "logshroud-test-key-id", "AWS_SECRET_ACCESS_KEY": "logshroud-test-secret-9f3c"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def moto_server(**environment: str):
    """A moto S3 server on a free local port, up until the block ends; yields its endpoint URL."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **environment},
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # a TCP connect, not a request: an auth-enforcing server counts requests
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_endpoint():
    """The endpoint URL of a real S3 server, with test credentials in the environment of the tests."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**S3_CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"}.items():
            patch.setenv(name, value)
        with moto_server() as url:
            yield url


def s3_client(endpoint: str, **credentials: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)


@pytest.fixture
def s3(s3_endpoint: str):
    """A boto3 client for setting up and inspecting the test endpoint, and fresh bucket names per test."""
    client = s3_client(s3_endpoint)
    names = iter(f"t{uuid.uuid4().hex[:12]}-{kind}" for kind in ("raw", "zones", "other") for _ in range(10))

    def bucket() -> str:
        name = next(names)
        client.create_bucket(Bucket=name)
        return name

    client.new_bucket = bucket
    return client
