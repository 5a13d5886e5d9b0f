//! Whether an instance runs its service's current launch config,
//! remembered between passes.
//!
//! The answer is a deep comparison of two launch configs (image, command,
//! environment, labels, ports, volumes, rules...). Every pass asks it of
//! every live instance, and at 150,000 instances those comparisons were the
//! largest cost of a pass. The answer can only change when the instance's
//! spec or the service's spec changes, and every spec change raises the
//! object's generation, so it is kept per instance uid with the generations
//! (and the service's uid) it was worked out for.

use std::collections::HashMap;

use corral_types::{Instance, Service, ServiceSpec};

/// One remembered answer.
struct Entry {
    instance_generation: u64,
    service_uid: String,
    service_generation: u64,
    same: bool,
    /// The last pass that asked for it.
    asked_in: u64,
}

/// Answers by instance uid. An answer nobody asked for in a whole pass
/// (its instance is gone) is dropped at the pass's end. A lookup hashes the
/// uid once and copies nothing (an earlier version moved every answer from
/// one map to another each pass: 12 % of the controllers' time).
#[derive(Default)]
pub struct LaunchMemo {
    entries: HashMap<String, Entry>,
    pass: u64,
}

impl LaunchMemo {
    /// Whether `inst` runs the current launch config of `service`, which
    /// `launch` gives when an answer is not remembered (building it copies
    /// the service's spec).
    pub fn same<'s>(
        &mut self,
        inst: &Instance,
        service: &Service,
        launch: impl FnOnce() -> &'s ServiceSpec,
    ) -> bool {
        let pass = self.pass;
        let fresh = || Entry {
            instance_generation: inst.meta.generation,
            service_uid: service.meta.uid.clone(),
            service_generation: service.meta.generation,
            same: inst.spec.launch == *launch(),
            asked_in: pass,
        };
        let entry = match self.entries.get_mut(&inst.meta.uid) {
            Some(entry) => {
                if entry.instance_generation != inst.meta.generation
                    || entry.service_generation != service.meta.generation
                    || entry.service_uid != service.meta.uid
                {
                    *entry = fresh();
                }
                entry
            }
            None => self
                .entries
                .entry(inst.meta.uid.clone())
                .or_insert_with(fresh),
        };
        entry.asked_in = pass;
        entry.same
    }

    /// Ends a pass: answers not asked for during it are dropped.
    pub fn end_pass(&mut self) {
        let pass = self.pass;
        self.entries.retain(|_, e| e.asked_in == pass);
        self.pass += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{InstanceSpec, Kind, Object};

    fn service(image: &str, generation: u64) -> Service {
        let mut s: Service = Object::new(
            Kind::Service,
            "default",
            "web",
            ServiceSpec {
                image: image.into(),
                ..Default::default()
            },
        );
        s.meta.uid = "s1".into();
        s.meta.generation = generation;
        s
    }

    fn instance(image: &str, generation: u64) -> Instance {
        let mut i: Instance = Object::new(
            Kind::Instance,
            "default",
            "web-1",
            InstanceSpec {
                service: "web".into(),
                launch: service(image, 1).spec.launch(),
                ..Default::default()
            },
        );
        i.meta.uid = "i1".into();
        i.meta.generation = generation;
        i
    }

    #[test]
    fn an_answer_is_kept_until_either_spec_changes() {
        let mut memo = LaunchMemo::default();
        let v1 = service("img:1", 1);
        let v1_launch = v1.spec.launch();
        let inst = instance("img:1", 1);
        assert!(memo.same(&inst, &v1, || &v1_launch));
        memo.end_pass();
        // Remembered: the launch config is not even built.
        assert!(memo.same(&inst, &v1, || unreachable!("asked for the launch")));
        memo.end_pass();
        // The service moves to img:2: a new generation, a new answer.
        let v2 = service("img:2", 2);
        let v2_launch = v2.spec.launch();
        assert!(!memo.same(&inst, &v2, || &v2_launch));
        memo.end_pass();
        // The instance is replaced in place by a spec write: asked again.
        let updated = instance("img:2", 2);
        assert!(memo.same(&updated, &v2, || &v2_launch));
    }

    #[test]
    fn answers_nobody_asks_for_during_a_pass_are_dropped() {
        let mut memo = LaunchMemo::default();
        let v1 = service("img:1", 1);
        let v1_launch = v1.spec.launch();
        assert!(memo.same(&instance("img:1", 1), &v1, || &v1_launch));
        memo.end_pass();
        assert_eq!(memo.entries.len(), 1, "asked for in the pass that ended");
        memo.end_pass();
        assert!(memo.entries.is_empty());
    }
}
