"""Reads a JUnit XML file with junitparser (a consumer we did not write) and
prints what it understood as JSON, for the Rust tests to assert on."""
import json
import sys

from junitparser import Failure, JUnitXml

xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        results = []
        for r in case.result:
            results.append({
                "kind": "failure" if isinstance(r, Failure) else type(r).__name__.lower(),
                "message": r.message,
                "type": r.type,
                "text": r.text,
            })
        cases.append({
            "name": case.name,
            "classname": case.classname,
            "time": case.time,
            "passed": case.is_passed,
            "results": results,
            "system_out": case.system_out,
        })
    suites.append({
        "name": suite.name,
        "tests": suite.tests,
        "failures": suite.failures,
        "errors": suite.errors,
        "cases": cases,
    })
print(json.dumps({"suites": suites}))
