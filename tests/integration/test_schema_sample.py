# SPDX-License-Identifier: MIT
"""GET /schema and GET /sample against a real pgseedd and Postgres: the
catalog as JSON, typed rows, every parameter, and proof that nothing from a
request ever reaches SQL."""

import datetime
import json
import os
import signal
import threading
import time
import urllib.parse
from decimal import Decimal

import pytest

from conftest import SOURCE_ROOT

SQL_DIR = os.path.join(SOURCE_ROOT, "sql")


def schema_files():
    """sql/*.sql in the order pgseedd applies them, without 90-grants.sql (roles are not what these tests are
    about): tables, trigger, indexes, keys."""
    return sorted(f for f in os.listdir(SQL_DIR) if f.endswith(".sql") and f[:2].isdigit() and int(f[:2]) < 90)


ELLIPSIS = "\u2026"

LONG_TEXT = ("é" * 50 + "x" * 50) * 1000  # 100,000 characters, 150,000 bytes

# Rows with awkward values, added whether or not the seeder loaded the dataset
# (their ids sort after every seeded one, so ?order=comment_id.desc finds them).
NASTY_COMMENTS = [
    ("zz-1-quotes", "It's \"quoted\", 'twice' \\ with a backslash; DROP TABLE users; --", 7, 1),
    ("zz-2-newlines", "line one\nline two\r\nline\tthree\u0001", 0, 0),
    ("zz-3-emoji", "👍🏽 héllo 👨‍👩‍👧 — ünïcödé ∑ 中文", 42, 3),
    ("zz-4-nulls", "", None, None),
    ("zz-5-long", LONG_TEXT, 1, 0),
    ("zz-6-injection", "'); DROP TABLE comments; SELECT pg_sleep(5); --", -1, 0),
]


def sql_file(name):
    with open(os.path.join(SQL_DIR, name)) as f:
        return f.read()


def execute(d, statements):
    conn = d.connect()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for stmt, params in statements:
                cur.execute(stmt, params)
    finally:
        conn.close()


@pytest.fixture
def db(ready):
    """A healthy daemon whose database has the three tables (the seeded ones,
    or created here from sql/ while the seeder has not loaded them), a few
    nasty rows, a second schema `analytics` with other types, and a canary."""
    if not ready.sql("SELECT to_regclass('public.comments') IS NOT NULL")[0][0]:
        execute(ready, [(sql_file(f), None) for f in schema_files()])
    stmts = [
        ("INSERT INTO videos (video_id, title, category) VALUES (%s, %s, NULL)",
         ("zz-video", "Title with \"quotes\", 'apostrophes'\nand a newline")),
        ("INSERT INTO users (channel_id, channel_name) VALUES (%s, %s)",
         ("zz-channel", "Robert'); DROP TABLE users;--")),
    ]
    for i, (cid, text, likes, replies) in enumerate(NASTY_COMMENTS):
        stmts.append((
            "INSERT INTO comments (comment_id, video_id, channel_id, comment_text, likes, replies, published_at,"
            " sentiment_label, country_code) VALUES (%s, 'zz-video', 'zz-channel', %s, %s, %s, %s, %s, %s)",
            (cid, text, likes, replies,
             None if likes is None else datetime.datetime(2024, 2, 29, 23, 59, 58, 123456) + datetime.timedelta(days=i),
             None if likes is None else "Neutral", None if likes is None else "NZ")))
    stmts += [
        ("CREATE SCHEMA analytics", None),
        ("""CREATE TABLE analytics.events (
                id int8 PRIMARY KEY,
                flag boolean,
                amount numeric(12,2),
                exact numeric,
                ratio float8,
                payload jsonb,
                happened_at timestamptz,
                big int8,
                tags text[],
                note text)""", None),
        ("""INSERT INTO analytics.events VALUES
                (1, true, 19.99, 123456789012345678901234567890.5, 0.30000000000000004,
                 '{"a": [1, 2.5, {"b": "x\\"y"}], "n": null, "t": true}', '2024-01-02 03:04:05.5+02',
                 9007199254740993, ARRAY['a', 'b"c', NULL], 'héllo wörld'),
                (2, false, -0.5, 'NaN', 1e300, '"just a string"', '1999-12-31 23:59:59+00', -9223372036854775808,
                 '{}', NULL),
                (3, NULL, NULL, 42, NULL, 'null', NULL, NULL, NULL, repeat('é', 30))""", None),
        ("CREATE TABLE analytics.empty_schema_marker ()", None),
        ("CREATE SCHEMA zz_empty", None),
        ("CREATE TABLE canary (id int PRIMARY KEY, note text)", None),
        ("INSERT INTO canary VALUES (1, 'still here')", None),
    ]
    execute(ready, stmts)
    return ready


