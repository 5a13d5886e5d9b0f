//! Corral reconcilers: service instances, node liveness, scheduling
