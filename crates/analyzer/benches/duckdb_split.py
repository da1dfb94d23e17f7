"""The analyzer's join and split as one DuckDB SQL query, for the benchmark.

Usage: python duckdb_split.py RUN_DIR [subtree|trace]
Prints: RESULT <seconds> <peak RSS MiB> <matched requests> <total cascade ns>

`subtree` (the default) is the analyzer's definition: the DB spans of the
server entry span's subtree (a recursive CTE). `trace` is the simpler
trace-level query: every DB span of the request's trace, clipped to the
server entry span, with the exact interval union — the figure DuckDB is
usually quoted with.
"""

import resource
import sys
import time

import duckdb

STATEMENT = r"(?i)select\s+count\s*\("
SPAN = r"(?i)usage|cascade|in_use|dependen"

# Both queries end alike: the exact interval union of each request's DB
# spans (all, and the cascade ones), then the split's totals.
UNION_AND_SPLIT = """runs AS (
    SELECT req_idx, a, b, cascade,
           max(b) OVER (PARTITION BY req_idx ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m_all,
           max(CASE WHEN cascade THEN b END) OVER (PARTITION BY req_idx, cascade ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m_c
    FROM db
),
unions AS (
    SELECT req_idx,
           sum(greatest(0, b - greatest(a, coalesce(m_all, a)))) AS db_ns,
           sum(CASE WHEN cascade THEN greatest(0, b - greatest(a, coalesce(m_c, a))) ELSE 0 END) AS cascade_ns
    FROM runs GROUP BY req_idx
),
split AS (
    SELECT e.req_idx, e.total, e.s1 - e.s0 AS server, coalesce(u.db_ns, 0) AS db, coalesce(u.cascade_ns, 0) AS cascade
    FROM entry e LEFT JOIN unions u USING (req_idx)
)
SELECT count(*) AS matched, sum(cascade) AS cascade_total,
       sum(greatest(0, total - server)) AS network, sum(server - db) AS handler
FROM split
"""

QUERY = f"""
WITH RECURSIVE req AS (
    SELECT row_number() OVER () AS req_idx, {{ids}}, duration_ns
    FROM read_parquet('{{run}}/requests.parquet')
),
spans AS (
    SELECT DISTINCT ON (trace_id, span_id) trace_id, span_id, parent_span_id, name, kind,
           start_unix_nano AS s, end_unix_nano AS e, db_system, db_statement
    FROM read_parquet('{{run}}/spans/*.parquet')
    WHERE trace_id IN (SELECT trace_id FROM req)
),
entry AS (
    SELECT * FROM (
        SELECT r.req_idx, r.duration_ns AS total, sp.trace_id, sp.span_id AS server_id, sp.s AS s0, sp.e AS s1,
               row_number() OVER (PARTITION BY r.req_idx ORDER BY sp.e - sp.s DESC, sp.s) AS rn
        FROM req r JOIN spans sp ON sp.trace_id = r.trace_id AND sp.parent_span_id = r.span_id AND sp.kind = 'SERVER'
    ) WHERE rn = 1
),
tree AS (
    SELECT e.req_idx, e.trace_id, e.server_id AS span_id, false AS named
    FROM entry e
    UNION ALL
    SELECT t.req_idx, sp.trace_id, sp.span_id, t.named OR regexp_matches(sp.name, '{SPAN}')
    FROM tree t JOIN spans sp ON sp.trace_id = t.trace_id AND sp.parent_span_id = t.span_id
),
db AS (
    SELECT t.req_idx, greatest(sp.s, e.s0) AS a, least(sp.e, e.s1) AS b,
           t.named OR coalesce(regexp_matches(sp.db_statement, '{STATEMENT}'), false) AS cascade
    FROM tree t
    JOIN spans sp ON sp.trace_id = t.trace_id AND sp.span_id = t.span_id
    JOIN entry e ON e.req_idx = t.req_idx
    WHERE sp.db_system IS NOT NULL AND least(sp.e, e.s1) > greatest(sp.s, e.s0)
),
{UNION_AND_SPLIT}
"""


TRACE_QUERY = f"""
WITH req AS (
    SELECT row_number() OVER () AS req_idx, {{ids}}, duration_ns
    FROM read_parquet('{{run}}/requests.parquet')
),
spans AS (
    SELECT trace_id, span_id, parent_span_id, kind,
           start_unix_nano AS s, end_unix_nano AS e, db_system, db_statement
    FROM read_parquet('{{run}}/spans/*.parquet')
    WHERE trace_id IN (SELECT trace_id FROM req)
),
entry AS (
    SELECT * FROM (
        SELECT r.req_idx, r.duration_ns AS total, sp.trace_id, sp.s AS s0, sp.e AS s1,
               row_number() OVER (PARTITION BY r.req_idx ORDER BY sp.e - sp.s DESC, sp.s) AS rn
        FROM req r JOIN spans sp ON sp.trace_id = r.trace_id AND sp.parent_span_id = r.span_id AND sp.kind = 'SERVER'
    ) WHERE rn = 1
),
db AS (
    SELECT e.req_idx, greatest(sp.s, e.s0) AS a, least(sp.e, e.s1) AS b,
           coalesce(regexp_matches(sp.db_statement, '{STATEMENT}'), false) AS cascade
    FROM entry e JOIN spans sp ON sp.trace_id = e.trace_id
    WHERE sp.db_system IS NOT NULL AND least(sp.e, e.s1) > greatest(sp.s, e.s0)
),
{UNION_AND_SPLIT}
"""


def request_ids(con, run):
    """The requests' ids as the span store holds them: bytes (BLOB) in
    stores of this version, hex text in older ones (requests.parquet keeps
    hex text)."""
    (kind,) = con.execute(
        f"SELECT typeof(trace_id) FROM read_parquet('{run}/spans/*.parquet') LIMIT 1"
    ).fetchone()
    if kind == "BLOB":
        return "unhex(trace_id) AS trace_id, unhex(span_id) AS span_id"
    return "trace_id, span_id"


def main():
    run = sys.argv[1]
    query = TRACE_QUERY if sys.argv[2:] == ["trace"] else QUERY
    con = duckdb.connect()
    query = query.replace("{run}", run).replace("{ids}", request_ids(con, run))
    t = time.time()
    matched, cascade, _network, _handler = con.execute(query).fetchone()
    secs = time.time() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT {secs:.3f} {rss:.0f} {matched} {cascade}")


if __name__ == "__main__":
    main()
