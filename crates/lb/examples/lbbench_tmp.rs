#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use corral_netview::EnvSnapshot;
use corral_types::{Instance, InstanceState, Kind, LbConfig, LbProtocol, Object, PortRule};
use http_body_util::Full;
use hyper_util::rt::TokioIo;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        match args[1].as_str() {
            "backend" => {
                let l =
                    tokio::net::TcpListener::bind(("127.0.0.1", args[2].parse::<u16>().unwrap()))
                        .await
                        .unwrap();
                loop {
                    let (s, _) = l.accept().await.unwrap();
                    let _ = s.set_nodelay(true);
                    tokio::spawn(async move {
                        let svc = hyper::service::service_fn(|_req| async {
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(
                                Bytes::from_static(b"hello world\n"),
                            )))
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(s), svc)
                            .await;
                    });
                }
            }
            _ => {
                let listen: u16 = args[2].parse().unwrap();
                let bport: u16 = args[3].parse().unwrap();
                let mut i: Instance =
                    Object::new(Kind::Instance, "default", "s-web-1", Default::default());
                i.spec.service = "s-web".into();
                i.status.state = InstanceState::Running;
                i.status.ip = "127.0.0.1".into();
                let snap = EnvSnapshot {
                    revision: 1,
                    instances: [("s-web-1".to_string(), i)].into(),
                    ..Default::default()
                };
                let (_tx, rx) = tokio::sync::watch::channel(Arc::new(snap));
                let config = LbConfig {
                    port_rules: vec![PortRule {
                        source_port: listen,
                        protocol: LbProtocol::Http,
                        target_service: "web".into(),
                        target_port: bport,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                let _h = corral_lb::LbRuntime::start(
                    "lb",
                    config,
                    "s",
                    BTreeMap::new(),
                    rx,
                    "127.0.0.1".parse().unwrap(),
                )
                .await
                .unwrap();
                std::future::pending::<()>().await;
            }
        }
    });
}