def get(d, path, **params):
    """GET path with params encoded properly; returns (status, parsed JSON or None, response)."""
    url = path + ("?" + urllib.parse.urlencode(params) if params else "")
    r = d.get(url)
    try:
        body = r.json() if r.body else None
    except ValueError:
        body = None
    return r.status, body, r


def user_tables(d):
    return d.sql("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'"
                 " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"")


def snapshot(d):
    """Every user table with its exact row count, and the canary's row."""
    counts = {}
    for schema, name in user_tables(d):
        counts[(schema, name)] = d.sql('SELECT count(*) FROM "%s"."%s"' % (schema, name))[0][0]
    return counts, d.sql("SELECT id, note FROM canary")


# ---- /schema ---------------------------------------------------------------


def test_schema_lists_every_user_schema_sorted(db):
    status, body, r = get(db, "/schema")
    assert status == 200, r.body
    assert r.headers["Content-Type"].startswith("application/json")
    assert set(body) == {"database", "schemas"}
    assert body["database"] == "app"
    names = [s["name"] for s in body["schemas"]]
    assert names == sorted(names)
    assert {"public", "analytics", "zz_empty"} <= set(names)
    assert not any(n.startswith("pg_") or n == "information_schema" for n in names)
    schemas = {s["name"]: s for s in body["schemas"]}
    assert schemas["zz_empty"]["tables"] == []
    listed = []
    for s in body["schemas"]:
        tables = [t["name"] for t in s["tables"]]
        assert tables == sorted(tables)
        for t in s["tables"]:
            assert t["schema"] == s["name"]
            assert set(t) == {"schema", "name", "rows", "columns", "primary_key", "foreign_keys", "indexes",
                              "triggers"}
            listed.append((t["schema"], t["name"]))
    assert listed == [tuple(x) for x in user_tables(db)]
    assert [t["name"] for t in schemas["public"]["tables"]] == ["canary", "comments", "users", "videos"]


def ts_col(name, position):
    return {"name": name, "type": "timestamp without time zone", "nullable": True, "default": "CURRENT_TIMESTAMP",
            "position": position}


def col(name, type_, nullable, position, default=None):
    return {"name": name, "type": type_, "nullable": nullable, "default": default, "position": position}


def index(name, columns, definition, unique=False, primary=False):
    return {"name": name, "columns": columns, "unique": unique, "primary": primary, "definition": definition}


def trigger(table):
    return {"name": "%s_set_updated_at" % table, "timing": "BEFORE", "events": ["UPDATE"], "level": "ROW",
            "function": "set_updated_at",
            "definition": "CREATE TRIGGER %s_set_updated_at BEFORE UPDATE ON public.%s FOR EACH ROW EXECUTE "
                          "FUNCTION set_updated_at()" % (table, table)}


VC255 = "character varying(255)"

EXPECTED = {
    "videos": {
        "columns": [col("video_id", VC255, False, 1), col("title", "text", False, 2),
                    col("category", "character varying(100)", True, 3), ts_col("created_at", 4),
                    ts_col("updated_at", 5)],
        "primary_key": {"name": "videos_pkey", "columns": ["video_id"]},
        "foreign_keys": [],
        "indexes": [
            index("idx_videos_category", ["category"],
                  "CREATE INDEX idx_videos_category ON public.videos USING btree (category)"),
            index("videos_pkey", ["video_id"], "CREATE UNIQUE INDEX videos_pkey ON public.videos USING btree (video_id)",
                  unique=True, primary=True),
        ],
        "triggers": [trigger("videos")],
    },
    "users": {
        "columns": [col("channel_id", VC255, False, 1), col("channel_name", VC255, False, 2),
                    ts_col("created_at", 3), ts_col("updated_at", 4)],
        "primary_key": {"name": "users_pkey", "columns": ["channel_id"]},
        "foreign_keys": [],
        "indexes": [
            index("users_pkey", ["channel_id"], "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (channel_id)",
                  unique=True, primary=True),
        ],
        "triggers": [trigger("users")],
    },
    "comments": {
        "columns": [col("comment_id", VC255, False, 1), col("video_id", VC255, False, 2),
                    col("channel_id", VC255, False, 3), col("comment_text", "text", False, 4),
                    col("likes", "integer", True, 5, "0"), col("replies", "integer", True, 6, "0"),
                    col("published_at", "timestamp without time zone", True, 7),
                    col("sentiment_label", "character varying(50)", True, 8),
                    col("country_code", "character varying(10)", True, 9),
                    ts_col("created_at", 10), ts_col("updated_at", 11)],
        "primary_key": {"name": "comments_pkey", "columns": ["comment_id"]},
        "foreign_keys": [
            {"name": "comments_channel_id_fkey", "columns": ["channel_id"],
             "references": {"schema": "public", "table": "users", "columns": ["channel_id"]},
             "on_delete": "CASCADE", "on_update": "NO ACTION"},
            {"name": "comments_video_id_fkey", "columns": ["video_id"],
             "references": {"schema": "public", "table": "videos", "columns": ["video_id"]},
             "on_delete": "CASCADE", "on_update": "NO ACTION"},
        ],
        "indexes": [
            index("comments_pkey", ["comment_id"],
                  "CREATE UNIQUE INDEX comments_pkey ON public.comments USING btree (comment_id)",
                  unique=True, primary=True),
            index("idx_comments_channel_id", ["channel_id"],
                  "CREATE INDEX idx_comments_channel_id ON public.comments USING btree (channel_id)"),
            index("idx_comments_country", ["country_code"],
                  "CREATE INDEX idx_comments_country ON public.comments USING btree (country_code)"),
            index("idx_comments_published_at", ["published_at"],
                  "CREATE INDEX idx_comments_published_at ON public.comments USING btree (published_at)"),
            index("idx_comments_sentiment", ["sentiment_label"],
                  "CREATE INDEX idx_comments_sentiment ON public.comments USING btree (sentiment_label)"),
            index("idx_comments_video_id", ["video_id"],
                  "CREATE INDEX idx_comments_video_id ON public.comments USING btree (video_id)"),
            index("idx_comments_video_published", ["video_id", "published_at"],
                  "CREATE INDEX idx_comments_video_published ON public.comments USING btree "
                  "(video_id, published_at DESC)"),
        ],
        "triggers": [trigger("comments")],
    },
}


def test_schema_three_tables_exactly(db):
    status, body, r = get(db, "/schema")
    assert status == 200, r.body
    public = {t["name"]: t for s in body["schemas"] if s["name"] == "public" for t in s["tables"]}
    for name, want in EXPECTED.items():
        got = dict(public[name])
        assert got.pop("schema") == "public"
        assert got.pop("name") == name
        got.pop("rows")
        assert got == want, name
    # Eight secondary and primary indexes on comments and videos, ten in all with users_pkey.
    assert sum(len(public[n]["indexes"]) for n in EXPECTED) == 10


def test_schema_row_counts_are_exact(db):
    status, body, r = get(db, "/schema")
    assert status == 200, r.body
    counts, _ = snapshot(db)
    got = {(t["schema"], t["name"]): t["rows"] for s in body["schemas"] for t in s["tables"]}
    assert got == counts
    assert got[("public", "comments")] >= len(NASTY_COMMENTS)
    assert got[("analytics", "events")] == 3
    assert got[("public", "canary")] == 1


def test_schema_other_types_and_no_keys(db):
    status, body, r = get(db, "/schema", table="analytics.events")
    assert status == 200, r.body
    t = body["table"]
    types = {c["name"]: c["type"] for c in t["columns"]}
    assert types == {"id": "bigint", "flag": "boolean", "amount": "numeric(12,2)", "exact": "numeric",
                     "ratio": "double precision", "payload": "jsonb", "happened_at": "timestamp with time zone",
                     "big": "bigint", "tags": "text[]", "note": "text"}
    assert [c["position"] for c in t["columns"]] == list(range(1, 11))
    assert t["primary_key"] == {"name": "events_pkey", "columns": ["id"]}
    assert t["foreign_keys"] == [] and t["triggers"] == []
    status, body, r = get(db, "/schema", table="analytics.empty_schema_marker")
    assert status == 200, r.body
    assert body["table"]["columns"] == [] and body["table"]["primary_key"] is None
    assert body["table"]["indexes"] == [] and body["table"]["rows"] == 0


def test_schema_single_table_matches_listing(db):
    _, full, _ = get(db, "/schema")
    listed = {(t["schema"], t["name"]): t for s in full["schemas"] for t in s["tables"]}
    for ref, key in (("videos", ("public", "videos")), ("public.comments", ("public", "comments")),
                     ("events", ("analytics", "events")), ("analytics.events", ("analytics", "events"))):
        status, body, r = get(db, "/schema", table=ref)
        assert status == 200, (ref, r.body)
        assert set(body) == {"database", "table"}
        assert body["database"] == "app"
        assert body["table"] == listed[key]


def test_schema_name_in_two_schemas_needs_qualifying(db):
    execute(db, [("CREATE TABLE analytics.comments (x int)", None)])
    status, body, r = get(db, "/schema", table="comments")
    assert status == 400, r.body
    err = body["error"]
    assert err["code"] == "invalid_parameter"
    assert "analytics.comments" in err["message"] and "public.comments" in err["message"]
    assert get(db, "/schema", table="public.comments")[1]["table"]["rows"] >= len(NASTY_COMMENTS)
    assert get(db, "/schema", table="analytics.comments")[1]["table"]["columns"][0]["name"] == "x"
    # /sample resolves the same way.
    assert get(db, "/sample", table="comments")[0] == 400
    assert get(db, "/sample", table="analytics.comments")[0] == 200


def test_schema_unknown_table_is_404_with_the_list(db):
    for ref in ("nope", "public.nope", "nope.comments", "Comments", "pg_catalog.pg_class", "information_schema.tables"):
        status, body, r = get(db, "/schema", table=ref)
        assert status == 404, (ref, r.body)
        err = body["error"]
        assert err["code"] == "table_not_found"
        assert ref in err["message"]
        assert "public.comments" in err["hint"] and "analytics.events" in err["hint"]


def test_schema_takes_only_table(db):
    status, body, _ = get(db, "/schema", verbose="1")
    assert status == 400
    assert "verbose" in body["error"]["message"]
    status, body, _ = get(db, "/schema", table="")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"


def test_schema_etag_and_304(db):
    status, body, r = get(db, "/schema")
    assert status == 200
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2
    # Same state, same tag.
    assert get(db, "/schema")[2].headers["ETag"] == etag
    for inm in (etag, "W/" + etag, '"other", ' + etag, "*"):
        r = db.get("/schema", headers={"If-None-Match": inm})
        assert r.status == 304, inm
        assert r.body == ""
        assert r.headers["ETag"] == etag
    r = db.get("/schema", headers={"If-None-Match": '"other"'})
    assert r.status == 200 and json.loads(r.body) == body
    # Per table, its own tag.
    r1 = db.get("/schema?table=videos")
    assert r1.headers["ETag"] != etag
    assert db.get("/schema?table=videos", headers={"If-None-Match": r1.headers["ETag"]}).status == 304
    # Any change in what the body says changes the tag.
    execute(db, [("INSERT INTO canary VALUES (2, 'two')", None)])
    r = db.get("/schema", headers={"If-None-Match": etag})
    assert r.status == 200
    assert r.headers["ETag"] != etag


# ---- /sample ---------------------------------------------------------------

COMMENT_COLUMNS = [c["name"] for c in EXPECTED["comments"]["columns"]]


def test_sample_shape_and_defaults(db):
    status, body, r = get(db, "/sample", table="comments")
    assert status == 200, r.body
    assert list(body) == ["table", "columns", "limit", "offset", "order", "truncate", "rows"]
    assert body["table"] == {"schema": "public", "name": "comments"}
    assert body["columns"] == COMMENT_COLUMNS
    assert body["limit"] == 10 and body["offset"] == 0 and body["truncate"] is None
    assert body["order"] == {"column": "comment_id", "direction": "asc"}
    assert len(body["rows"]) == 10
    for row in body["rows"]:
        assert list(row) == COMMENT_COLUMNS
    want = [r[0] for r in db.sql("SELECT comment_id FROM comments ORDER BY comment_id LIMIT 10")]
    assert [row["comment_id"] for row in body["rows"]] == want


def test_sample_default_order_is_deterministic(db):
    first = get(db, "/sample", table="public.comments", limit=50)[1]
    for _ in range(3):
        assert get(db, "/sample", table="public.comments", limit=50)[1] == first
    # A table without a primary key is ordered by its first column.
    execute(db, [("CREATE TABLE nopk (b text, a int)", None),
                 ("INSERT INTO nopk VALUES ('m', 1), ('c', 2), (NULL, 3), ('x', 4)", None)])
    body = get(db, "/sample", table="nopk")[1]
    assert body["order"] == {"column": "b", "direction": "asc"}
    assert [r["b"] for r in body["rows"]] == ["c", "m", "x", None]


def test_sample_real_types(db):
    status, body, r = get(db, "/sample", table="analytics.events")
    assert status == 200, r.body
    rows = {row["id"]: row for row in body["rows"]}
    one, two, three = rows[1], rows[2], rows[3]
    assert one["flag"] is True and two["flag"] is False and three["flag"] is None
    assert isinstance(one["id"], int)
    assert one["amount"] == 19.99 and two["amount"] == -0.5 and three["amount"] is None
    # As written, not as jansson would print a double.
    assert '"amount": 19.99,' in r.body and '"ratio": 0.30000000000000004,' in r.body
    # numeric that a double cannot hold keeps every digit, as text; NaN too; integral numerics are integers.
    assert Decimal(one["exact"]) == Decimal("123456789012345678901234567890.5")
    assert two["exact"] == "NaN"
    assert three["exact"] == 42 and isinstance(three["exact"], int)
    assert one["ratio"] == 0.30000000000000004 and two["ratio"] == 1e300
    assert one["payload"] == {"a": [1, 2.5, {"b": 'x"y'}], "n": None, "t": True}
    assert two["payload"] == "just a string"
    assert one["happened_at"] == "2024-01-02T01:04:05.5+00:00"
    assert datetime.datetime.fromisoformat(one["happened_at"]) == \
        datetime.datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=datetime.timezone.utc)
    assert one["big"] == 9007199254740993 and two["big"] == -9223372036854775808
    assert one["tags"] == ["a", 'b"c', None] and two["tags"] == []
    assert one["note"] == "héllo wörld" and two["note"] is None


