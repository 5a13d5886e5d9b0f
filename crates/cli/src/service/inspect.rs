//! `corral service inspect NAME [-o yaml|json]`.

use corral_api::Client;

use crate::args::InspectArgs;
use crate::output::{print, render_object};

pub(super) async fn run(client: &Client, env: &str, args: &InspectArgs) -> anyhow::Result<()> {
    let service = super::get(client, env, &args.name).await?;
    print(&render_object(&service, args.output)?)
}

#[cfg(test)]
mod tests {
    use crate::output::{ObjectFormat, render_object};
    use corral_types::{Kind, Object, Service, ServiceSpec};

    #[test]
    fn inspect_shows_the_whole_envelope() {
        let spec = ServiceSpec {
            image: "nginx".into(),
            scale: 1,
            ..ServiceSpec::default()
        };
        let s: Service = Object::new(Kind::Service, "default", "web", spec);
        let yaml = render_object(&s, ObjectFormat::Yaml).unwrap();
        for key in [
            "kind: Service",
            "meta:",
            "name: web",
            "spec:",
            "image: nginx",
            "status:",
        ] {
            assert!(yaml.contains(key), "{key} missing from {yaml}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&render_object(&s, ObjectFormat::Json).unwrap()).unwrap();
        assert_eq!(json["meta"]["environment"], "default");
        assert_eq!(json["spec"]["scale"], 1);
    }
}
