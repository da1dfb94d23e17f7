"""A small API shaped like a Spring Boot service documented by springdoc:
integer ids, 201 on create with the entity, 204 on delete, `Page` lists
(`{"content": [...], "totalElements": n}`, `page`/`size` paging), owners
and pets where a pet's create names its owner (`ownerId`), visits nested under
their owner (`/api/owners/{ownerId}/visits/{visitId}`), vets created with a
bare `201 Created` and a `Location` header (ResponseEntity.created(uri)
.build(), no body), an API key header,
and its OpenAPI document at /v3/api-docs (JSON) and /v3/api-docs.yaml (YAML,
block style, unquoted status codes, as springdoc writes it). An owner with pets or visits cannot
be deleted (409), as a foreign key would refuse it. State is in memory.

Usage: springdoc_api.py. Prints its port; on SIGTERM a JSON line with what is
left: {"owners": N, "pets": M, "visits": V, "vets": W, "requests": R}.
"""

import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = "s3cret"
lock = threading.Lock()
state = {"owners": {}, "pets": {}, "visits": {}, "vets": {}, "next": 1, "requests": 0}

DOC = {
    "openapi": "3.0.1",
    "info": {"title": "Petclinic", "version": "v1"},
    "paths": {
        "/api/owners": {
            "get": {"parameters": [{"name": "page", "in": "query", "schema": {"type": "integer"}},
                                   {"name": "size", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PageOwner"}}}}}},
            "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/OwnerRequest"}}}},
                     "responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Owner"}}}}}},
        },
        "/api/owners/{ownerId}": {
            "get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Owner"}}}}}},
            "delete": {"responses": {"204": {"description": "deleted"}}},
        },
        "/api/owners/{ownerId}/visits": {
            "get": {"parameters": [{"name": "ownerId", "in": "path", "required": True, "schema": {"type": "integer"}},
                                   {"name": "page", "in": "query", "schema": {"type": "integer"}},
                                   {"name": "size", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PageVisit"}}}}}},
            "post": {"parameters": [{"name": "ownerId", "in": "path", "required": True, "schema": {"type": "integer"}}],
                     "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/VisitRequest"}}}},
                     "responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Visit"}}}}}},
        },
        "/api/owners/{ownerId}/visits/{visitId}": {
            "get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Visit"}}}}}},
            "delete": {"responses": {"204": {"description": "deleted"}}},
        },
        "/api/vets": {
            "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/VetRequest"}}}},
                     "responses": {"201": {"description": "created",
                                           "headers": {"Location": {"schema": {"type": "string"}}}}}},
        },
        "/api/vets/{vetId}": {
            "get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Vet"}}}}}},
            "delete": {"responses": {"204": {"description": "deleted"}}},
        },
        "/api/pets": {
            "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PetRequest"}}}},
                     "responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}},
        },
        "/api/pets/{petId}": {
            "get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}},
            "patch": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PetRequest"}}}},
                      "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}},
            "delete": {"responses": {"204": {"description": "deleted"}}},
        },
    },
    "components": {
        "schemas": {
            "OwnerRequest": {"type": "object", "required": ["lastName", "city"],
                             "properties": {"lastName": {"type": "string", "minLength": 1},
                                            "city": {"type": "string", "example": "Madison"}}},
            "Owner": {"type": "object", "properties": {"id": {"type": "integer", "format": "int64"},
                                                       "lastName": {"type": "string"}, "city": {"type": "string"}}},
            "PageOwner": {"type": "object", "properties": {"content": {"type": "array", "items": {"$ref": "#/components/schemas/Owner"}},
                                                           "totalElements": {"type": "integer"}}},
            "PetRequest": {"type": "object", "required": ["name", "type", "ownerId"],
                           "properties": {"name": {"type": "string"}, "type": {"type": "string", "enum": ["cat", "dog"]},
                                          "ownerId": {"type": "integer", "format": "int64"},
                                          "birthDate": {"type": "string", "format": "date"}}},
            "VisitRequest": {"type": "object", "required": ["description", "date"],
                             "properties": {"description": {"type": "string", "maxLength": 255},
                                            "date": {"type": "string", "format": "date"}}},
            "Visit": {"type": "object", "properties": {"id": {"type": "integer"}, "description": {"type": "string"},
                                                       "date": {"type": "string"}, "ownerId": {"type": "integer"}}},
            "PageVisit": {"type": "object", "properties": {"content": {"type": "array", "items": {"$ref": "#/components/schemas/Visit"}},
                                                           "totalElements": {"type": "integer"}}},
            "VetRequest": {"type": "object", "required": ["lastName"],
                           "properties": {"lastName": {"type": "string"}, "specialty": {"type": "string", "enum": ["surgery", "dentistry"]}}},
            "Vet": {"type": "object", "properties": {"id": {"type": "integer"}, "lastName": {"type": "string"}}},
            "Pet": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                                     "type": {"type": "string"}, "ownerId": {"type": "integer"}}},
        },
        "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
    },
}