def test_sample_nasty_text_round_trips(db):
    status, body, r = get(db, "/sample", table="comments", order="comment_id.desc", limit=len(NASTY_COMMENTS))
    assert status == 200, r.body
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT %s FROM comments ORDER BY comment_id DESC LIMIT %%s" % ", ".join(COMMENT_COLUMNS),
                        (len(NASTY_COMMENTS),))
            want = cur.fetchall()
    finally:
        conn.close()
    assert [r["comment_id"] for r in body["rows"]] == sorted((c[0] for c in NASTY_COMMENTS), reverse=True)
    for row, expected in zip(body["rows"], want):
        for name, value in zip(COMMENT_COLUMNS, expected):
            if isinstance(value, datetime.datetime):
                assert datetime.datetime.fromisoformat(row[name]) == value, name
            else:
                assert row[name] == value, (row["comment_id"], name)
    texts = {r["comment_id"]: r["comment_text"] for r in body["rows"]}
    assert texts["zz-5-long"] == LONG_TEXT
    assert texts["zz-3-emoji"] == NASTY_COMMENTS[2][1]
    nulls = next(r for r in body["rows"] if r["comment_id"] == "zz-4-nulls")
    assert nulls["likes"] is None and nulls["published_at"] is None and nulls["comment_text"] == ""
    stamps = next(r for r in body["rows"] if r["comment_id"] == "zz-1-quotes")
    assert stamps["published_at"] == "2024-02-29T23:59:58.123456"


