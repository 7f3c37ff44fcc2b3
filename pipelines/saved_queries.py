"""The saved questions of `logshroud query --saved NAME`: DuckDB SQL over the views of the anonymised zone.

Each is plain SQL an analyst can copy and change (`logshroud query --saved NAME --show-sql`).
They use only the views `requests`, `client_windows` and `alerts`, which exist with every
column on any zone, so each one runs even where a dataset has no rows yet.

`clients` counts distinct `client_token`s: a token is one client within one key epoch, so a
client seen in two epochs counts twice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SavedQuery:
    name: str
    about: str  # one line, for --list-saved
    sql: str


ATTACKS_BY_FAMILY = SavedQuery(
    "attacks-by-family",
    "requests that matched attack rules, per family (sqli, xss, traversal, ...), with how many networks sent them",
    """
SELECT family,
       count(*)                              AS requests,
       count(*) FILTER (WHERE is_error)      AS refused,
       count(DISTINCT client_net)            AS networks,
       count(DISTINCT client_token)          AS clients,
       min(ts)                               AS first_seen,
       max(ts)                               AS last_seen
FROM (SELECT unnest(attack_families) AS family, is_error, client_net, client_token, ts FROM requests)
GROUP BY family
ORDER BY requests DESC, family
""",
)

ERROR_RATE_BY_HOUR = SavedQuery(
    "error-rate-by-hour",
    "requests, client errors (4xx) and server errors (5xx) per UTC hour, with their share in percent",
    """
SELECT date_trunc('hour', ts)                                                  AS hour,
       count(*)                                                                AS requests,
       count(*) FILTER (WHERE is_error AND NOT is_server_error)                AS client_errors,
       count(*) FILTER (WHERE is_server_error)                                 AS server_errors,
       round(100 * count(*) FILTER (WHERE is_error) / count(*), 2)             AS error_pct,
       round(100 * count(*) FILTER (WHERE is_server_error) / count(*), 2)      AS server_error_pct
FROM requests
GROUP BY hour
ORDER BY hour
""",
)

TOP_ERROR_PATHS = SavedQuery(
    "top-error-paths",
    "the 25 paths answered with most errors, the statuses given and how many networks asked",
    """
SELECT path,
       count(*)                                   AS errors,
       count(*) FILTER (WHERE is_server_error)    AS server_errors,
       list(DISTINCT status ORDER BY status)      AS statuses,
       count(DISTINCT client_net)                 AS networks,
       max(ts)                                    AS last_seen
FROM requests
WHERE is_error
GROUP BY path
ORDER BY errors DESC, path
LIMIT 25
""",
)

ALERTS = SavedQuery(
    "alerts",
    "every alert (brute_force, scanning, flood, attack_burst, error_burst) in time order, with its window's counts",
    """
SELECT window_start, window_seconds, alert, client_net, client_token, key_id,
       requests, client_errors, server_errors, not_found, auth_failures, distinct_paths, attack_hits
FROM alerts
ORDER BY window_start, alert, client_net NULLS FIRST, client_token
""",
)

ABUSIVE_NETWORKS = SavedQuery(
    "abusive-networks",
    "the 25 networks with most alerts and attack requests, with their traffic and error share",
    """
WITH flagged AS (
    SELECT client_net, count(*) AS alerts, list(DISTINCT alert ORDER BY alert) AS alert_kinds
    FROM alerts
    WHERE client_net IS NOT NULL
    GROUP BY client_net
), traffic AS (
    SELECT client_net,
           count(*)                                               AS requests,
           count(*) FILTER (WHERE len(attack_families) > 0)       AS attack_requests,
           count(*) FILTER (WHERE is_error)                       AS errors,
           count(DISTINCT client_token)                           AS clients
    FROM requests
    WHERE client_net IS NOT NULL
    GROUP BY client_net
)
SELECT client_net,
       coalesce(flagged.alerts, 0)                                AS alerts,
       flagged.alert_kinds,
       coalesce(traffic.attack_requests, 0)                       AS attack_requests,
       coalesce(traffic.requests, 0)                              AS requests,
       round(100 * traffic.errors / traffic.requests, 1)          AS error_pct,
       traffic.clients
FROM traffic FULL JOIN flagged USING (client_net)
WHERE flagged.alerts > 0 OR traffic.attack_requests > 0
ORDER BY alerts DESC, attack_requests DESC, client_net
LIMIT 25
""",
)

SAVED = {query.name: query for query in (ATTACKS_BY_FAMILY, ERROR_RATE_BY_HOUR, TOP_ERROR_PATHS, ALERTS,
                                         ABUSIVE_NETWORKS)}  # fmt: skip
