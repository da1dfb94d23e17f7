//! The catalog's entities as data: one [`EntitySpec`] per `/v1/catalog/{plural}`.
//!
//! Handlers, SQL and validation are written once and driven by these specs,
//! so the six entities behave alike where CATALOG_API.md says they do and
//! differ only where a spec says so.

/// Type of one field, as the API validates and returns it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    /// Text.
    Str,
    /// Integer.
    Int,
    /// Floating point number.
    Float,
    /// Boolean.
    Bool,
    /// One of a fixed set of lower-case strings.
    Enum(&'static [&'static str]),
    /// A JSON object of numbers (`weights_json`).
    Weights,
}

/// One field of an entity.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// JSON key and SQL column.
    pub name: &'static str,
    /// Type.
    pub ty: FieldType,
    /// Must be present on create.
    pub required: bool,
    /// Inclusive range checked on PUT/PATCH only (as the production API does).
    pub range: Option<(i64, i64)>,
}

const fn f(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
        range: None,
    }
}

const fn req(name: &'static str, ty: FieldType) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
        range: None,
    }
}

const fn ranged(name: &'static str, lo: i64, hi: i64) -> FieldSpec {
    FieldSpec {
        name,
        ty: FieldType::Int,
        required: false,
        range: Some((lo, hi)),
    }
}

use FieldType::{Bool, Float, Int, Str, Weights};

/// RAM generations accepted by `ram-specs`.
pub const DDR_GENERATIONS: &[&str] = &[
    "ddr3", "ddr4", "ddr5", "lpddr4", "lpddr4x", "lpddr5", "lpddr5x", "hbm2", "hbm3", "unknown",
];
/// Storage media accepted by `storage-profiles`.
pub const STORAGE_MEDIA: &[&str] = &[
    "nvme", "sata_ssd", "hdd", "hybrid", "emmc", "ufs", "unknown",
];

/// How `GET /{plural}` answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ListKind {
    /// Every row ordered by name; `limit` ignored.
    AllByName,
    /// Filters `search`, the enum filter, `min_/max_capacity_gb`, `limit` (1..200, default 50),
    /// sorted by the capacity column descending.
    Filtered {
        /// Query parameter of the enum filter (`generation`, `medium`).
        enum_param: &'static str,
        /// Column the enum filter applies to.
        enum_column: &'static str,
        /// Allowed values.
        values: &'static [&'static str],
        /// Capacity column.
        capacity: &'static str,
    },
}

/// One catalog entity.
#[derive(Debug)]
pub struct EntitySpec {
    /// URL segment: `cpus`, `ports-profiles`, …
    pub plural: &'static str,
    /// SQL table.
    pub table: &'static str,
    /// Display name in messages: `CPU`, `Ports profile`, …
    pub display: &'static str,
    /// snake_case key for span names: `cpu` → `catalog.delete_cpu`.
    pub key: &'static str,
    /// Path parameter name: `cpu_id`.
    pub id_param: &'static str,
    /// Scalar fields (attributes and ports are handled apart).
    pub fields: &'static [FieldSpec],
    /// Has a free-form `attributes_json` column.
    pub attributes: bool,
    /// Has child `ports` rows.
    pub ports: bool,
    /// Names are unique (400 on create, 422 on rename).
    pub unique_name: bool,
    /// POST returns an existing matching row instead of failing.
    pub get_or_create: bool,
    /// List behaviour.
    pub list: ListKind,
    /// Listing columns that reference this entity (the usage check).
    pub usage_columns: &'static [&'static str],
}

impl EntitySpec {
    /// Field by name.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Columns selected for a row: id, fields, attributes, timestamps.
    pub fn select_columns(&self) -> String {
        let mut cols = vec!["id"];
        cols.extend(self.fields.iter().map(|f| f.name));
        if self.attributes {
            cols.push("attributes_json");
        }
        cols.extend(["created_at", "updated_at"]);
        cols.join(", ")
    }
}

/// CPUs.
pub static CPU: EntitySpec = EntitySpec {
    plural: "cpus",
    table: "cpus",
    display: "CPU",
    key: "cpu",
    id_param: "cpu_id",
    fields: &[
        req("name", Str),
        req("manufacturer", Str),
        f("socket", Str),
        ranged("cores", 1, 256),
        ranged("threads", 1, 512),
        ranged("tdp_w", 1, 1000),
        f("igpu_model", Str),
        f("cpu_mark_multi", Int),
        f("cpu_mark_single", Int),
        f("igpu_mark", Int),
        ranged("release_year", 1970, 2100),
        f("notes", Str),
        f("passmark_slug", Str),
        f("passmark_category", Str),
        f("passmark_id", Str),
    ],
    attributes: true,
    ports: false,
    unique_name: true,
    get_or_create: false,
    list: ListKind::AllByName,
    usage_columns: &["cpu_id"],
};