def test_sample_limit_and_offset_page_deterministically(db):
    whole = get(db, "/sample", table="comments", limit=15)[1]["rows"]
    pages = []
    for offset in (0, 5, 10):
        body = get(db, "/sample", table="comments", limit=5, offset=offset)[1]
        assert body["limit"] == 5 and body["offset"] == offset
        pages += body["rows"]
    assert pages == whole
    total = db.sql("SELECT count(*) FROM comments")[0][0]
    body = get(db, "/sample", table="comments", limit=1000, offset=total - 2)[1]
    assert len(body["rows"]) == 2
    assert get(db, "/sample", table="comments", offset=10 ** 9)[1]["rows"] == []
    assert len(get(db, "/sample", table="comments", limit=1)[1]["rows"]) == 1
    assert len(get(db, "/sample", table="comments", limit=1000)[1]["rows"]) == min(1000, total)


def test_sample_order(db):
    body = get(db, "/sample", table="comments", order="likes.desc", limit=20)[1]
    assert body["order"] == {"column": "likes", "direction": "desc"}
    want = db.sql("SELECT comment_id, likes FROM comments ORDER BY likes DESC, comment_id LIMIT 20")
    assert [(r["comment_id"], r["likes"]) for r in body["rows"]] == [tuple(w) for w in want]
    for spec in ("likes", "likes.asc", "likes.ASC"):
        body = get(db, "/sample", table="comments", order=spec, limit=20)[1]
        assert body["order"] == {"column": "likes", "direction": "asc"}
        want = db.sql("SELECT comment_id FROM comments ORDER BY likes ASC, comment_id LIMIT 20")
        assert [r["comment_id"] for r in body["rows"]] == [w[0] for w in want]
    body = get(db, "/sample", table="comments", order="comment_id.desc", limit=3)[1]
    assert [r["comment_id"] for r in body["rows"]] == ["zz-6-injection", "zz-5-long", "zz-4-nulls"]


