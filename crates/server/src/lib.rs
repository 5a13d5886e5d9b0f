//! Corral HTTP API server
