#!/usr/bin/env python3
"""Check man/openapi.yaml against the code and against every answer the integration suite received.

usage: openapi-check.py OPENAPI_YAML ROUTES_C [RESPONSE_LOG_DIR]

1. Every route of fcgi/routes.c (path and methods) is in the document, and every path of the document is a route.
2. Every line of every DIR/*.jsonl (written by tests/integration/harness.c when SS_IT_RESPONSE_LOG is set) is an
   answer the document describes: the status is listed for that path and method, the required headers are
   there, the content type is listed and a JSON body matches its schema (JSON Schema 2020-12). Paths that are
   not in the document may only answer the errors every unknown path gets (404 and the web server's own).
Files that pass are removed, so the next run starts afresh; a failing run keeps them for a look.
Exit status: 0 all good, 1 a mismatch, 77 nothing logged (the integration tests were skipped), 99 setup error.
"""
import glob
import json
import os
import re
import sys
import urllib.parse

try:
    import jsonschema
    import yaml
except ImportError as e:
    print("skipped: python3-yaml and python3-jsonschema are needed (%s)" % e)
    sys.exit(77)

METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# What a path that is not in the document can answer: songscope's 404 (or 400 for an unusable path) and the
# web server's own errors (URI too long, responders down).
UNKNOWN_PATH_STATUSES = {400, 404, 414, 502, 503, 504}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def deref(spec, obj):
    """Follow a local $ref (components/responses, headers, parameters) to its object."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("only local references: " + ref)
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
        seen += 1
        if seen > 20:
            raise ValueError("reference loop at " + ref)
    return obj


def pointer(*parts):
    return "#/" + "/".join(urllib.parse.quote(p.replace("~", "~0").replace("/", "~1"), safe="~") for p in parts)


class Doc:
    def __init__(self, spec):
        self.spec = spec
        self.templates = []  # (regex, template)
        for tmpl, item in spec.get("paths", {}).items():
            params = {p["name"]: p for p in (deref(spec, x) for x in item.get("parameters", [])) if p.get("in") == "path"}
            rx = ""
            for piece in re.split(r"(\{[^}]+\})", tmpl):
                if piece.startswith("{"):
                    sch = params.get(piece[1:-1], {}).get("schema", {})
                    if sch.get("type") == "integer":
                        rx += "([0-9]+)"
                    elif "pattern" in sch:
                        rx += "(" + sch["pattern"].lstrip("^").rstrip("$") + ")"
                    else:
                        rx += "([^/]+)"
                else:
                    rx += re.escape(piece)
            self.templates.append((re.compile("^" + rx + "$"), tmpl))

    def match(self, path):
        for rx, tmpl in self.templates:
            if rx.match(path):
                return tmpl
        return None

    def validate_json(self, value, schema_pointer):
        # The whole document is the root schema, so that its "#/components/..." references resolve; the keywords
        # of OpenAPI around them are unknown to JSON Schema and ignored.
        root = dict(self.spec)
        root["$ref"] = schema_pointer
        v = jsonschema.Draft202012Validator(root)
        errs = sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))
        return ["%s at %s" % (e.message[:300], "/".join(str(p) for p in e.absolute_path) or "(top)") for e in errs[:3]]


def check_routes(doc, routes_c):
    problems = []
    with open(routes_c, encoding="utf-8") as f:
        text = f.read()
    routes = {}
    for path, methods in re.findall(r'\{"(/[^"]*)",\s*([A-Z_| ]+),', text):
        for m in re.findall(r"SS_M_([A-Z]+)", methods):
            routes.setdefault(path, set()).add(m.lower())
    if not routes:
        return ["no routes found in " + routes_c]
    paths = doc.spec.get("paths", {})
    for path, methods in sorted(routes.items()):
        if path not in paths:
            problems.append("route %s is not in the document" % path)
            continue
        for m in sorted(methods):
            if m not in paths[path]:
                problems.append("route %s %s is not in the document" % (m.upper(), path))
    for path, item in paths.items():
        if path not in routes:
            problems.append("the document's path %s is not a route" % path)
            continue
        for m in METHODS:
            if m in item and m not in routes[path]:
                problems.append("the document's %s %s is not a route" % (m.upper(), path))
    return problems


def media_base(ct):
    return (ct or "").split(";")[0].strip().lower()


def check_headers(doc, resp, headers, where):
    problems = []
    for name, h in (resp.get("headers") or {}).items():
        h = deref(doc.spec, h)
        value = headers.get(name.lower())
        if value is None:
            if h.get("required"):
                problems.append("%s: no %s header" % (where, name))
            continue
        sch = h.get("schema")
        if sch is not None:
            try:
                jsonschema.Draft202012Validator(sch).validate(value)
            except jsonschema.ValidationError as e:
                problems.append("%s: header %s: %s" % (where, name, e.message[:200]))
    return problems


def check_record(doc, rec, where, used):
    method = rec["method"].lower()
    # As songscope routes (fcgi/request.c): trailing slashes do not count.
    path = rec["path"].rstrip("/") or "/"
    status = int(rec["status"])
    headers = rec.get("headers", {})
    problems = []
    tmpl = doc.match(path)
    spec = doc.spec

    def error_body(resp_name):
        resp = deref(spec, {"$ref": "#/components/responses/" + resp_name})
        return check_response(doc, resp, "#/components/responses/" + resp_name, rec, where)

    if tmpl is None:
        if status not in UNKNOWN_PATH_STATUSES:
            return ["%s: %s %s is not in the document and answered %d" % (where, rec["method"], path, status)]
        return error_body("NotFound")
    item = spec["paths"][tmpl]
    if method == "options":
        if status == 204:
            return check_headers(doc, deref(spec, {"$ref": "#/components/responses/CorsPreflight"}), headers, where)
        if status == 405:
            return error_body("MethodNotAllowed")
        return ["%s: OPTIONS %s answered %d (preflights answer 204, others 405)" % (where, path, status)]
    op_method = "get" if method == "head" else method
    if op_method not in item:
        if status == 405:
            return error_body("MethodNotAllowed")
        if status == 501:
            return error_body("NotImplemented")
        if status == 413:
            return error_body("TooLarge")
        return ["%s: %s %s is not in the document and answered %d" % (where, rec["method"], tmpl, status)]
    op = item[op_method]
    responses = op.get("responses", {})
    if str(status) not in responses:
        return ["%s: %s %s answered %d, which the document does not list (it lists %s)" %
                (where, rec["method"], tmpl, status, ", ".join(sorted(responses)))]
    used.add((op_method, tmpl, str(status)))
    raw = responses[str(status)]
    base = pointer("paths", tmpl, op_method, "responses", str(status))
    if "$ref" in raw:
        base = raw["$ref"]
    resp = deref(spec, raw)
    problems += check_response(doc, resp, base, rec, where)
    return problems


def check_response(doc, resp, base, rec, where):
    problems = check_headers(doc, resp, rec.get("headers", {}), where)
    content = resp.get("content")
    ct = media_base(rec.get("content_type"))
    if not content:
        return problems
    if rec["method"] == "HEAD":
        return problems
    chosen = None
    for mt in content:
        if mt == ct or (mt.endswith("/*") and ct.startswith(mt[:-1])):
            chosen = mt
            break
    if chosen is None:
        return problems + ["%s: content type '%s' is not listed (%s)" % (where, ct, ", ".join(content))]
    if chosen == "application/json" and "schema" in content[chosen]:
        body = rec.get("body")
        if body is None:
            return problems + ["%s: a JSON answer without its body in the log" % where]
        try:
            value = json.loads(body)
        except ValueError as e:
            return problems + ["%s: the body is not JSON (%s): %.200s" % (where, e, body)]
        sp = base + "/content/" + urllib.parse.quote(chosen.replace("/", "~1"), safe="~") + "/schema"
        for e in doc.validate_json(value, sp):
            problems.append("%s: body: %s" % (where, e))
    return problems


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        return 99
    doc = Doc(load(sys.argv[1]))
    problems = check_routes(doc, sys.argv[2])
    for p in problems:
        print("FAIL:", p)
    files = sorted(glob.glob(os.path.join(sys.argv[3], "*.jsonl"))) if len(sys.argv) == 4 and sys.argv[3] else []
    n = 0
    used = set()
    bad_files = set()
    for fn in files:
        with open(fn, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                n += 1
                rec = json.loads(line)
                where = "%s:%d (%s %s %s -> %s)" % (os.path.basename(fn), lineno, rec.get("front"), rec["method"],
                                                  rec["path"] + ("?" + rec["query"] if rec.get("query") else ""),
                                                  rec["status"])
                found = check_record(doc, rec, where, used)
                if found:
                    bad_files.add(fn)
                    problems += found
                    for p in found[:1]:
                        print("FAIL:", p)
    listed = set()
    for tmpl, item in doc.spec["paths"].items():
        for m in METHODS:
            if m in item:
                for st in item[m].get("responses", {}):
                    listed.add((m, tmpl, st))
    print("%d answers from %d files checked against the document; %d of its %d (operation, status) pairs seen"
          % (n, len(files), len(used), len(listed)))
    unseen_ops = sorted({(m, t) for (m, t, s) in listed} - {(m, t) for (m, t, s) in used})
    if unseen_ops and n:
        print("operations no test answer reached: " + ", ".join("%s %s" % (m.upper(), t) for m, t in unseen_ops))
    if problems:
        print("%d problem(s)" % len(problems))
        return 1
    for fn in files:
        os.unlink(fn)
    if n == 0:
        print("skipped: no answers were logged (the integration tests did not run), only the routes were checked")
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
