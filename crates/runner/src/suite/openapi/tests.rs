//! Documents shaped like FastAPI's and springdoc's output.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

/// FastAPI: UUID ids, a `{"data", "count"}` list with skip/limit, an OAuth2
/// password flow, 200 on create and delete, a health path; and a resource
/// whose create needs another one's id.
fn fastapi() -> Value {
    let item_out = json!({"$ref": "#/components/schemas/ItemPublic"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Full Stack FastAPI Project", "version": "0.1.0"},
        "paths": {
            "/api/v1/utils/health-check/": {"get": {"responses": {"200": {}}}},
            "/api/v1/items/": {
                "get": {
                    "parameters": [
                        {"name": "skip", "in": "query", "schema": {"type": "integer", "default": 0}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 100}}
                    ],
                    "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemsPublic"}}}}}
                },
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemCreate"}}}, "required": true},
                    "responses": {"200": {"content": {"application/json": {"schema": item_out}}}, "422": {}}
                }
            },
            "/api/v1/items/{id}": {
                "get": {"responses": {"200": {}}},
                "put": {"responses": {"200": {}}},
                "delete": {"responses": {"200": {}}}
            },
            "/api/v1/notes/": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["text", "item_id"],
                "properties": {"text": {"type": "string"}, "item_id": {"type": "string", "format": "uuid"}}}}}}}},
            "/api/v1/notes/{note_id}": {"delete": {"responses": {"204": {}}}},
            "/api/v1/comments/": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["body", "user_id"],
                "properties": {"body": {"type": "string"}, "user_id": {"type": "integer"}}}}}}}},
            "/api/v1/comments/{id}": {"delete": {"responses": {"204": {}}}},
            "/api/v1/items/{item_id}/tags/": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["label"], "properties": {"label": {"type": "string"}}}}}}}},
            "/api/v1/items/{item_id}/tags/{tag_id}": {"delete": {"responses": {"204": {}}}},
            "/api/v1/boards/{board_id}/cards/": {"post": {"requestBody": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}}}}}},
            "/api/v1/boards/{board_id}/cards/{card_id}": {"delete": {"responses": {"204": {}}}}
        },
        "components": {
            "schemas": {
                "ItemCreate": {"type": "object", "required": ["title"], "properties": {
                    "title": {"type": "string", "maxLength": 255, "minLength": 1},
                    "description": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
                "ItemPublic": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "title": {"type": "string"}}},
                "ItemsPublic": {"type": "object", "properties": {"data": {"type": "array", "items": item_out}, "count": {"type": "integer"}}}
            },
            "securitySchemes": {"OAuth2PasswordBearer": {"type": "oauth2", "flows": {"password": {"tokenUrl": "/api/v1/login/access-token", "scopes": {}}}}}
        }
    })
}

#[test]
fn a_fastapi_document_becomes_a_suite_that_validates() {
    let g = suite_from_openapi(&fastapi().to_string(), None).unwrap();
    let t = &g.text;
    assert_eq!(g.resources, ["items", "tags", "notes"]);
    let suite = crate::suite::parse(t, "generated").unwrap();
    assert_eq!(suite.health.as_deref(), Some("/api/v1/utils/health-check/"));
    assert!(suite.auth.is_some(), "{t}");
    for needle in [
        "path = \"/api/v1/login/access-token\"",
        "tag = \"/title\"",
        "delete = \"/api/v1/items/{id}\"",
        "list = \"/api/v1/items/?skip={offset}&limit=100\"",
        "items = \"/data\"",
        "body = { title = \"tracesplit {run_id} item {n}\" }",
        "name = \"ITEM_UPDATE\"",
        "{ method = \"PUT\", path = \"/api/v1/items/{fixture.id}\"",
        "capture = { id = \"/id\" }",
        "fixture = { kind = \"items\", per_iteration = true }",
    ] {
        assert!(t.contains(needle), "{needle} missing:\n{t}");
    }
    let names: Vec<&str> = suite.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ITEM_LIST",
            "ITEM_GET",
            "ITEM_UPDATE",
            "ITEM_CREATE",
            "ITEM_DELETE",
            "TAG_CREATE",
            "TAG_DELETE",
            "NOTE_CREATE",
            "NOTE_DELETE"
        ]
    );
    // A note refers to an item: a shared item fixture, its kind declared first.
    assert!(
        t.contains("item_id = \"{shared.items.id}\"")
            && t.find("name = \"items\"") < t.find("name = \"notes\""),
        "{t}"
    );
    // A collection under an item's id: the item is the tags' shared
    // fixture, in their create and delete paths and in the scenarios' steps.
    for needle in [
        "create = { path = \"/api/v1/items/{shared.items.id}/tags/\", body = { label = \"tracesplit {run_id} tag {n}\" } }",
        "delete = \"/api/v1/items/{shared.items.id}/tags/{id}\"",
        "{ method = \"DELETE\", path = \"/api/v1/items/{shared.items.id}/tags/{fixture.id}\", expect = [204] }",
    ] {
        assert!(t.contains(needle), "{needle} missing:\n{t}");
    }
    let tag_delete = suite
        .scenarios
        .iter()
        .find(|s| s.name == "TAG_DELETE")
        .unwrap();
    assert_eq!(suite.shared_needs(tag_delete), ["items"]);
    // What could not be made is said, not dropped silently.
    for why in [
        "# Not generated: comments — its create needs ids of resources the document has no create and delete for (user_id)",
        "# Not generated: cards — its collection /api/v1/boards/{board_id}/cards/ sits under {board_id}, which names no resource the document can create and delete",
    ] {
        assert!(t.contains(why), "{why}:\n{t}");
    }
}

