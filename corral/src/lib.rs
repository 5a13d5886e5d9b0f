//! The corral binary
