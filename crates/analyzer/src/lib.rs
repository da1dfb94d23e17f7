//! Joins a run's requests with the server's spans and splits every request's
//! latency into network, handler, cascade check and other database time.

pub mod intervals;
pub mod split;
