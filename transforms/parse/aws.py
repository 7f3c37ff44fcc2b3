"""AWS load balancers' access logs: Application Load Balancer (`aws_alb`) and Classic Load Balancer (`aws_elb_classic`).

    h2 2026-11-24T10:00:00.186641Z app/web/50dc6c495c0c9188 2001:db8::7:51234 10.0.0.1:80 0.000 0.012 0.001
      200 200 34 366 "GET https://app.example.com:443/a?b=1 HTTP/2.0" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256
      TLSv1.2 arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/web/73e2d6bc24d8a067
      "Root=1-58337262-36d228ad5d99923122bbe354" "app.example.com" "arn:aws:acm:..." 0 ...

(one line, folded here) becomes client `2001:db8::7` (the port dropped), ts
`2026-11-24 10:00:00.186Z`, method `GET`, target `https://app.example.com:443/a?b=1`,
path `/a`, query `b=1`, vhost `app.example.com`, server_port 443, status 200,
upstream_status 200 (the target's), bytes 366, request_bytes 34, duration_ms 13
(the three processing times), upstream_ms 12, tls_cipher and tls_protocol.

The field lists are AWS's documented ones. An ALB line must carry them up to
`trace_id`; what follows (`domain_name`, `chosen_cert_arn`, ... and whatever AWS
adds at the end) is not read. A time of `-1` (the load balancer could
not reach a target) is no duration, a status `-` (no response) is null. AWS writes
a `"` inside a quoted field as `\\x22`.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from transforms.parse.common import split_url
from transforms.parse.delimited import Field, Layout

_ISO_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z"
_SECONDS = r"-1|[0-9]+(?:\.[0-9]+)?"
_STATUS = r"[0-9]{3}|-"
_COUNT = r"[0-9]+|-"


def _finish(fields: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Total duration from the three processing times; path, query, host and port from the absolute target."""
    total = pc.add(pc.add(fields.pop("_request_ms"), fields["upstream_ms"]), fields.pop("_response_ms"))
    url = split_url(fields["target"])
    return fields | {
        "duration_ms": total,  # null unless all three were measured
        "path": url["path"],
        "query": url["query"],
        "vhost": url["vhost"],
        "server_port": url["server_port"],
    }


_TIMES = (
    Field("_request_ms", "duration_s", _SECONDS),  # request_processing_time
    Field("upstream_ms", "duration_s", _SECONDS),  # target_processing_time
    Field("_response_ms", "duration_s", _SECONDS),  # response_processing_time
)
_REQUEST = (
    Field("request", "text", quoted=True),  # text: `\x22` and the like decoded
    Field("user_agent", "text", quoted=True),
    Field("tls_cipher", "plain"),
    Field("tls_protocol", "plain"),
)

ALB = Layout(
    "aws_alb",
    (
        Field(None),  # type: http, https, h2, grpcs, ws, wss
        Field("ts", "iso_time", _ISO_TIME, strict=True),
        Field(None),  # elb
        Field("client", "address_port"),  # client:port
        Field(None),  # target:port, or -
        *_TIMES,
        Field("status", "int", _STATUS),  # elb_status_code
        Field("upstream_status", "int", _STATUS),  # target_status_code
        Field("request_bytes", "int", _COUNT),  # received_bytes
        Field("bytes", "int", _COUNT),  # sent_bytes
        *_REQUEST,
        Field(None),  # target_group_arn
        Field(None, quoted=True),  # trace_id
    ),
    more=True,
    escapes=True,
    finish=_finish,
)

ELB_CLASSIC = Layout(
    "aws_elb_classic",
    (
        Field("ts", "iso_time", _ISO_TIME, strict=True),
        Field(None),  # elb
        Field("client", "address_port"),  # client:port
        Field(None),  # backend:port, or -
        *_TIMES,
        Field("status", "int", _STATUS),  # elb_status_code (- for TCP listeners)
        Field("upstream_status", "int", _STATUS),  # backend_status_code
        Field("request_bytes", "int", _COUNT),  # received_bytes
        Field("bytes", "int", _COUNT),  # sent_bytes
        *_REQUEST,  # "- - - " and "-" for TCP listeners
    ),
    more=True,
    escapes=True,
    finish=_finish,
)

LAYOUTS = {layout.name: layout for layout in (ALB, ELB_CLASSIC)}
