//! Turning request bytes into an OTLP export request: gzip, protobuf, JSON.

use crate::IngestError;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::io::Read;

/// Wire encoding of an OTLP/HTTP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`
    Protobuf,
    /// `application/json`
    Json,
}

impl Encoding {
    /// Chooses the encoding from a `Content-Type` header value (parameters ignored).
    pub fn from_content_type(value: Option<&str>) -> Result<Self, IngestError> {
        let media = value
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Self::Protobuf),
            "application/json" => Ok(Self::Json),
            "" => Err(IngestError::InvalidArgument(
                "missing Content-Type: send application/x-protobuf or application/json".into(),
            )),
            other => Err(IngestError::InvalidArgument(format!(
                "unsupported Content-Type {other:?}: send application/x-protobuf or application/json"
            ))),
        }
    }

    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Decodes an export request body (already decompressed).
pub fn decode_export(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, IngestError> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).map_err(|e| {
            IngestError::InvalidArgument(format!(
                "body is not a valid OTLP ExportTraceServiceRequest protobuf ({} bytes): {e}",
                body.len()
            ))
        }),
        Encoding::Json => serde_json::from_slice(body).map_err(|e| {
            IngestError::InvalidArgument(format!(
                "body is not valid OTLP JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        }),
    }
}

/// Inflates a gzip body, refusing to produce more than `limit` bytes (a gzip bomb
/// is a client error, not a reason to exhaust memory).
pub fn gunzip_limited(body: &[u8], limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| IngestError::InvalidArgument(format!("body is not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(IngestError::InvalidArgument(format!(
            "gzip body expands beyond {limit} bytes (--max-body); refusing to inflate it"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_content_type(Some("application/json; charset=utf-8")).ok(),
            Some(Encoding::Json)
        );
        assert_eq!(
            Encoding::from_content_type(Some("application/x-protobuf")).ok(),
            Some(Encoding::Protobuf)
        );
        let err = Encoding::from_content_type(Some("text/plain")).unwrap_err();
        assert!(err.to_string().contains("\"text/plain\""));
    }

    #[test]
    fn gzip_bomb_is_refused_with_a_message() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 10 * 1024 * 1024]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 64 * 1024);
        let err = gunzip_limited(&bomb, 1024 * 1024).unwrap_err();
        assert!(
            err.to_string().contains("expands beyond 1048576 bytes"),
            "{err}"
        );
        assert_eq!(
            gunzip_limited(&bomb, 10 * 1024 * 1024).unwrap().len(),
            10 * 1024 * 1024
        );
    }

    #[test]
    fn truncated_protobuf_and_bad_json_are_invalid_arguments() {
        let err = decode_export(&[0x0a, 0x10, 0x01], Encoding::Protobuf).unwrap_err();
        assert!(matches!(err, IngestError::InvalidArgument(m) if m.contains("protobuf")));
        let err = decode_export(b"{\"resourceSpans\": [", Encoding::Json).unwrap_err();
        assert!(matches!(err, IngestError::InvalidArgument(m) if m.contains("line 1")));
    }
}
