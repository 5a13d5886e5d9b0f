//! A whoami HTTP server for tests and demos
