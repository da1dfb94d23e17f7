"""Validates JSON files against a JSON Schema (Draft 2020-12) with the
`jsonschema` package; prints every error with its path and exits 1 on any."""
import json
import sys

from jsonschema import Draft202012Validator

schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
bad = 0
for path in sys.argv[2:]:
    for error in validator.iter_errors(json.load(open(path))):
        bad += 1
        # "not valid under any of the given schemas": name the innermost cause.
        while error.context:
            error = max(error.context, key=lambda e: len(e.absolute_path))
        where = "/".join(str(p) for p in error.absolute_path)
        print(f"{path}: at /{where}: {error.message[:300]}")
print(f"checked {len(sys.argv) - 2} files, {bad} errors")
sys.exit(1 if bad else 0)