/// springdoc (Spring Boot): integer ids, 201 on create, 204 on delete, a
/// `Page` with `content`, page/size paging (no offset), a bearer scheme.
#[test]
fn a_springdoc_document_with_integer_ids_and_pages() {
    let doc = json!({
        "openapi": "3.0.1",
        "info": {"title": "Petstore", "version": "v1"},
        "paths": {
            "/pets": {
                "get": {"parameters": [{"name": "page", "in": "query"}, {"name": "size", "in": "query"}],
                        "responses": {"200": {"content": {"application/json": {"schema": {"type": "object",
                            "properties": {"content": {"type": "array"}, "totalElements": {"type": "integer"}}}}}}}},
                "post": {"requestBody": {"content": {"application/json": {"schema": {"type": "object",
                            "required": ["name", "species"],
                            "properties": {"name": {"type": "string"}, "species": {"type": "string", "enum": ["cat", "dog"]},
                                           "age": {"type": "integer", "format": "int32"}}}}}},
                         "responses": {"201": {"content": {"application/json": {"schema": {"type": "object",
                            "properties": {"petId": {"type": "integer", "format": "int64"}, "name": {"type": "string"}}}}}}}}
            },
            "/pets/{petId}": {"get": {"responses": {"200": {}}}, "patch": {"responses": {"200": {}}},
                              "delete": {"responses": {"204": {}}}}
        },
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}}
    });
    let g = suite_from_openapi(&doc.to_string(), None).unwrap();
    let t = &g.text;
    for needle in [
        "body = { name = \"tracesplit {run_id} pet {n}\", species = \"cat\" }",
        "id = \"/petId\"",
        "delete = \"/pets/{id}\"",
        "list = \"/pets?size=100\"",
        "items = \"/content\"",
        "expect = [201], capture = { id = \"/petId\" }",
        "{ method = \"DELETE\", path = \"/pets/{fixture.id}\", expect = [204] }",
        "{ method = \"PATCH\"",
        "-H 'Authorization: Bearer ${API_TOKEN}'",
        "# No health path found",
    ] {
        assert!(t.contains(needle), "{needle} missing:\n{t}");
    }
}

#[test]
fn documents_that_are_not_openapi_or_have_nothing_to_create_say_so() {
    let e = suite_from_openapi("{\"openapi\": [", None)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("neither JSON (") && e.contains("nor YAML (") && e.contains("/openapi.json"),
        "{e}"
    );
    let e = suite_from_openapi("openapi: 3.0.0", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an OpenAPI 3 document"), "{e}");
    let e = suite_from_openapi(r#"{"swagger": "2.0", "paths": {}}"#, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an OpenAPI 3 document"), "{e}");
    let only = ["pets".to_owned()];
    let e = suite_from_openapi(&fastapi().to_string(), Some(&only))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("no resource has both a create"), "{e}");
}

/// NestJS (@nestjs/swagger): a list answering a plain array, 201 on create,
/// DTOs with examples, a bearer scheme.
#[test]
fn a_nestjs_document_with_a_plain_array_list() {
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Cats example", "version": "1.0"},
        "paths": {
            "/cats": {
                "get": {"responses": {"200": {"content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Cat"}}}}}}},
                "post": {"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateCatDto"}}}},
                         "responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cat"}}}}}}
            },
            "/cats/{id}": {"get": {"responses": {"200": {}}}, "delete": {"responses": {"200": {}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "CreateCatDto": {"type": "object", "required": ["name", "age", "breed"], "properties": {
                    "name": {"type": "string"}, "age": {"type": "integer", "example": 3}, "breed": {"type": "string", "example": "Maine Coon"}}},
                "Cat": {"type": "object", "properties": {"id": {"type": "number"}, "name": {"type": "string"}}}
            }
        }
    });
    let g = suite_from_openapi(&doc.to_string(), None).unwrap();
    let t = &g.text;
    for needle in [
        "body = { age = 3, breed = \"Maine Coon\", name = \"tracesplit {run_id} cat {n}\" }",
        "list = \"/cats\"",
        "expect = [201], capture = { id = \"/id\" }",
        "name = \"CAT_LIST\"",
        "-H 'Authorization: Bearer ${API_TOKEN}'",
    ] {
        assert!(t.contains(needle), "{needle} missing:\n{t}");
    }
    assert!(
        !t.contains("items ="),
        "a plain array: no items pointer\n{t}"
    );
}