/// GPUs.
pub static GPU: EntitySpec = EntitySpec {
    plural: "gpus",
    table: "gpus",
    display: "GPU",
    key: "gpu",
    id_param: "gpu_id",
    fields: &[
        req("name", Str),
        req("manufacturer", Str),
        f("gpu_mark", Int),
        f("metal_score", Int),
        f("notes", Str),
    ],
    attributes: true,
    ports: false,
    unique_name: true,
    get_or_create: false,
    list: ListKind::AllByName,
    usage_columns: &["gpu_id"],
};

/// Scoring profiles.
pub static PROFILE: EntitySpec = EntitySpec {
    plural: "profiles",
    table: "profiles",
    display: "Profile",
    key: "profile",
    id_param: "profile_id",
    fields: &[
        req("name", Str),
        f("description", Str),
        req("weights_json", Weights),
        f("is_default", Bool),
    ],
    attributes: false,
    ports: false,
    unique_name: true,
    get_or_create: false,
    list: ListKind::AllByName,
    usage_columns: &[],
};

/// Ports profiles (with child ports).
pub static PORTS_PROFILE: EntitySpec = EntitySpec {
    plural: "ports-profiles",
    table: "ports_profiles",
    display: "Ports profile",
    key: "ports_profile",
    id_param: "ports_profile_id",
    fields: &[req("name", Str), f("description", Str)],
    attributes: true,
    ports: true,
    unique_name: true,
    get_or_create: false,
    list: ListKind::AllByName,
    usage_columns: &["ports_profile_id"],
};

/// RAM specs (get-or-create).
pub static RAM_SPEC: EntitySpec = EntitySpec {
    plural: "ram-specs",
    table: "ram_specs",
    display: "RAM spec",
    key: "ram_spec",
    id_param: "ram_spec_id",
    fields: &[
        f("label", Str),
        f("ddr_generation", FieldType::Enum(DDR_GENERATIONS)),
        f("speed_mhz", Int),
        f("module_count", Int),
        f("capacity_per_module_gb", Float),
        f("total_capacity_gb", Float),
        f("notes", Str),
    ],
    attributes: true,
    ports: false,
    unique_name: false,
    get_or_create: true,
    list: ListKind::Filtered {
        enum_param: "generation",
        enum_column: "ddr_generation",
        values: DDR_GENERATIONS,
        capacity: "total_capacity_gb",
    },
    usage_columns: &["ram_spec_id"],
};

/// Storage profiles (get-or-create).
pub static STORAGE_PROFILE: EntitySpec = EntitySpec {
    plural: "storage-profiles",
    table: "storage_profiles",
    display: "Storage profile",
    key: "storage_profile",
    id_param: "storage_profile_id",
    fields: &[
        f("label", Str),
        f("medium", FieldType::Enum(STORAGE_MEDIA)),
        f("interface", Str),
        f("form_factor", Str),
        f("capacity_gb", Int),
        f("performance_tier", Str),
        f("notes", Str),
    ],
    attributes: true,
    ports: false,
    unique_name: false,
    get_or_create: true,
    list: ListKind::Filtered {
        enum_param: "medium",
        enum_column: "medium",
        values: STORAGE_MEDIA,
        capacity: "capacity_gb",
    },
    usage_columns: &["primary_storage_profile_id", "secondary_storage_profile_id"],
};

/// Every entity under `/v1/catalog`.
pub static ENTITIES: [&EntitySpec; 6] = [
    &CPU,
    &GPU,
    &PROFILE,
    &PORTS_PROFILE,
    &RAM_SPEC,
    &STORAGE_PROFILE,
];

/// Listing fields accepted by `POST /v1/listings/` (besides `attributes`).
pub static LISTING_FIELDS: &[FieldSpec] = &[
    req("title", Str),
    req("price_usd", Float),
    f("cpu_id", Int),
    f("gpu_id", Int),
    f("ram_spec_id", Int),
    f("primary_storage_profile_id", Int),
    f("secondary_storage_profile_id", Int),
    f("ports_profile_id", Int),
    f("url", Str),
    f("seller", Str),
    f("marketplace", Str),
    f("condition", Str),
    f("status", Str),
    f("device_model", Str),
    f("manufacturer", Str),
    f("form_factor", Str),
    f("os_license", Str),
    f("notes", Str),
    f("adjusted_price_usd", Float),
    f("score_cpu_multi", Float),
    f("score_cpu_single", Float),
    f("score_gpu", Float),
    f("score_composite", Float),
    f("dollar_per_cpu_mark", Float),
];
