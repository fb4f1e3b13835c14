# SPDX-License-Identifier: MIT
"""GET /openapi.json is generated from the route table and tells the truth:
every documented path is called (with each documented parameter) and every
reply is validated against the document, errors included."""

import json
import urllib.parse

from conftest import http


def resolve(doc, schema):
    while "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}


def type_ok(value, t):
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[t])


def validate(doc, schema, value, where="$"):
    """The part of JSON Schema the document uses: type, enum, required,
    properties, additionalProperties, items, oneOf, $ref.  Returns a list of
    problems (empty when value conforms)."""
    schema = resolve(doc, schema)
    if "oneOf" in schema:
        results = [validate(doc, s, value, where) for s in schema["oneOf"]]
        ok = [r for r in results if not r]
        if len(ok) != 1:
            return ["%s: matches %d of oneOf (%s)" % (where, len(ok), results)]
        return []
    errors = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(type_ok(value, t) for t in types):
            return ["%s: %r is not %s" % (where, value, "/".join(types))]
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r not in %s" % (where, value, schema["enum"]))
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append("%s: required '%s' missing" % (where, key))
        props = schema.get("properties", {})
        for key, v in value.items():
            if key in props:
                errors += validate(doc, props[key], v, "%s.%s" % (where, key))
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += validate(doc, schema["additionalProperties"], v, "%s.%s" % (where, key))
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += validate(doc, schema["items"], v, "%s[%d]" % (where, i))
    return errors


def response_spec(op, status):
    responses = op["responses"]
    return responses.get(str(status)) or responses.get("%dXX" % (status // 100))


def check_reply(doc, method, path, op, r):
    """Validates one reply against the operation: a documented status, media type and body."""
    spec = response_spec(op, r.status)
    assert spec, "%s %s answered %d, not documented (%s)" % (method, path, r.status, list(op["responses"]))
    media = r.headers.get("Content-Type", "").split(";")[0].strip()
    if r.status == 204 or method == "HEAD":
        return
    assert media in spec["content"], "%s %s: %s not in %s" % (method, path, media, list(spec["content"]))
    schema = spec["content"][media]["schema"]
    if media == "application/json":
        problems = validate(doc, schema, json.loads(r.body))
    elif media == "application/x-ndjson":
        problems = []
        for line in r.body.splitlines():
            problems += validate(doc, schema, json.loads(line))
    else:
        problems = validate(doc, schema, r.body)
    assert not problems, "%s %s (%d): %s\n%s" % (method, path, r.status, problems, r.body[:2000])


# A value each parameter type can take, for calling every parameter once.
EXAMPLES = {"table": "users", "order": "channel_id.desc", "columns": "channel_id", "since": "1700000000",
            "tail": "5", "timeout": "120", "tables": "comments", "from": "openapi-from"}
NAMES = iter("openapi-%d" % i for i in range(1000))  # ?name of POST /snapshots: a new one each call


def example(param):
    s = param["schema"]
    if param["name"] == "name":
        return next(NAMES)
    if param["name"] in EXAMPLES:
        return EXAMPLES[param["name"]]
    if "default" in s:
        v = s["default"]
        return ("1" if v else "0") if isinstance(v, bool) else str(v)
    if s.get("type") == "integer":
        return str(s.get("minimum", 1))
    return "x"


def test_openapi_documents_every_route_and_every_reply_conforms(ready):
    r = ready.get("/openapi.json")
    assert r.status == 200, r.body
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert "Error" in doc["components"]["schemas"]

    # GET / and the document come from the same table: the same endpoints.
    index = ready.get("/", headers={"Accept": "application/json"}).json()["endpoints"]
    documented = {"%s %s" % (m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert set(index) == documented - {"GET /"}

    # The 404 hint names every path.
    r = http("GET", ready.url + "/no-such-endpoint")
    assert r.status == 404
    problems = validate(doc, {"$ref": "#/components/schemas/Error"}, r.json())
    assert not problems, problems
    for p in doc["paths"]:
        if p != "/":
            assert p in r.json()["error"]["hint"], (p, r.json())

    # ?from=N names a snapshot.
    r = ready.post("/snapshots?name=openapi-from", timeout=120)
    assert r.status == 201, r.body
    called = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            m = method.upper()
            params = [p for p in op["parameters"] if p["in"] == "query"]
            # follow=1 would stream forever; everything else is called with every parameter.
            query = {p["name"]: example(p) for p in params if p["name"] != "follow"}

            def concrete(path):
                """A path parameter {name} becomes a clone leased for the call (DELETE returns it),
                or a snapshot taken for it under /snapshots."""
                if "{name}" not in path:
                    return path
                if path.startswith("/snapshots/"):
                    name = next(NAMES)
                    snap = http("POST", ready.url + "/snapshots?name=" + name, timeout=120)
                    assert snap.status == 201, snap.body
                    return path.replace("{name}", name)
                lease = http("POST", ready.url + "/clones", timeout=120)
                assert lease.status == 201, lease.body
                return path.replace("{name}", lease.json()["name"])

            # ?from (a whole snapshot) and ?tables (some tables, to the seed) do not combine: one call each.
            variants = [query]
            if path == "/reset":
                variants = [{k: v for k, v in query.items() if k != "tables"},
                            {k: v for k, v in query.items() if k != "from"}]
            urls = [path] + [path + "?" + urllib.parse.urlencode(q) for q in variants if q]
            for url in urls:
                url = concrete(url)
                headers = {"Accept": "application/json"}
                r = http(m, ready.url + url, headers=headers, timeout=120)
                check_reply(doc, m, url, op, r)
                assert r.status < 400 or path == "/reset", "%s %s: %d %s" % (m, url, r.status, r.body)
                called.add("%s %s" % (m, path))
            # Each enum value is accepted, and an undocumented parameter is a documented 400.
            for p in params:
                for v in p["schema"].get("enum", []):
                    q = dict(query, **{p["name"]: v})
                    if path == "/reset":
                        q.pop("from")  # a snapshot is restored by template only: inplace+from is a 400
                    r = http(m, ready.url + concrete(path) + "?" + urllib.parse.urlencode(q), timeout=120)
                    check_reply(doc, m, path, op, r)
                    assert r.status < 400, (path, q, r.body)
            r = http(m, ready.url + concrete(path) + "?undocumented=1", timeout=30)
            assert r.status == 400, (path, r.status, r.body)
            check_reply(doc, m, path, op, r)
            assert r.json()["error"]["code"] == "unknown_parameter"
            for p in params:
                assert p["name"] in r.json()["error"]["message"], (path, p["name"], r.body)
    assert called == documented, documented - called

    # /logs as JSON lines, and a bad value of a typed parameter.
    op = doc["paths"]["/logs"]["get"]
    r = ready.get("/logs?tail=20&format=json")
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    check_reply(doc, "GET", "/logs", op, r)
    r = ready.get("/sample?table=users&limit=zero")
    assert r.status == 400
    check_reply(doc, "GET", "/sample", doc["paths"]["/sample"]["get"], r)

