#!/usr/bin/env python3
"""Validates sockscope JSON output against schema/sockscope.schema.json.

    sockscope -tuapie --json | python3 Tests/Schema/validate.py SCHEMA listing
    sockscope -w --json --count 2 | python3 Tests/Schema/validate.py SCHEMA event   # NDJSON

DEF is `listing` (the schema document itself) or a name under $defs (summary, listeners, map,
event, port_event). `event` and `port_event` read one document per line. Prints every error and
exits 1 when there is any, 2 when the input is not JSON or empty; otherwise prints the count.
"""
import json
import sys

import jsonschema


def main():
    path, which = sys.argv[1], sys.argv[2]
    schema = json.load(open(path))
    jsonschema.Draft202012Validator.check_schema(schema)
    if which != "listing":
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/" + which}
    validator = jsonschema.Draft202012Validator(schema)
    text = sys.stdin.read()
    try:
        docs = [json.loads(l) for l in text.splitlines() if l.strip()] if which.endswith("event") else [json.loads(text)]
    except ValueError as e:
        print(f"{which}: not JSON: {e}")
        return 2
    if not docs:
        print(f"{which}: no input")
        return 2
    errors = [(i, e) for i, d in enumerate(docs) for e in validator.iter_errors(d)]
    for i, e in errors[:20]:
        print(f"{which}: document {i}, at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}")
    print(f"{which}: {len(docs)} documents, {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
