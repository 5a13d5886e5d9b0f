pub fn schedule(_snapshot: &crate::Snapshot, _pending: &[crate::Pending]) -> crate::Plan { crate::Plan::default() }
