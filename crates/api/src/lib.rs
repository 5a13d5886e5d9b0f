//! Corral wire types and typed HTTP client
