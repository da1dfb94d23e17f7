//! The catalog's HTTP contract (CATALOG_API.md), over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tracesplit_catalog_demo::{CatalogConfig, CatalogHandle, CatalogServer};

async fn start() -> CatalogHandle {
    let config = CatalogConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        telemetry: None,
        ..Default::default()
    };
    CatalogServer::start(config).await.unwrap()
}

struct Api {
    base: String,
    client: Client,
}

impl Api {
    fn new(h: &CatalogHandle) -> Self {
        tracesplit_net::client_tls::use_ring_by_default();
        Self {
            base: h.base_url(),
            client: Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
        )
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

fn loc(v: &Value) -> Value {
    v["detail"][0]["loc"].clone()
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let h = start().await;
    let api = Api::new(&h);
    assert_eq!(
        api.get("/health").await,
        (
            StatusCode::OK,
            json!({"status": "ok", "environment": "development"})
        )
    );
    assert_eq!(
        api.get("/v1/nothing").await,
        (StatusCode::NOT_FOUND, json!({"detail": "Not Found"}))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn cpu_lifecycle_with_every_error_answer() {
    let h = start().await;
    let api = Api::new(&h);
    let (s, cpu) = api
        .post(
            "/v1/catalog/cpus",
            json!({"name": "X1", "manufacturer": "Intel", "attributes": {"a": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = cpu["id"].as_i64().unwrap();
    assert_eq!(cpu["attributes_json"], json!({"a": 1}));
    assert!(cpu["created_at"].as_str().unwrap().contains('T'));
    assert_eq!(
        api.post(
            "/v1/catalog/cpus",
            json!({"name": "X1", "manufacturer": "AMD"})
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "CPU already exists"})
        )
    );
    let (s, v) = api.post("/v1/catalog/cpus", json!({"name": "X2"})).await;
    assert_eq!(
        (s, loc(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["body", "manufacturer"])
        )
    );
    let (s, v) = api
        .post(
            "/v1/catalog/cpus",
            json!({"name": "X3", "manufacturer": "Intel", "cores": "many"}),
        )
        .await;
    assert_eq!(
        (s, v["detail"][0]["type"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("int_parsing"))
    );

    let (s, got) = api.get(&format!("/v1/catalog/cpus/{id}")).await;
    assert_eq!((s, got["name"].clone()), (StatusCode::OK, json!("X1")));
    assert_eq!(
        api.get("/v1/catalog/cpus/999999").await,
        (
            StatusCode::NOT_FOUND,
            json!({"detail": "CPU with id 999999 not found"})
        )
    );
    let (s, v) = api.get("/v1/catalog/cpus/abc").await;
    assert_eq!(
        (s, loc(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["path", "cpu_id"]))
    );

    let (s, v) = api
        .patch(
            &format!("/v1/catalog/cpus/{id}"),
            json!({"notes": "patched", "attributes": {"b": 2}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            v["notes"].clone(),
            v["attributes_json"].clone(),
            v["manufacturer"].clone()
        ),
        (json!("patched"), json!({"a": 1, "b": 2}), json!("Intel"))
    );
    let (s, v) = api
        .put(
            &format!("/v1/catalog/cpus/{id}"),
            json!({"cores": 8, "attributes": {"c": 3}}),
        )
        .await;
    assert_eq!(
        (
            s,
            v["cores"].clone(),
            v["attributes_json"].clone(),
            v["notes"].clone()
        ),
        (StatusCode::OK, json!(8), json!({"c": 3}), json!("patched"))
    );
    let (s, v) = api
        .patch(&format!("/v1/catalog/cpus/{id}"), json!({"cores": 0}))
        .await;
    assert_eq!(
        (s, v["detail"][0]["type"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("greater_than_equal")
        )
    );
    let (s, v) = api
        .put(
            &format!("/v1/catalog/cpus/{id}"),
            json!({"release_year": 2200}),
        )
        .await;
    assert_eq!(
        (s, v["detail"][0]["type"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("less_than_equal"))
    );
    let (s, _) = api
        .patch(
            &format!("/v1/catalog/cpus/{id}"),
            json!({"name": "Intel N100"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "rename to a taken name"
    );
    assert_eq!(
        api.patch("/v1/catalog/cpus/999999", json!({"notes": "x"}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (s, list) = api.get("/v1/catalog/cpus?limit=1").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(s, StatusCode::OK);
    assert!(names.len() > 1, "limit is ignored for CPUs");
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "ordered by name");

    // Usage: a listing makes the delete a 409 naming the count.
    let (s, listing) = api
        .post(
            "/v1/listings/",
            json!({"title": "t", "price_usd": 199.0, "cpu_id": id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        api.delete(&format!("/v1/catalog/cpus/{id}")).await,
        (
            StatusCode::CONFLICT,
            json!({"detail": "Cannot delete CPU: used in 1 listing(s)"})
        )
    );
    let (s, ls) = api.get(&format!("/v1/catalog/cpus/{id}/listings")).await;
    assert_eq!((s, ls.as_array().unwrap().len()), (StatusCode::OK, 1));
    assert_eq!(
        api.get(&format!("/v1/catalog/cpus/{id}/listings?limit=0"))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.get(&format!("/v1/catalog/cpus/{id}/listings?limit=101"))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.get("/v1/catalog/cpus/999999/listings").await.0,
        StatusCode::NOT_FOUND
    );
    let lid = listing["id"].as_i64().unwrap();
    assert_eq!(
        api.delete(&format!("/v1/listings/{lid}")).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(
        api.delete(&format!("/v1/listings/{lid}")).await,
        (
            StatusCode::NOT_FOUND,
            json!({"detail": format!("Listing with id {lid} not found")})
        )
    );
    assert_eq!(
        api.delete(&format!("/v1/catalog/cpus/{id}")).await,
        (StatusCode::NO_CONTENT, Value::Null)
    );
    assert_eq!(
        api.delete(&format!("/v1/catalog/cpus/{id}")).await,
        (
            StatusCode::NOT_FOUND,
            json!({"detail": format!("CPU with id {id} not found")})
        )
    );
    h.shutdown().await;
}

#[tokio::test]
async fn listings_contract() {
    let h = start().await;
    let api = Api::new(&h);
    let (s, l) = api
        .post(
            "/v1/listings/",
            json!({"title": "t", "price_usd": 199.0, "cpu_id": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        l["ram_spec_id"].is_i64() && l["primary_storage_profile_id"].is_i64(),
        "unknown RAM/storage assigned: {l}"
    );
    let ram = l["ram_spec_id"].as_i64().unwrap();
    let (_, spec) = api.get(&format!("/v1/catalog/ram-specs/{ram}")).await;
    assert_eq!(
        (
            spec["ddr_generation"].clone(),
            spec["total_capacity_gb"].clone()
        ),
        (json!("unknown"), json!(0.0))
    );
    assert_eq!(
        api.delete(&format!("/v1/catalog/ram-specs/{ram}")).await.0,
        StatusCode::CONFLICT,
        "the assigned spec counts as used"
    );

    let resp = api
        .client
        .post(format!("{}/v1/listings", api.base))
        .json(&json!({"title": "t", "price_usd": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(resp.headers()["location"], "/v1/listings/");
    let (s, v) = api.post("/v1/listings/", json!({"price_usd": 1.0})).await;
    assert_eq!(
        (s, loc(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "title"]))
    );
    assert_eq!(
        api.post("/v1/listings/", json!({"title": "t"})).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.post(
            "/v1/listings/",
            json!({"title": "t", "price_usd": 1.0, "cpu_id": 987654})
        )
        .await,
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"detail": "Database error occurred. Please try again later."})
        )
    );
    let (s, v) = api.call(Method::POST, "/v1/listings/", None).await;
    assert_eq!(
        (s, v["detail"][0]["type"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("json_invalid"))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn gpus_profiles_and_ports_profiles() {
    let h = start().await;
    let api = Api::new(&h);
    let (s, g) = api
        .post(
            "/v1/catalog/gpus",
            json!({"name": "G1", "manufacturer": "NVIDIA"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        api.post(
            "/v1/catalog/gpus",
            json!({"name": "G1", "manufacturer": "NVIDIA"})
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "GPU already exists"})
        )
    );
    let gid = g["id"].as_i64().unwrap();
    assert_eq!(
        api.patch(
            &format!("/v1/catalog/gpus/{gid}"),
            json!({"gpu_mark": 9000})
        )
        .await
        .1["gpu_mark"],
        9000
    );
    api.post(
        "/v1/listings/",
        json!({"title": "t", "price_usd": 1.0, "gpu_id": gid}),
    )
    .await;
    assert_eq!(
        api.delete(&format!("/v1/catalog/gpus/{gid}")).await,
        (
            StatusCode::CONFLICT,
            json!({"detail": "Cannot delete GPU: used in 1 listing(s)"})
        )
    );

    let (s, p) = api
        .post(
            "/v1/catalog/profiles",
            json!({"name": "P", "weights_json": {"cpu_mark_multi": 1}}),
        )
        .await;
    assert_eq!(
        (s, p["weights_json"].clone()),
        (StatusCode::CREATED, json!({"cpu_mark_multi": 1.0}))
    );
    assert_eq!(
        api.post("/v1/catalog/profiles", json!({"name": "Q"}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (s, v) = api
        .post(
            "/v1/catalog/profiles",
            json!({"name": "Q", "weights_json": {"x": "heavy"}}),
        )
        .await;
    assert_eq!(
        (s, loc(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!(["body", "weights_json", "x"])
        )
    );
    let pid = p["id"].as_i64().unwrap();
    assert_eq!(
        api.patch(
            &format!("/v1/catalog/profiles/{pid}"),
            json!({"weights_json": {"gpu_mark": 0.5}})
        )
        .await
        .1["weights_json"],
        json!({"gpu_mark": 0.5})
    );
    assert_eq!(
        api.delete("/v1/catalog/profiles/1").await,
        (
            StatusCode::CONFLICT,
            json!({"detail": "Cannot delete the only default profile"})
        )
    );
    assert_eq!(
        api.delete(&format!("/v1/catalog/profiles/{pid}")).await.0,
        StatusCode::NO_CONTENT
    );

    let (s, pp) = api
        .post(
            "/v1/catalog/ports-profiles",
            json!({"name": "PP", "ports": [{"type": "usb_c", "count": 2, "spec_notes": null}]}),
        )
        .await;
    assert_eq!(
        (s, pp["ports"].as_array().unwrap().len()),
        (StatusCode::CREATED, 1)
    );
    let ppid = pp["id"].as_i64().unwrap();
    let (s, v) = api
        .put(
            &format!("/v1/catalog/ports-profiles/{ppid}"),
            json!({"ports": [{"type": "hdmi", "count": 1}, {"type": "usb_a", "count": 3}]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let kinds: Vec<&str> = v["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["hdmi", "usb_a"], "ports replaced");
    assert_eq!(
        api.post("/v1/catalog/ports-profiles", json!({"name": "PP"}))
            .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "Ports profile already exists"})
        )
    );
    assert_eq!(
        api.delete(&format!("/v1/catalog/ports-profiles/{ppid}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    h.shutdown().await;
}

#[tokio::test]
async fn get_or_create_entities_and_their_filters() {
    let h = start().await;
    let api = Api::new(&h);
    let body = json!({"total_capacity_gb": 64, "ddr_generation": "ddr5"});
    let (s1, a) = api.post("/v1/catalog/ram-specs", body.clone()).await;
    let (s2, b) = api.post("/v1/catalog/ram-specs", body).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(a["id"], b["id"], "get-or-create returns the existing row");
    assert_eq!(
        api.post("/v1/catalog/ram-specs", json!({})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.post("/v1/catalog/ram-specs", json!({"ddr_generation": "ddr9"}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let (_, list) = api
        .get("/v1/catalog/ram-specs?generation=ddr5&min_capacity_gb=20")
        .await;
    let caps: Vec<f64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["total_capacity_gb"].as_f64().unwrap())
        .collect();
    assert_eq!(
        caps,
        vec![64.0, 32.0],
        "filtered and sorted by capacity descending"
    );
    assert_eq!(
        api.get("/v1/catalog/ram-specs?limit=201").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        api.get("/v1/catalog/ram-specs?generation=ddr9").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, limited) = api.get("/v1/catalog/ram-specs?limit=1").await;
    assert_eq!(limited.as_array().unwrap().len(), 1);

    let (s, sp) = api
        .post(
            "/v1/catalog/storage-profiles",
            json!({"capacity_gb": 2048, "medium": "hdd"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = api.get("/v1/catalog/storage-profiles?medium=hdd").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let spid = sp["id"].as_i64().unwrap();
    api.post(
        "/v1/listings/",
        json!({"title": "t", "price_usd": 1.0, "secondary_storage_profile_id": spid}),
    )
    .await;
    assert_eq!(
        api.delete(&format!("/v1/catalog/storage-profiles/{spid}"))
            .await,
        (
            StatusCode::CONFLICT,
            json!({"detail": "Cannot delete Storage profile: used in 1 listing(s)"})
        )
    );
    h.shutdown().await;
}
