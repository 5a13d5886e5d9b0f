//! Corral node agent: join, heartbeat, reconcile the local container engine
