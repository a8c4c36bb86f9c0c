#!/usr/bin/env python3
"""Check answers of the live JSON API against docs/openapi.json.

usage: openapi_validate.py SPEC.json CASES.json

CASES.json is a list of {"path": "/api/v1/plans", "status": 200, "headers": {...}, "body": <JSON>}: real
answers of a real server. Each path must match one of the spec's path templates, the status must be one
the operation declares, and the body must validate (JSON Schema 2020-12, as OpenAPI 3.1 uses) against
the declared application/json schema; a 200 must carry the headers the spec declares. Every path of the
spec must be exercised by at least one case. Exit 0 when all holds; 1 with one line per failure; 2 when
the validator is missing or the input is malformed.
"""
import json
import re
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError as e:  # never skip: a missing validator is a failure
    print(f"openapi_validate: the Python 'jsonschema' package is required ({e}); run scripts/test.sh", file=sys.stderr)
    sys.exit(2)

SPEC_URI = "urn:accord:openapi"


def template_regex(template):
    return re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    cases = json.load(open(sys.argv[2], encoding="utf-8"))
    if not spec.get("openapi", "").startswith("3.1"):
        print("openapi_validate: the spec is not OpenAPI 3.1", file=sys.stderr)
        sys.exit(2)
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    templates = [(t, template_regex(t)) for t in spec["paths"]]
    # A literal path beats a template (as the server routes it).
    templates.sort(key=lambda t: t[0].count("{"))
    used = set()
    failures = []
    for case in cases:
        path, status, body = case["path"].split("?")[0], str(case["status"]), case.get("body")
        match = next((t for t, rx in templates if rx.match(path)), None)
        if match is None:
            failures.append(f"{case['path']}: no path of the spec matches")
            continue
        used.add(match)
        responses = spec["paths"][match]["get"]["responses"]
        if status not in responses:
            failures.append(f"{case['path']}: status {status} is not declared for {match}")
            continue
        declared = responses[status]
        content = declared.get("content", {}).get("application/json")
        if content is not None:
            schema = {"$ref": f"{SPEC_URI}#" + content["schema"]["$ref"].lstrip("#")}
            validator = jsonschema.Draft202012Validator(schema, registry=registry)
            for err in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
                where = "/".join(str(p) for p in err.absolute_path) or "(root)"
                failures.append(f"{case['path']} [{status}] {where}: {err.message[:300]}")
        headers = {k.lower() for k in case.get("headers", {})}
        for h in declared.get("headers", {}):
            if h.lower() not in headers:
                failures.append(f"{case['path']} [{status}]: header {h} is declared but missing")
    for t, _ in templates:
        if t not in used:
            failures.append(f"{t}: no case exercises this path")
    for f in failures:
        print(f)
    print(f"openapi_validate: {len(cases)} answers, {len(used)}/{len(templates)} paths, {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
