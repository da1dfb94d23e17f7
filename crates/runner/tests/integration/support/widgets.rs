//! A small API that is not the catalog: another path layout, string ids,
//! entities wrapped in `{"data": …}`, lists in `{"results": […]}` paged by
//! `start`, and a get-or-create endpoint (colors, by `hex`) that answers 201
//! with the row it already has.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Items per list page.
pub const PAGE: usize = 10;

/// The API's data, readable by the test.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Data {
    pub widgets: BTreeMap<String, Value>,
    pub parts: BTreeMap<String, Value>,
    pub colors: BTreeMap<String, Value>,
    next: u64,
}

type Db = Arc<Mutex<Data>>;

pub struct WidgetsApi {
    pub addr: SocketAddr,
    pub data: Db,
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(json!({ "data": v }))).into_response()
}

fn page(items: Vec<Value>, q: &HashMap<String, String>) -> Response {
    let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let results: Vec<Value> = items.into_iter().skip(start).take(PAGE).collect();
    axum::Json(json!({ "results": results })).into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "not found"})),
    )
        .into_response()
}

async fn create_widget(State(db): State<Db>, body: axum::Json<Value>) -> Response {
    let mut d = db.lock().unwrap();
    d.next += 1;
    let uuid = format!("w-{:04x}", d.next);
    let mut v = body.0;
    v["uuid"] = json!(uuid);
    d.widgets.insert(uuid, v.clone());
    created(v)
}

async fn create_part(State(db): State<Db>, body: axum::Json<Value>) -> Response {
    let mut d = db.lock().unwrap();
    let widget = body.0["widget"].as_str().unwrap_or_default().to_owned();
    let color = body.0["color"].as_str().unwrap_or_default().to_owned();
    if !d.widgets.contains_key(&widget) || !d.colors.contains_key(&color) {
        return (StatusCode::UNPROCESSABLE_ENTITY, "unknown widget or color").into_response();
    }
    d.next += 1;
    let uuid = format!("p-{:04x}", d.next);
    let mut v = body.0;
    v["uuid"] = json!(uuid);
    d.parts.insert(uuid, v.clone());
    created(v)
}

/// Get-or-create by `hex`: an existing color is answered as if created.
async fn create_color(State(db): State<Db>, body: axum::Json<Value>) -> Response {
    let mut d = db.lock().unwrap();
    if let Some(existing) = d.colors.values().find(|c| c["hex"] == body.0["hex"]) {
        return created(existing.clone());
    }
    d.next += 1;
    let uuid = format!("c-{:04x}", d.next);
    let mut v = body.0;
    v["uuid"] = json!(uuid);
    d.colors.insert(uuid, v.clone());
    created(v)
}

async fn patch_widget(
    State(db): State<Db>,
    Path(id): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let mut d = db.lock().unwrap();
    let Some(w) = d.widgets.get_mut(&id) else {
        return not_found();
    };
    if let (Some(w), Some(b)) = (w.as_object_mut(), body.0.as_object()) {
        w.extend(b.clone());
    }
    axum::Json(json!({ "data": w })).into_response()
}

async fn delete_widget(State(db): State<Db>, Path(id): Path<String>) -> Response {
    let mut d = db.lock().unwrap();
    if d.parts.values().any(|p| p["widget"] == json!(id)) {
        return (StatusCode::CONFLICT, "widget has parts").into_response();
    }
    match d.widgets.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(),
    }
}

async fn delete_part(State(db): State<Db>, Path(id): Path<String>) -> Response {
    match db.lock().unwrap().parts.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(),
    }
}

async fn delete_color(State(db): State<Db>, Path(id): Path<String>) -> Response {
    let mut d = db.lock().unwrap();
    if d.parts.values().any(|p| p["color"] == json!(id)) {
        return (StatusCode::CONFLICT, "color in use").into_response();
    }
    match d.colors.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(),
    }
}

