//! What deploying a stack changes: a pure comparison of the services a
//! compose file describes with the services the stack has now.

use std::collections::BTreeMap;

use corral_types::{Kind, Object, Service, ServiceSpec};

/// The service object name of compose service `service` in `stack`.
pub fn service_object_name(stack: &str, service: &str) -> String {
    format!("{stack}-{service}")
}

/// Services to create, replace (old, new) and delete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackChanges {
    pub create: Vec<Service>,
    pub update: Vec<(Service, Service)>,
    pub delete: Vec<Service>,
    pub unchanged: Vec<String>,
}

/// Top-level spec fields that differ between two specs.
pub fn changed_fields(old: &ServiceSpec, new: &ServiceSpec) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return vec!["spec".into()];
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Compares `wanted` (compose name → spec, `spec.stack` already set) with the
/// stack's current services.
pub fn plan_stack(
    environment: &str,
    stack: &str,
    wanted: &BTreeMap<String, ServiceSpec>,
    current: &[Service],
) -> StackChanges {
    let mut changes = StackChanges::default();
    let mut existing: BTreeMap<&str, &Service> = current
        .iter()
        .filter(|s| s.spec.stack == stack)
        .map(|s| (s.meta.name.as_str(), s))
        .collect();
    for (compose_name, spec) in wanted {
        let name = service_object_name(stack, compose_name);
        match existing.remove(name.as_str()) {
            Some(old) if old.spec == *spec => changes.unchanged.push(name),
            Some(old) => {
                let mut new = old.clone();
                new.spec = spec.clone();
                new.meta.generation += 1;
                changes.update.push((old.clone(), new));
            }
            None => {
                let mut svc: Service = Object::new(Kind::Service, environment, &name, spec.clone());
                svc.meta
                    .labels
                    .insert(corral_types::ContainerLabels::STACK.into(), stack.into());
                changes.create.push(svc);
            }
        }
    }
    changes.delete = existing.into_values().cloned().collect();
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(image: &str, scale: u32) -> ServiceSpec {
        ServiceSpec {
            image: image.into(),
            scale,
            stack: "app".into(),
            ..Default::default()
        }
    }

    fn existing(name: &str, s: ServiceSpec) -> Service {
        Object::new(Kind::Service, "default", name, s)
    }

    #[test]
    fn a_stack_plan_creates_changes_removes_and_keeps() {
        let wanted: BTreeMap<String, ServiceSpec> = [
            ("web".to_string(), spec("web:2", 2)),
            ("db".to_string(), spec("db:1", 1)),
            ("cache".to_string(), spec("redis", 1)),
        ]
        .into();
        let current = vec![
            existing("app-web", spec("web:1", 2)),
            existing("app-db", spec("db:1", 1)),
            existing("app-old", spec("old", 1)),
            existing(
                "other-web",
                ServiceSpec {
                    stack: "other".into(),
                    ..spec("x", 1)
                },
            ),
        ];
        let c = plan_stack("default", "app", &wanted, &current);
        assert_eq!(
            c.create
                .iter()
                .map(|s| s.meta.name.as_str())
                .collect::<Vec<_>>(),
            vec!["app-cache"]
        );
        assert_eq!(c.update.len(), 1);
        assert_eq!(c.update[0].1.spec.image, "web:2");
        assert_eq!(
            c.delete
                .iter()
                .map(|s| s.meta.name.as_str())
                .collect::<Vec<_>>(),
            vec!["app-old"]
        );
        assert_eq!(c.unchanged, vec!["app-db"]);
        assert_eq!(
            changed_fields(&c.update[0].0.spec, &c.update[0].1.spec),
            vec!["image"]
        );
    }

    #[test]
    fn the_same_files_twice_change_nothing() {
        let wanted: BTreeMap<String, ServiceSpec> = [("web".to_string(), spec("web:1", 2))].into();
        let current = vec![existing("app-web", spec("web:1", 2))];
        let c = plan_stack("default", "app", &wanted, &current);
        assert!(c.create.is_empty() && c.update.is_empty() && c.delete.is_empty());
    }
}
