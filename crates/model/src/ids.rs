//! W3C trace and span ids: fixed-size byte arrays shown as lowercase hex.

use std::fmt;
use std::str::FromStr;

/// Why a byte string or hex text is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id has the wrong number of bytes (or hex digits / 2).
    #[error("{kind} must be {expected} bytes ({} hex digits), got {got} bytes", expected * 2)]
    WrongLength {
        /// "trace id" or "span id".
        kind: &'static str,
        /// Required length in bytes.
        expected: usize,
        /// Length found in bytes.
        got: usize,
    },
    /// The text is not hexadecimal.
    #[error("{kind} is not hexadecimal: {text:?}")]
    NotHex {
        /// "trace id" or "span id".
        kind: &'static str,
        /// The offending text (truncated to 64 characters).
        text: String,
    },
    /// All-zero ids are invalid per the W3C and OTLP specifications.
    #[error("{kind} is all zeroes, which is invalid")]
    AllZero {
        /// "trace id" or "span id".
        kind: &'static str,
    },
}

macro_rules! define_id {
    ($name:ident, $len:expr, $kind:expr) => {
        /// An id of
        #[doc = concat!(stringify!($len), " bytes, displayed as lowercase hex.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Number of bytes in this id.
            pub const LEN: usize = $len;

            /// Takes an id from wire bytes, rejecting wrong lengths and all zeroes.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
                let arr: [u8; $len] = bytes.try_into().map_err(|_| IdError::WrongLength {
                    kind: $kind,
                    expected: $len,
                    got: bytes.len(),
                })?;
                if arr.iter().all(|b| *b == 0) {
                    return Err(IdError::AllZero { kind: $kind });
                }
                Ok(Self(arr))
            }

            /// Parses lowercase or uppercase hex text.
            pub fn from_hex(text: &str) -> Result<Self, IdError> {
                if text.len() != $len * 2 {
                    return Err(IdError::WrongLength {
                        kind: $kind,
                        expected: $len,
                        got: text.len() / 2,
                    });
                }
                let mut arr = [0u8; $len];
                hex::decode_to_slice(text, &mut arr).map_err(|_| IdError::NotHex {
                    kind: $kind,
                    text: text.chars().take(64).collect(),
                })?;
                Self::from_bytes(&arr)
            }

            /// Lowercase hex text, as stored in Parquet and shown to users.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }

        // As hex text: JSON is an edge where ids are shown.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

define_id!(TraceId, 16, "trace id");
define_id!(SpanId, 8, "span id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let t = TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap();
        assert_eq!(t.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.to_string().parse::<TraceId>().unwrap(), t);
    }

    #[test]
    fn rejects_wrong_length_zero_and_non_hex() {
        assert_eq!(
            SpanId::from_bytes(&[1, 2, 3]),
            Err(IdError::WrongLength {
                kind: "span id",
                expected: 8,
                got: 3
            })
        );
        assert_eq!(
            SpanId::from_bytes(&[0; 8]),
            Err(IdError::AllZero { kind: "span id" })
        );
        assert!(matches!(
            SpanId::from_hex("zz00000000000001"),
            Err(IdError::NotHex { .. })
        ));
        let msg = TraceId::from_bytes(&[1; 15]).unwrap_err().to_string();
        assert_eq!(
            msg,
            "trace id must be 16 bytes (32 hex digits), got 15 bytes"
        );
    }
}
