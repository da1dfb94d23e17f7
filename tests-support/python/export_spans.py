"""Exports spans with the OpenTelemetry Python SDK's own OTLP exporters.

Used by tracesplit's interop tests: it sends nested traces with attributes,
events and links to a collector over OTLP/gRPC or OTLP/HTTP (protobuf), and
prints on stdout, as JSON, every span it exported (ids, parent, kind, times,
attributes) so the test can compare them with the span store.
"""

import argparse
import json
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.trace import Link, SpanKind


class Recorder(SpanProcessor):
    """Remembers every ended span as plain data."""

    def __init__(self):
        self.spans = []

    def on_end(self, span):
        ctx = span.get_span_context()
        self.spans.append({
            "trace_id": format(ctx.trace_id, "032x"),
            "span_id": format(ctx.span_id, "016x"),
            "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
            "name": span.name,
            "kind": span.kind.name,
            "start_unix_nano": span.start_time,
            "end_unix_nano": span.end_time,
            "attributes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in span.attributes.items()},
            "events": [e.name for e in span.events],
            "links": [format(l.context.span_id, "016x") for l in span.links],
        })


class Checked:
    """Wraps an exporter and remembers whether any export failed."""

    def __init__(self, inner):
        self.inner = inner
        self.failed = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result != SpanExportResult.SUCCESS:
            self.failed += len(spans)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def exporter(protocol, endpoint, token, cacert=None):
    headers = {"authorization": f"Bearer {token}"} if token else None
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        if cacert:
            import grpc
            with open(cacert, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            return OTLPSpanExporter(endpoint=endpoint, insecure=False,
                                    credentials=credentials, headers=headers)
        return OTLPSpanExporter(endpoint=endpoint, insecure=True, headers=headers)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", headers=headers,
                            certificate_file=cacert)


def emit(tracer, traces):
    for t in range(traces):
        with tracer.start_as_current_span(
            f"GET /items/{t}", kind=SpanKind.SERVER,
            attributes={"http.route": "/items/{id}", "http.status_code": 200, "ratio": 0.5,
                        "cached": False, "tags": ["a", "b"], "trace.index": t},
        ) as root:
            root.add_event("accepted", {"queue": "main"})
            with tracer.start_as_current_span("load_item", kind=SpanKind.INTERNAL):
                with tracer.start_as_current_span(
                    "SELECT items", kind=SpanKind.CLIENT,
                    attributes={"db.system": "postgresql", "db.statement": "SELECT count(id) FROM items"},
                    links=[Link(root.get_span_context(), {"why": "root"})],
                ):
                    pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["grpc", "http"], required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--traces", type=int, default=10)
    parser.add_argument("--token")
    parser.add_argument("--cacert", help="trust this CA (PEM): the endpoint is https")
    args = parser.parse_args()

    provider = TracerProvider(resource=Resource.create({"service.name": f"interop-python-{args.protocol}"}))
    recorder = Recorder()
    checked = Checked(exporter(args.protocol, args.endpoint, args.token, args.cacert))
    provider.add_span_processor(recorder)
    provider.add_span_processor(BatchSpanProcessor(checked, max_export_batch_size=64))
    emit(provider.get_tracer("interop.python"), args.traces)
    provider.shutdown()
    json.dump(recorder.spans, sys.stdout)
    if checked.failed:
        print(f"\n{checked.failed} spans failed to export", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
