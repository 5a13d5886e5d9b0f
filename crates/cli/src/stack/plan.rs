//! A deploy plan as text: what is created (and where its instances go),
//! changed and removed.

use corral_api::{PlannedInstance, StackPlan};

/// Whether `instance` is named `<service>-<ordinal>`.
fn is_instance_of(instance: &str, service: &str) -> bool {
    instance
        .strip_prefix(service)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `  web-1 -> node vm`, or `  web-2 pending: why`.
fn placement_line(p: &PlannedInstance) -> String {
    if !p.node.is_empty() {
        format!("  {} -> node {}", p.instance, p.node)
    } else if p.reason.is_empty() {
        format!("  {} pending", p.instance)
    } else {
        format!("  {} pending: {}", p.instance, p.reason)
    }
}

/// The placements of `service` not yet shown, marking them shown.
fn take_placements<'a>(
    plan: &'a StackPlan,
    service: &str,
    shown: &mut [bool],
) -> Vec<&'a PlannedInstance> {
    let mut mine = Vec::new();
    for (p, seen) in plan.placements.iter().zip(shown.iter_mut()) {
        if !*seen && is_instance_of(&p.instance, service) {
            *seen = true;
            mine.push(p);
        }
    }
    mine
}

/// The plan, one line per action, ending in `dry run: nothing changed` or
/// `deployed stack NAME`.
pub(crate) fn render_plan(plan: &StackPlan, name: &str) -> String {
    let mut lines: Vec<String> = plan.secrets.clone();
    lines.extend(plan.configs.iter().cloned());
    let mut shown = vec![false; plan.placements.len()];
    for service in &plan.created {
        let mine = take_placements(plan, service, &mut shown);
        let plural = if mine.len() == 1 { "" } else { "s" };
        lines.push(format!(
            "create service {service} ({} instance{plural})",
            mine.len()
        ));
        lines.extend(mine.into_iter().map(placement_line));
    }
    for change in &plan.changed {
        let mut line = format!("change service {}", change.service);
        if !change.fields.is_empty() {
            line.push_str(": ");
            line.push_str(&change.fields.join(", "));
        }
        if change.upgrade {
            line.push_str(" (rolling upgrade)");
        }
        lines.push(line);
        let mine = take_placements(plan, &change.service, &mut shown);
        lines.extend(mine.into_iter().map(placement_line));
    }
    let rest: Vec<&PlannedInstance> = plan
        .placements
        .iter()
        .zip(&shown)
        .filter(|(_, seen)| !**seen)
        .map(|(p, _)| p)
        .collect();
    if !rest.is_empty() {
        lines.push("new instances".to_string());
        lines.extend(rest.into_iter().map(placement_line));
    }
    lines.extend(plan.removed.iter().map(|s| format!("remove service {s}")));
    if !plan.unchanged.is_empty() {
        lines.push(format!("unchanged: {}", plan.unchanged.join(", ")));
    }
    lines.extend(plan.volumes.iter().map(|v| format!("volume {v}")));
    lines.extend(plan.warnings.iter().map(|w| format!("warning: {w}")));
    let stack = if plan.stack.is_empty() {
        name
    } else {
        &plan.stack
    };
    lines.push(if plan.applied {
        format!("deployed stack {stack}")
    } else {
        "dry run: nothing changed".to_string()
    });
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::ServiceChange;

    fn placed(instance: &str, node: &str, reason: &str) -> PlannedInstance {
        PlannedInstance {
            instance: instance.into(),
            node: node.into(),
            reason: reason.into(),
        }
    }

    fn fixture() -> StackPlan {
        StackPlan {
            stack: "app".into(),
            created: vec!["app-web".into(), "app-worker".into()],
            changed: vec![
                ServiceChange {
                    service: "app-db".into(),
                    fields: vec!["image".into(), "env".into()],
                    upgrade: true,
                },
                ServiceChange {
                    service: "app-api".into(),
                    fields: vec!["scale".into()],
                    upgrade: false,
                },
            ],
            removed: vec!["app-old".into()],
            unchanged: vec!["app-cache".into(), "app-queue".into()],
            secrets: Vec::new(),
            configs: Vec::new(),
            placements: vec![
                placed("app-web-1", "vm", ""),
                placed("app-worker-1", "vm2", ""),
                placed("app-web-2", "", "port 80/tcp in use on all 1 nodes"),
                placed("app-api-3", "vm", ""),
                placed("app-web-x-1", "", ""),
            ],
            volumes: vec!["app_data".into()],
            warnings: vec!["docker-compose.yml:7: services.web.build: ignored".into()],
            applied: false,
        }
    }

    #[test]
    fn plan_text_lists_every_action() {
        assert_eq!(
            render_plan(&fixture(), "app"),
            "create service app-web (2 instances)\n\
             \x20 app-web-1 -> node vm\n\
             \x20 app-web-2 pending: port 80/tcp in use on all 1 nodes\n\
             create service app-worker (1 instance)\n\
             \x20 app-worker-1 -> node vm2\n\
             change service app-db: image, env (rolling upgrade)\n\
             change service app-api: scale\n\
             \x20 app-api-3 -> node vm\n\
             new instances\n\
             \x20 app-web-x-1 pending\n\
             remove service app-old\n\
             unchanged: app-cache, app-queue\n\
             volume app_data\n\
             warning: docker-compose.yml:7: services.web.build: ignored\n\
             dry run: nothing changed\n"
        );
    }

    #[test]
    fn applied_plan_ends_with_the_stack_deployed() {
        let plan = StackPlan {
            applied: true,
            ..StackPlan::default()
        };
        assert_eq!(render_plan(&plan, "app"), "deployed stack app\n");
        let plan = StackPlan {
            stack: "app".into(),
            created: vec!["app-web".into()],
            applied: true,
            ..StackPlan::default()
        };
        assert_eq!(
            render_plan(&plan, "app"),
            "create service app-web (0 instances)\ndeployed stack app\n"
        );
    }

    #[test]
    fn instance_names_match_their_service_only() {
        assert!(is_instance_of("app-web-1", "app-web"));
        assert!(is_instance_of("app-web-12", "app-web"));
        assert!(!is_instance_of("app-web-x-1", "app-web"));
        assert!(!is_instance_of("app-web-", "app-web"));
        assert!(!is_instance_of("app-webby-1", "app-web"));
    }
}
