use super::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

fn export(trace: u8, n: u8) -> ExportTraceServiceRequest {
    let spans = (1..=n)
        .map(|i| Span {
            trace_id: vec![trace; 16],
            span_id: vec![i; 8],
            name: format!("s{i}"),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn replay_turns_logs_into_segments_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();
    let wal_dir = store.join("wal");
    fs::create_dir_all(&wal_dir).unwrap();
    // Generation 4 crashed after its segment was renamed but before its log was removed.
    let mut w4 = WalFile::create(&wal_dir, 4).unwrap();
    w4.append(Encoding::Protobuf, &export(4, 2).encode_to_vec())
        .unwrap();
    let seg4 = decode_records(&export(4, 2).encode_to_vec(), Encoding::Protobuf).unwrap();
    write_span_segment(store, 4, &seg4).unwrap();
    // Generation 5 crashed before its segment was written.
    let mut w5 = WalFile::create(&wal_dir, 5).unwrap();
    w5.append(Encoding::Protobuf, &export(5, 3).encode_to_vec())
        .unwrap();
    w5.append(Encoding::Json, &serde_json::to_vec(&export(6, 2)).unwrap())
        .unwrap();
    drop((w4, w5));

    let (replayed, next) = replay(store, &wal_dir).unwrap();
    assert_eq!((replayed, next), (5, 6));
    let gens: Vec<u64> = list_segments(store)
        .unwrap()
        .into_iter()
        .map(|(g, _)| g)
        .collect();
    assert_eq!(gens, vec![4, 5]);
    assert!(wal::list_wals(&wal_dir).unwrap().is_empty());
    assert_eq!(tracesplit_store::read_span_dir(store).unwrap().len(), 7);
    // A second replay finds nothing to do.
    assert_eq!(replay(store, &wal_dir).unwrap(), (0, 6));
}

#[test]
fn a_corrupt_log_frame_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    fs::create_dir_all(&wal_dir).unwrap();
    let mut w = WalFile::create(&wal_dir, 1).unwrap();
    w.append(Encoding::Json, b"{not json").unwrap();
    drop(w);
    let err = replay(dir.path(), &wal_dir).unwrap_err().to_string();
    assert!(err.contains("wal-000000000001.log"), "{err}");
}
