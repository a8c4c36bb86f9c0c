#!/usr/bin/env python3
"""Validate an OCDS release package against the official OCDS 1.1 release-package and release schemas.

usage: ocds_validate.py PACKAGE.json SCHEMA_DIR

SCHEMA_DIR holds release-package-schema.json and release-schema.json (tests/data/ocds-1.1, taken from
PyPI packages; see its README). The package schema's $ref to the release schema's URL is resolved to the
local file, never fetched. Validation is JSON Schema draft 4 with format checks (date-time, uri), as the
schemas declare. Exit 0 when valid; 1 with one line per error; 2 when the validator or schemas are missing.
"""
import json
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4
except ImportError as e:  # never skip: a missing validator is a failure
    print(f"ocds_validate: the Python 'jsonschema' package is required ({e}); run scripts/test.sh", file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    package_path, schema_dir = sys.argv[1], sys.argv[2]
    with open(f"{schema_dir}/release-package-schema.json", encoding="utf-8") as f:
        package_schema = json.load(f)
    with open(f"{schema_dir}/release-schema.json", encoding="utf-8") as f:
        release_schema = json.load(f)
    missing = {"date-time", "uri"} - set(jsonschema.Draft4Validator.FORMAT_CHECKER.checkers)
    if missing:
        print(f"ocds_validate: format checks {sorted(missing)} unavailable: pip install rfc3339-validator "
              "rfc3986-validator (scripts/test.sh does)", file=sys.stderr)
        sys.exit(2)
    for s in (package_schema, release_schema):
        if "/schema/1__1__" not in s.get("id", ""):
            print(f"ocds_validate: {s.get('id')!r} is not an OCDS 1.1 schema", file=sys.stderr)
            sys.exit(2)
    registry = Registry().with_resource(release_schema["id"], Resource.from_contents(release_schema, DRAFT4))
    with open(package_path, encoding="utf-8") as f:
        package = json.load(f)
    validator = jsonschema.Draft4Validator(
        package_schema, registry=registry, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(package), key=lambda e: list(e.absolute_path))
    for e in errors:
        path = "/".join(str(p) for p in e.absolute_path)
        print(f"{path or '(root)'}: {e.message}")
    if errors:
        sys.exit(1)
    print(f"valid OCDS {package.get('version')} release package ({len(package.get('releases', []))} release(s))")


if __name__ == "__main__":
    main()