/// A document written in YAML, as specifications often are (the OpenAPI
/// Initiative's petstore-expanded): unquoted status codes, `$ref`s, a list
/// answering a plain array paged by `limit`, 200 on create, 204 on delete.
#[test]
fn a_yaml_document_reads_as_its_json_would() {
    let yaml = r#"
openapi: "3.0.0"
info:
  title: Swagger Petstore
  version: 1.0.0
paths:
  /pets:
    get:
      parameters:
        - name: limit
          in: query
          schema: { type: integer, format: int32 }
      responses:
        200:
          description: pet response
          content:
            application/json:
              schema:
                type: array
                items:
                  $ref: '#/components/schemas/Pet'
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/NewPet'
      responses:
        200:
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Pet'
  /pets/{id}:
    get:
      responses:
        200: { description: pet response }
    delete:
      responses:
        204: { description: pet deleted }
components:
  schemas:
    Pet:
      allOf:
        - $ref: '#/components/schemas/NewPet'
        - type: object
          required: [id]
          properties:
            id: { type: integer, format: int64 }
    NewPet:
      type: object
      required: [name]
      properties:
        name: { type: string }
        tag: { type: string }
"#;
    let from_yaml = suite_from_openapi(yaml, None).unwrap();
    let json = serde_json::to_string(&document(yaml).unwrap()).unwrap();
    assert_eq!(
        suite_from_openapi(&json, None).unwrap().text,
        from_yaml.text
    );
    let t = &from_yaml.text;
    for needle in [
        "body = { name = \"tracesplit {run_id} pet {n}\" }",
        "delete = \"/pets/{id}\"",
        "list = \"/pets?limit=100\"",
        "expect = [200], capture = { id = \"/id\" }",
        "{ method = \"DELETE\", path = \"/pets/{fixture.id}\", expect = [204] }",
    ] {
        assert!(t.contains(needle), "{needle} missing:\n{t}");
    }
}

/// Paths relative to the document's server (`servers: [{url: /api/v3}]`,
/// as the Swagger petstore's), OpenAPI 3.1's type lists (`["string",
/// "null"]`) and a JSON media type with parameters.
#[test]
fn a_servers_path_prefixes_every_path_and_type_lists_read_as_their_type() {
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Shop", "version": "1"},
        "servers": [{"url": "https://{host}/api/{version}",
                     "variables": {"host": {"default": "shop.example"}, "version": {"default": "v3"}}}],
        "paths": {
            "/health": {"get": {"responses": {"200": {}}}},
            "/orders": {
                "get": {"responses": {"200": {"content": {"application/json": {"schema": {"type": ["array", "null"]}}}}}},
                "post": {"requestBody": {"content": {"application/json; charset=utf-8": {"schema": {"type": "object",
                    "required": ["reference", "quantity", "note"],
                    "properties": {"reference": {"type": ["string", "null"]},
                                   "quantity": {"type": ["integer", "null"], "minimum": 2},
                                   "note": {"type": ["null", "string"]}}}}}},
                         "responses": {"201": {}}}
            },
            "/orders/{orderId}": {"delete": {"responses": {"204": {}}}}
        }
    });
    let g = suite_from_openapi(&doc.to_string(), None).unwrap();
    let t = &g.text;
    for needle in [
        "health = \"/api/v3/health\"",
        "# Its paths include the document's server path /api/v3: --base-url is the",
        "create = { path = \"/api/v3/orders\"",
        "note = \"tracesplit {run_id} order {n}\"",
        "quantity = 2",
        "reference = \"tracesplit reference\"",
        "delete = \"/api/v3/orders/{id}\"",
        "list = \"/api/v3/orders\"",
    ] {
        assert!(t.contains(needle), "{needle} missing:\n{t}");
    }
    assert!(!t.contains("items ="), "a list answering an array\n{t}");
    // A server given as a bare origin adds nothing.
    let mut origin = doc.clone();
    origin["servers"] = json!([{"url": "http://localhost:8080/"}]);
    let t = suite_from_openapi(&origin.to_string(), None).unwrap().text;
    assert!(t.contains("create = { path = \"/orders\""), "{t}");
    assert!(!t.contains("server path"), "{t}");
}