def yaml(value, indent=0):
    """`value` as block-style YAML (what springdoc's .yaml endpoint serves):
    mappings and sequences on their own lines, status codes unquoted."""
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            key = k if k.isdigit() or k.replace("_", "").isalnum() else json.dumps(k)
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{key}:\n{yaml(v, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {scalar(v)}")
        return "\n".join(lines)
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, (dict, list)) and v:
                body = yaml(v, indent + 1).lstrip()
                out.append(f"{pad}- {body}")
            else:
                out.append(f"{pad}- {scalar(v)}")
        return "\n".join(out)
    return pad + scalar(value)


def scalar(v):
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(v)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        path, _, query = self.path.partition("?")
        parts = [p for p in path.split("/") if p]
        return parts, dict(q.split("=", 1) for q in query.split("&") if "=" in q)

    def allowed(self):
        with lock:
            state["requests"] += 1
        if self.path.startswith("/v3/api-docs"):
            return True
        if self.headers.get("X-API-Key") != KEY:
            self.send(401, {"error": "Unauthorized"})
            return False
        return True

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        if not self.allowed():
            return
        parts, query = self.route()
        if parts == ["v3", "api-docs"]:
            return self.send(200, DOC)
        if parts == ["v3", "api-docs.yaml"]:
            data = yaml(DOC).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oai.openapi")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return self.wfile.write(data)
        if len(parts) in (4, 5) and parts[:2] == ["api", "owners"] and parts[3] == "visits":
            return self.get_visits(parts, query)
        if parts[:2] not in (["api", "owners"], ["api", "pets"], ["api", "vets"]):
            return self.send(404, {"error": "Not Found"})
        table = state[parts[1]]
        with lock:
            if len(parts) == 2:
                page, size = int(query.get("page", 0)), int(query.get("size", 20))
                rows = sorted(table.values(), key=lambda r: r["id"])
                return self.send(200, {"content": rows[page * size:(page + 1) * size], "totalElements": len(rows)})
            row = table.get(int(parts[2])) if parts[2].isdigit() else None
        return self.send(200, row) if row else self.send(404, {"error": "Not Found"})

    def owner_of(self, parts):
        """The owner id of a nested path, or None (and a 404 sent)."""
        owner = int(parts[2]) if parts[2].isdigit() else None
        if owner not in state["owners"]:
            self.send(404, {"error": f"no owner {parts[2]}"})
            return None
        return owner

    def get_visits(self, parts, query):
        with lock:
            owner = self.owner_of(parts)
            if owner is None:
                return None
            mine = sorted((v for v in state["visits"].values() if v["ownerId"] == owner), key=lambda r: r["id"])
            if len(parts) == 4:
                page, size = int(query.get("page", 0)), int(query.get("size", 20))
                return self.send(200, {"content": mine[page * size:(page + 1) * size], "totalElements": len(mine)})
            row = next((v for v in mine if str(v["id"]) == parts[4]), None)
        return self.send(200, row) if row else self.send(404, {"error": "Not Found"})

    def do_POST(self):
        if not self.allowed():
            return
        parts, _ = self.route()
        b = self.body()
        with lock:
            if parts == ["api", "owners"]:
                if not b.get("lastName") or not b.get("city"):
                    return self.send(400, {"error": "lastName and city are required"})
                row = {"lastName": b["lastName"], "city": b["city"]}
            elif len(parts) == 4 and parts[:2] == ["api", "owners"] and parts[3] == "visits":
                owner = self.owner_of(parts)
                if owner is None:
                    return None
                if not b.get("description") or len(b.get("date", "")) != 10:
                    return self.send(400, {"error": "description and date (YYYY-MM-DD) are required"})
                row = {"description": b["description"], "date": b["date"], "ownerId": owner}
                row["id"] = state["next"]
                state["next"] += 1
                state["visits"][row["id"]] = row
                return self.send(201, row)
            elif parts == ["api", "vets"]:
                if not b.get("lastName"):
                    return self.send(400, {"error": "lastName is required"})
                vet = state["next"]
                state["next"] += 1
                state["vets"][vet] = {"id": vet, "lastName": b["lastName"]}
                self.send_response(201)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/api/vets/{vet}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            elif parts == ["api", "pets"]:
                if b.get("ownerId") not in state["owners"] or b.get("type") not in ("cat", "dog"):
                    return self.send(400, {"error": f"no owner {b.get('ownerId')!r} or bad type"})
                row = {"name": b.get("name", ""), "type": b["type"], "ownerId": b["ownerId"]}
            else:
                return self.send(404, {"error": "Not Found"})
            row["id"] = state["next"]
            state["next"] += 1
            state[parts[1]][row["id"]] = row
        return self.send(201, row)

    def do_PATCH(self):
        if not self.allowed():
            return
        parts, _ = self.route()
        b = self.body()
        with lock:
            row = state["pets"].get(int(parts[2])) if parts[:2] == ["api", "pets"] and parts[2].isdigit() else None
            if row is None:
                return self.send(404, {"error": "Not Found"})
            row.update({k: v for k, v in b.items() if k in ("name", "type")})
        return self.send(200, row)

    def do_DELETE(self):
        if not self.allowed():
            return
        parts, _ = self.route()
        with lock:
            if len(parts) == 5 and parts[:2] == ["api", "owners"] and parts[3] == "visits":
                if self.owner_of(parts) is None:
                    return None
                row = state["visits"].get(int(parts[4])) if parts[4].isdigit() else None
                if row is None or str(row["ownerId"]) != parts[2]:
                    return self.send(404, {"error": "Not Found"})
                del state["visits"][row["id"]]
                return self.send(204)
            if len(parts) == 3 and parts[:2] == ["api", "owners"] and parts[2].isdigit():
                owner = int(parts[2])
                if any(p["ownerId"] == owner for t in ("pets", "visits") for p in state[t].values()):
                    return self.send(409, {"error": "the owner has pets or visits"})
            table = state.get(parts[1]) if len(parts) == 3 else None
            if table is None or not parts[2].isdigit() or table.pop(int(parts[2]), None) is None:
                return self.send(404, {"error": "Not Found"})
        return self.send(204)


def report(*_):
    with lock:
        print(json.dumps({"owners": len(state["owners"]), "pets": len(state["pets"]),
                          "visits": len(state["visits"]), "vets": len(state["vets"]),
                          "requests": state["requests"]}), flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