impl WidgetsApi {
    /// Starts with one customer widget (with a part) and the color red.
    pub async fn start() -> Self {
        let mut data = Data::default();
        data.colors.insert(
            "c-red".into(),
            json!({"uuid": "c-red", "name": "red", "hex": "#ff0000"}),
        );
        data.widgets.insert(
            "w-cust".into(),
            json!({"uuid": "w-cust", "label": "customer widget", "size": 1}),
        );
        data.parts.insert(
            "p-cust".into(),
            json!({"uuid": "p-cust", "name": "customer part", "widget": "w-cust", "color": "c-red"}),
        );
        let db: Db = Arc::new(Mutex::new(data));
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route(
                "/api/v2/widgets",
                post(create_widget).get(
                    |State(db): State<Db>, Query(q): Query<HashMap<String, String>>| async move {
                        let items = db.lock().unwrap().widgets.values().cloned().collect();
                        page(items, &q)
                    },
                ),
            )
            .route(
                "/api/v2/widgets/{id}",
                get(|State(db): State<Db>, Path(id): Path<String>| async move {
                    match db.lock().unwrap().widgets.get(&id) {
                        Some(w) => axum::Json(json!({ "data": w })).into_response(),
                        None => not_found(),
                    }
                })
                .patch(patch_widget)
                .delete(delete_widget),
            )
            .route(
                "/api/v2/widgets/{id}/parts",
                get(
                    |State(db): State<Db>,
                     Path(id): Path<String>,
                     Query(q): Query<HashMap<String, String>>| async move {
                        let items = db
                            .lock()
                            .unwrap()
                            .parts
                            .values()
                            .filter(|p| p["widget"] == json!(id))
                            .cloned()
                            .collect();
                        page(items, &q)
                    },
                ),
            )
            .route("/api/v2/parts", post(create_part))
            .route("/api/v2/parts/{id}", axum::routing::delete(delete_part))
            .route(
                "/api/v2/colors",
                post(create_color).get(|State(db): State<Db>| async move {
                    let items: Vec<Value> = db.lock().unwrap().colors.values().cloned().collect();
                    axum::Json(json!({ "results": items })).into_response()
                }),
            )
            .route("/api/v2/colors/{id}", axum::routing::delete(delete_color))
            .with_state(db.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, data: db }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data(&self) -> Data {
        self.data.lock().unwrap().clone()
    }
}

/// A suite for this API: fixture kinds as data, no catalog path anywhere.
pub const SUITE: &str = r##"
name = "widgets"
watch = ["colors"]

[[kind]]
name = "colors"
create = { path = "/api/v2/colors", body = { name = "tracesplit {run_id} color", hex = "#ff0000" } }
answer = "/data"
id = "/uuid"
tag = "/name"
delete = "/api/v2/colors/{id}"
list = "/api/v2/colors"
items = "/results"

[[kind]]
name = "widgets"
create = { path = "/api/v2/widgets", body = { label = "tracesplit {run_id} widget {n}", size = 3 } }
answer = "/data"
id = "/uuid"
tag = "/label"
delete = "/api/v2/widgets/{id}"
list = "/api/v2/widgets?start={offset}"
items = "/results"
children = [{ kind = "parts", field = "widget", list = "/api/v2/widgets/{id}/parts?start={offset}" }]

[[kind]]
name = "parts"
create = { path = "/api/v2/parts", body = { name = "tracesplit {run_id} part {n}", color = "{shared.colors.id}" } }
answer = "/data"
id = "/uuid"
tag = "/name"
delete = "/api/v2/parts/{id}"
items = "/results"

[[scenario]]
name = "WIDGET_PATCH"
entity_type = "WIDGET"
operation = "PATCH"
target_p95_ms = 1000
fixture = { kind = "widgets", children = 25 }
steps = [{ method = "PATCH", path = "/api/v2/widgets/{fixture.id}", body = { size = "{iteration}" }, expect = [200] }]

[[scenario]]
name = "WIDGET_DELETE"
entity_type = "WIDGET"
operation = "DELETE"
target_p95_ms = 1000
fixture = { kind = "widgets", per_iteration = true }
steps = [{ method = "DELETE", path = "/api/v2/widgets/{fixture.id}", expect = [204] }]
"##;