def test_sample_columns(db):
    body = get(db, "/sample", table="comments", columns="likes,comment_id", limit=3)[1]
    assert body["columns"] == ["likes", "comment_id"]
    for row in body["rows"]:
        assert list(row) == ["likes", "comment_id"]
    # Ordering by a column that is not selected is fine.
    body = get(db, "/sample", table="comments", columns="comment_text", order="likes.desc", limit=1)[1]
    assert list(body["rows"][0]) == ["comment_text"]


def test_sample_truncate_counts_characters(db):
    body = get(db, "/sample", table="comments", order="comment_id.desc", limit=len(NASTY_COMMENTS), truncate=5)[1]
    assert body["truncate"] == 5
    # Every string is cut, the ids too ("zz-1-quotes" -> "zz-1-…"); rows come in id order, newest id first.
    nasty = sorted(NASTY_COMMENTS, reverse=True)
    assert [r["comment_id"] for r in body["rows"]] == [c[0][:5] + ELLIPSIS for c in nasty]
    rows = {cid: r for (cid, _, _, _), r in zip(nasty, body["rows"])}
    for cid, text, likes, _ in NASTY_COMMENTS:
        got = rows[cid]["comment_text"]
        if len(text) > 5:
            assert got == text[:5] + ELLIPSIS, cid
        else:
            assert got == text, cid
        assert rows[cid]["likes"] == likes  # numbers untouched
        assert rows[cid]["country_code"] == (None if likes is None else "NZ")  # short strings untouched
    # Code points, never half of one: the emoji row starts with a thumbs-up and a skin tone.
    assert rows["zz-3-emoji"]["comment_text"] == "👍🏽 hé" + ELLIPSIS
    assert rows["zz-5-long"]["comment_text"] == "ééééé" + ELLIPSIS
    # Strings nested in json and arrays are cut too.
    ev = {r["id"]: r for r in get(db, "/sample", table="analytics.events", truncate=3)[1]["rows"]}
    assert ev[1]["note"] == "hél" + ELLIPSIS
    assert ev[2]["payload"] == "jus" + ELLIPSIS
    assert ev[1]["tags"] == ["a", 'b"c', None]
    assert ev[3]["note"] == "ééé" + ELLIPSIS
    assert get(db, "/sample", table="comments", truncate=100000)[0] == 200


