"""Decodes an OTLP ExportTraceServiceRequest (protobuf) with the official
opentelemetry-proto Python bindings and prints it as JSON (protobuf's JSON
mapping), so that tests can check an encoder they wrote against a decoder they
did not."""

import json
import sys

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

request = ExportTraceServiceRequest()
with open(sys.argv[1], "rb") as f:
    request.ParseFromString(f.read())
print(json.dumps(MessageToDict(request)))
