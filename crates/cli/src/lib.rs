//! Corral command-line client