def test_sample_without_table_samples_every_table(db):
    status, body, r = get(db, "/sample")
    assert status == 200, r.body
    assert list(body) == ["tables"]
    got = [(s["table"]["schema"], s["table"]["name"]) for s in body["tables"]]
    assert got == [tuple(x) for x in user_tables(db)]
    by = {(s["table"]["schema"], s["table"]["name"]): s for s in body["tables"]}
    for s in body["tables"]:
        assert s["limit"] == 3 and s["offset"] == 0
        assert len(s["rows"]) <= 3
    assert len(by[("public", "comments")]["rows"]) == 3
    assert by[("public", "canary")]["rows"] == [{"id": 1, "note": "still here"}]
    body = get(db, "/sample", limit=1, truncate=2)[1]
    for s in body["tables"]:
        assert s["limit"] == 1 and s["truncate"] == 2 and len(s["rows"]) <= 1


BAD_PARAMETERS = [
    ({"limit": "0"}, "limit", "invalid_parameter"),
    ({"limit": "1001"}, "limit", "invalid_parameter"),
    ({"limit": "abc"}, "limit", "invalid_parameter"),
    ({"limit": "-1"}, "limit", "invalid_parameter"),
    ({"limit": "1.5"}, "limit", "invalid_parameter"),
    ({"limit": ""}, "limit", "invalid_parameter"),
    ({"limit": "10; DROP TABLE users"}, "limit", "invalid_parameter"),
    ({"offset": "-1"}, "offset", "invalid_parameter"),
    ({"offset": "1000000001"}, "offset", "invalid_parameter"),
    ({"offset": "1e3"}, "offset", "invalid_parameter"),
    ({"truncate": "0"}, "truncate", "invalid_parameter"),
    ({"truncate": "100001"}, "truncate", "invalid_parameter"),
    ({"truncate": "x"}, "truncate", "invalid_parameter"),
    ({"order": "nope"}, "order", "unknown_column"),
    ({"order": "likes.sideways"}, "order", "invalid_parameter"),
    ({"order": "likes desc"}, "order", "unknown_column"),
    ({"order": ""}, "order", "invalid_parameter"),
    ({"columns": "nope"}, "columns", "unknown_column"),
    ({"columns": "likes,nope"}, "columns", "unknown_column"),
    ({"columns": "likes,likes"}, "columns", "invalid_parameter"),
    ({"columns": "likes,"}, "columns", "invalid_parameter"),
    ({"columns": ""}, "columns", "invalid_parameter"),
    ({"columns": ",".join(["likes"] * 101)}, "columns", "invalid_parameter"),
    ({"table": ""}, "table", "invalid_parameter"),
]


