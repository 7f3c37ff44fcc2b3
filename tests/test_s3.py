"""Every zone and every input on S3: the real pipeline against a real S3 endpoint over HTTP (moto's server)."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from pyarrow import fs

from pipelines import ingest
from tests.conftest import S3_CREDENTIALS, Workspace, clf_line, moto_server, s3_client
from tests.test_ingest import full_addresses, strings_of
from transforms import storage
from transforms.addresses import parse_address
from transforms.read import Range, count_lines, first_lines, plan_ranges, read_chunks

AS_OF = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
LOGSHROUD = [sys.executable, "-m", "pipelines.cli"]


def s3_workspace(tmp_path: Path, endpoint: str, bucket: str, prefix: str = "zones") -> Workspace:
    zones = {z: f"s3://{bucket}/{prefix}/{z}" for z in ("raw", "restricted", "anonymised", "audit")}
    return Workspace(tmp_path, zones=zones, storage={"s3": {"endpoint_url": endpoint}})


def s3_filesystem(endpoint: str) -> fs.S3FileSystem:
    return fs.S3FileSystem(
        access_key=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"], secret_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        endpoint_override=endpoint, scheme="http", region="us-east-1",
    )  # fmt: skip


def read_zone(endpoint: str, uri: str) -> pa.Table:
    """A dataset read straight from S3 with pyarrow, queried with DuckDB, as an analyst would."""
    dataset = pq.ParquetDataset(uri.removeprefix("s3://"), filesystem=s3_filesystem(endpoint), partitioning="hive")
    requests = dataset.read()  # noqa: F841 - DuckDB reads the Arrow table by its name
    return duckdb.sql("SELECT * FROM requests").to_arrow_table()


def objects(s3, bucket: str, prefix: str = "") -> dict[str, int]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def upload(s3, bucket: str, key: str, data: bytes) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}"


@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["plain", "gzip"])
def test_shared_sample_on_s3_end_to_end(tmp_path: Path, s3_endpoint: str, s3, sample_log: Path, suffix: str) -> None:
    raw, zones = s3.new_bucket(), s3.new_bucket()
    data = sample_log.read_bytes()
    source = upload(s3, raw, f"logs/access.log{suffix}", gzip.compress(data) if suffix else data)
    ws = s3_workspace(tmp_path, s3_endpoint, zones)
    done = subprocess.run(
        [*LOGSHROUD, "ingest", "--config", str(ws.config_path), "--input", source, "--as-of", "2015-05-21T00:00:00Z"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    anonymised = read_zone(s3_endpoint, f"s3://{zones}/zones/anonymised/requests")
    assert anonymised.num_rows == 10_000
    restricted = read_zone(s3_endpoint, f"s3://{zones}/zones/restricted/requests")
    clients = {parse_address(c)[1] for c in restricted["client_ip"].to_pylist()}
    assert len(clients) > 1000

    outside = [k for k in objects(s3, zones) if not k.startswith("zones/restricted/")]
    assert any(k.startswith("zones/audit/manifests/") for k in outside)
    for key in outside:
        body = s3.get_object(Bucket=zones, Key=key)["Body"].read()
        text = strings_of(pq.read_table(pa.BufferReader(body))) if key.endswith(".parquet") else body.decode()
        assert not (full_addresses(text) & clients), f"a client address reached s3://{zones}/{key}"
    assert not (full_addresses(done.stdout + done.stderr) & clients)
    assert S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in done.stdout + done.stderr


def test_rerun_on_s3_leaves_the_same_objects_and_rows(tmp_path: Path, s3_endpoint: str, s3) -> None:
    raw, zones = s3.new_bucket(), s3.new_bucket()
    lines = [clf_line(f"192.0.2.{i % 250}", dt.datetime(2026, 11, 24, i % 24, i % 60)) for i in range(3000)]
    source = upload(s3, raw, "logs/a.log", ("\n".join(lines + ["junk"]) + "\n").encode())
    ws = s3_workspace(tmp_path, s3_endpoint, zones)
    first = ingest.run(ws.config, [source], AS_OF)
    data_objects = {k: v for k, v in objects(s3, zones).items() if "/manifests/" not in k}
    second = ingest.run(ws.config, [source], AS_OF)
    assert {k: v for k, v in objects(s3, zones).items() if "/manifests/" not in k} == data_objects
    assert not [k for k in objects(s3, zones) if "_staging" in k]
    assert read_zone(s3_endpoint, f"s3://{zones}/zones/anonymised/requests").num_rows == 3000
    assert first["totals"]["quarantined"] == second["totals"]["quarantined"] == 1
    # The manifest names exactly the run's objects, with their sizes.
    assert {o["path"]: o["bytes"] for o in second["outputs"]} == {
        f"s3://{zones}/{k}": v for k, v in data_objects.items()
    }


def test_no_quarantined_line_means_no_quarantine_object(tmp_path: Path, s3_endpoint: str, s3) -> None:
    raw, zones = s3.new_bucket(), s3.new_bucket()
    source = upload(s3, raw, "a.log", (clf_line() + "\n").encode())
    manifest = ingest.run(s3_workspace(tmp_path, s3_endpoint, zones).config, [source], AS_OF)
    assert manifest["totals"] == {**manifest["totals"], "rows": 1, "quarantined": 0, "balanced": True}
    assert not [k for k in objects(s3, zones) if "/quarantine/" in k]


def test_compressed_inputs_and_globs_on_s3(tmp_path: Path, s3_endpoint: str, s3) -> None:
    raw, zones = s3.new_bucket(), s3.new_bucket()
    text = ("\n".join(clf_line(f"198.51.100.{i}") for i in range(1, 51)) + "\n").encode()
    for key, data in [("d/a.log", text), ("d/b.log.gz", gzip.compress(text)), ("d/c.log.bz2", bz2.compress(text)),
                      ("d/e.log.zst", zstandard.ZstdCompressor().compress(text)), ("d/sub/f.log", text)]:  # fmt: skip
        upload(s3, raw, key, data)
    manifest = ingest.run(s3_workspace(tmp_path, s3_endpoint, zones).config, [f"s3://{raw}/d/*.log*"], AS_OF)
    assert [Path(i["path"]).name for i in manifest["inputs"]] == ["a.log", "b.log.gz", "c.log.bz2", "e.log.zst"]
    assert [i["rows"] for i in manifest["inputs"]] == [50, 50, 50, 50]


def test_listing_pages_past_a_thousand_objects(s3_endpoint: str, s3) -> None:
    bucket = s3.new_bucket()
    for i in range(1050):
        s3.put_object(Bucket=bucket, Key=f"many/{i:04d}.log", Body=b"x\n")
    storage.configure(storage.S3Settings(endpoint_url=s3_endpoint))
    assert len(storage.match(f"s3://{bucket}/many/*.log")) == 1050
    assert len(storage.list_tree(f"s3://{bucket}/many")) == 1050


def test_ranges_of_an_s3_object_read_every_line_once(s3_endpoint: str, s3) -> None:
    bucket = s3.new_bucket()
    data = b"".join(b"line %d %s\n" % (i, b"x" * (i % 37)) for i in range(5000))
    path = upload(s3, bucket, "big.log", data)
    storage.configure(storage.S3Settings(endpoint_url=s3_endpoint))
    ranges = plan_ranges(storage.match(path), range_bytes=10_000)
    assert len(ranges) > 10
    numbers = first_lines({(r.path, r.index): count_lines(r) for r in ranges})
    got = [
        (chunk.first_line + i, text.rstrip("\n"))
        for rng in ranges
        for chunk in read_chunks(path, 100, rng, numbers[(rng.path, rng.index)])
        for i, text in enumerate(chunk.lines.to_pylist())
    ]
    assert got == list(enumerate(data.decode().splitlines(), start=1))
    assert ranges[0] == Range(path, 0, 0, len(data) // len(ranges))


def run_cli(tmp_path: Path, config: Path, source: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LOGSHROUD, "ingest", "--config", str(config), "--input", source, "--as-of", "2026-11-25T00:00:00Z"],
        capture_output=True, text=True, cwd=tmp_path, env=env or dict(os.environ), timeout=120,
    )  # fmt: skip


def test_s3_errors_are_one_line_with_what_and_where(tmp_path: Path, s3_endpoint: str, s3) -> None:
    raw, zones = s3.new_bucket(), s3.new_bucket()
    source = upload(s3, raw, "a.log", (clf_line() + "\n").encode())
    good = s3_workspace(tmp_path, s3_endpoint, zones)

    missing_bucket = s3_workspace(tmp_path / "missing", s3_endpoint, "no-such-bucket-here")
    dead = Workspace(tmp_path / "dead", zones={z: f"s3://{zones}/{z}" for z in ("raw", "restricted", "anonymised", "audit")},
                     storage={"s3": {"endpoint_url": "http://127.0.0.1:9", "max_attempts": 2, "connect_timeout": 1}})  # fmt: skip
    no_credentials = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    no_credentials.update(
        AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true"
    )
    cases = [
        (missing_bucket.config_path, source, None, "bucket no-such-bucket-here does not exist"),
        (dead.config_path, source, None, "S3 endpoint http://127.0.0.1:9 unreachable (gave up after 2 attempts)"),
        (good.config_path, source, no_credentials, "no S3 credentials found"),
        (good.config_path, f"s3://{raw}/nothing-*.log", None, "matches no file"),
        (good.config_path, "s3://no-such-input-bucket/a.log", None, "bucket no-such-input-bucket does not exist"),
    ]  # fmt: skip
    for config, input_uri, env, message in cases:
        done = run_cli(tmp_path, config, input_uri, env)
        assert done.returncode == 2, (message, done.stderr)
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in done.stderr
        assert S3_CREDENTIALS["AWS_ACCESS_KEY_ID"] not in done.stderr


def test_access_denied_is_one_line(tmp_path: Path) -> None:
    """Against a server that enforces IAM: a user without S3 rights is refused, and told so."""
    setup_credentials = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="4") as endpoint:
        import boto3

        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **setup_credentials)
        s3_client(endpoint, **setup_credentials).create_bucket(Bucket="locked")  # 1
        iam.create_user(UserName="analyst")  # 2
        key = iam.create_access_key(UserName="analyst")["AccessKey"]  # 3
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="analyst", PolicyName="none", PolicyDocument=json.dumps(policy))  # 4
        ws = s3_workspace(tmp_path, endpoint, "locked")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        done = run_cli(tmp_path, ws.config_path, "s3://locked/a.log", env)
    assert done.returncode == 2, done.stderr
    assert "access denied" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert key["SecretAccessKey"] not in done.stderr and key["AccessKeyId"] not in done.stderr


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
def test_endpoint_from_the_standard_environment_variables(tmp_path: Path, s3_endpoint: str, s3, variable: str) -> None:
    raw, zones = s3.new_bucket(), s3.new_bucket()
    source = upload(s3, raw, "a.log", (clf_line() + "\n").encode())
    ws = Workspace(tmp_path, zones={z: f"s3://{zones}/{z}" for z in ("raw", "restricted", "anonymised", "audit")})
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    done = run_cli(tmp_path, ws.config_path, source, {**env, variable: s3_endpoint})
    assert done.returncode == 0, done.stderr
    assert any(k.startswith("anonymised/requests/") for k in objects(s3, zones))
