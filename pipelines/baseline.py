"""The element-wise baseline for the benchmark: the ingest job written one line per Beam element.

    python -m pipelines.baseline access.log out-folder

ReadFromText, then a Python regex, `ipaddress` truncation and an HMAC token per
line, then WriteToParquet: the textbook shape of a Beam pipeline, and what
logshroud's Arrow-table design is measured against. It does less than ingest (no
scrubbing, no restricted zone, no quarantine, no manifest), which only flatters it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import sys

import apache_beam as beam
import pyarrow as pa
from apache_beam.coders import BytesCoder
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.runner import sample_states_often

_LINE = re.compile(
    r'^(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"?$'
)
_KEY = b"\x00" * 32  # a fixed key: the baseline measures work, it protects nothing
SCHEMA = pa.schema(
    [("ts", pa.timestamp("ms", tz="UTC")), ("method", pa.string()), ("target", pa.string()),
     ("status", pa.int16()), ("bytes", pa.int64()), ("referrer", pa.string()), ("user_agent", pa.string()),
     ("client_net", pa.string()), ("client_token", pa.string())]
)  # fmt: skip


def parse(raw: bytes) -> dict | None:
    match = _LINE.match(raw.decode("utf-8", "replace").rstrip("\r"))
    if match is None:
        return None
    client, _, when, request, status, size, referrer, agent = match.groups()
    words = request.split(" ")
    try:
        ts = dt.datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z")
        network = ipaddress.ip_network(f"{client}/{24 if ':' not in client else 48}", strict=False)
    except ValueError:
        return None
    return {
        "ts": ts, "method": words[0], "target": words[1] if len(words) > 1 else None, "status": int(status),
        "bytes": 0 if size == "-" else int(size), "referrer": referrer, "user_agent": agent,
        "client_net": str(network), "client_token": hmac.new(_KEY, client.encode(), hashlib.sha256).hexdigest()[:32],
    }  # fmt: skip


def main(argv: list[str]) -> int:
    source, out = argv[:2]
    options = PipelineOptions(["--runner=FnApiRunner"])
    sample_states_often()  # as ingest runs: the comparison is of the pipelines, not of their runner's set-up
    with beam.Pipeline(options=options) as pipeline:
        (
            pipeline
            | "Read" >> beam.io.ReadFromText(source, coder=BytesCoder())
            | "Parse" >> beam.Map(parse)
            | "Parsed" >> beam.Filter(lambda row: row is not None)
            | "Write" >> beam.io.WriteToParquet(f"{out}/requests", SCHEMA, codec="zstd", file_name_suffix=".parquet")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