def test_sample_bad_parameters_are_400(db):
    for params, name, code in BAD_PARAMETERS:
        status, body, r = get(db, "/sample", **dict({"table": "comments"}, **params))
        assert status == 400, (params, r.body)
        err = body["error"]
        assert err["code"] == code, (params, err)
        assert "'%s'" % name in err["message"], (params, err)
        if code == "unknown_column":
            assert "comment_id" in err["hint"] and "likes" in err["hint"], (params, err)


def test_sample_parameter_rules_without_table(db):
    for params in ({"order": "likes"}, {"columns": "likes"}):
        status, body, _ = get(db, "/sample", **params)
        assert status == 400
        assert body["error"]["code"] == "invalid_parameter"
        assert "table" in body["error"]["message"]
    status, body, _ = get(db, "/sample", table="comments", where="1=1")
    assert status == 400 and "where" in body["error"]["message"]
    status, body, _ = get(db, "/sample", limit="0")
    assert status == 400


def test_sample_unknown_table_is_404(db):
    status, body, _ = get(db, "/sample", table="nope")
    assert status == 404
    assert body["error"]["code"] == "table_not_found"
    assert "public.comments" in body["error"]["hint"]


def test_sample_unorderable_column_is_400(db):
    execute(db, [("CREATE TABLE analytics.docs (id int PRIMARY KEY, doc json)", None),
                 ("INSERT INTO analytics.docs VALUES (1, '{\"k\": 1e400, \"big\": 123456789012345678901}')", None)])
    status, body, _ = get(db, "/sample", table="analytics.docs", order="doc")
    assert status == 400
    assert body["error"]["code"] == "invalid_parameter"
    # Numbers jansson cannot hold do not cost the row: the value keeps its JSON text.
    status, body, r = get(db, "/sample", table="analytics.docs")
    assert status == 200, r.body
    assert json.loads(body["rows"][0]["doc"]) == {"k": float("inf"), "big": 123456789012345678901}


# ---- nothing from a request reaches SQL ---------------------------------------

# Raw query strings (already percent-encoded where they need to be).
INJECTIONS = [
    "table=comments;DROP%20TABLE%20users",
    "table=comments%3BDROP%20TABLE%20users",
    "table=comments%3B%20DROP%20TABLE%20canary%3B%20--",
    "table=comments%22--",
    "table=public.comments%22%3B%20DROP%20TABLE%20canary%3B--",
    "table=%22public%22.%22comments%22",
    "table=comments%27",
    "table=%27%20OR%20%271%27%3D%271",
    "table=comments%20WHERE%201%3D1",
    "table=1%3D1",
    "table=pg_sleep(5)",
    "table=(SELECT%20pg_sleep(5))",
    "table=comments/**/",
    "table=comments%20--%20comment",
    "table=comments%2F*%20x%20*%2F",
    "table=comments%0D%0AX-Injected:%201",
    "table=comments%09",
    "table=comm%C3%A9nts",
    "table=comm%D0%B5nts",  # Cyrillic e
    "table=comments%EF%BC%9B",  # fullwidth semicolon
    "table=comments%E2%80%8B",  # zero-width space
    "table=%E2%80%AEstnemmoc",  # right-to-left override
    "table=comments%C0%BB",  # overlong ';'
    "table=comments%FF",
    "table=" + "a" * 64,
    "table=" + "a" * 5000,
    "table=public." + "b" * 200,
    "table=comments&order=likes%20desc%3B%20DROP%20TABLE%20users",
    "table=comments&order=likes.desc%3B%20DROP%20TABLE%20users",
    "table=comments&order=likes;DROP%20TABLE%20canary",
    "table=comments&order=1%3D1",
    "table=comments&order=pg_sleep(5)",
    "table=comments&order=(SELECT%20pg_sleep(5))",
    "table=comments&order=likes--",
    "table=comments&order=likes/*x*/",
    "table=comments&order=%22likes%22",
    "table=comments&order=likes%27",
    "table=comments&order=likes%2C(SELECT%201)",
    "table=comments&order=random()",
    "table=comments&columns=likes%3BDROP%20TABLE%20users",
    "table=comments&columns=likes)%20FROM%20users%3B--",
    "table=comments&columns=pg_sleep(5)",
    "table=comments&columns=*",
    "table=comments&columns=likes,%22comment_id%22",
    "table=comments&columns=1%3D1",
    "table=comments&columns=likes%27",
    "table=comments&columns=likes/**/",
    "table=comments&columns=" + ",".join(["x" * 70] * 3),
    "table=comments&limit=1%3BDROP%20TABLE%20users",
    "table=comments&limit=pg_sleep(5)",
    "table=comments&offset=0)%20UNION%20SELECT%201--",
    "table=comments&truncate=1%27",
    "table=comments&limit=%FF",
    "table=comments&columns=likes%FF",
]


def test_injection_attempts_are_refused_and_execute_nothing(db):
    before = snapshot(db)
    slow = []
    for qs in INJECTIONS:
        # /schema takes only ?table=, so it gets the attempts that are about the table name.
        for path in ("/sample", "/schema") if "&" not in qs else ("/sample",):
            t0 = time.time()
            r = db.get(path + "?" + qs)
            took = time.time() - t0
            assert r.status in (400, 404), (path, qs, r.status, r.body[:300])
            err = json.loads(r.body)["error"]  # always a well-formed JSON error
            assert err["code"] in ("invalid_parameter", "unknown_column", "table_not_found"), (qs, err)
            if took > 2:
                slow.append((path, qs, took))
    assert not slow, slow
    assert db.health().status == 200
    assert snapshot(db) == before
    assert db.sql("SELECT note FROM canary") == [("still here",)]
    # Nothing left running either (a pg_sleep would still be there).
    assert db.sql("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%pg_sleep%' AND pid <> pg_backend_pid()") \
        == [(0,)]


def test_nul_bytes_execute_nothing(db):
    before = snapshot(db)
    for qs in ("table=comments%00%3BDROP%20TABLE%20canary", "table=comments&order=likes%00.desc%3BDROP",
               "table=comments&columns=likes%00,x"):
        r = db.get("/sample?" + qs)
        assert r.status in (200, 400, 404)
        json.loads(r.body)
    assert snapshot(db) == before


def test_nul_bytes_are_refused(db):
    r = db.get("/sample?table=comments%00%3BDROP%20TABLE%20canary")
    assert r.status == 400, r.body[:200]
    assert "NUL" in r.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/health?%ff=1", "/logs?tail=%ff", "/schema?%ff=1", "/sample?table=%ff%fe",
                                  "/sample?order=%c3", "/reset?mode=%80"])
def test_invalid_utf8_is_400_not_a_crash(db, path):
    r = db.post(path) if path.startswith("/reset") else db.get(path)
    assert r.status == 400, r.body[:200]
    assert r.json()["error"]["code"] == "invalid_parameter"
    assert db.health().status == 200


def test_unreachable_database_is_503(db):
    """While Postgres restarts after a crash, both endpoints say 503 (with Retry-After), then recover.

    The requests run in a thread that starts before the kill: on a loaded CI
    machine a loop started after it could be scheduled only once Postgres is
    back (a restart takes well under a second), and never see the 503."""
    postmaster = int(open(os.path.join(db.state_dir, "pgdata", "postmaster.pid")).readline())
    seen, stop = [], threading.Event()

    def probe():
        while not stop.is_set():
            for path in ("/schema", "/sample?table=comments&limit=1"):
                r = db.get(path, timeout=30)
                seen.append((path, r))
            time.sleep(0.005)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not seen:
            time.sleep(0.01)
        os.kill(postmaster, signal.SIGKILL)
        while time.time() < deadline:
            statuses = [r.status for _, r in list(seen)]
            if 503 in statuses and statuses[-1] == 200 and statuses.index(503) < len(statuses) - 1:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(timeout=35)
    for path, r in seen:
        assert r.status in (200, 503), (path, r.status, r.body[:300])
    failures = [r for _, r in seen if r.status == 503]
    assert failures, "never saw a 503 while Postgres was down"
    err = json.loads(failures[0].body)["error"]
    assert err["code"] in ("unavailable", "busy")
    assert failures[0].headers.get("Retry-After") == "1"
    assert seen[-1][1].status == 200, "did not recover: %r" % (seen[-1][1].body[:300],)
