use std::time::Duration;

use futures::StreamExt;

use std::collections::BTreeMap;

use super::*;
use crate::EventStream;
use crate::fake_clock::civil_from_days;

fn config(name: &str) -> ContainerConfig {
    ContainerConfig {
        name: name.to_owned(),
        image: "corral-busybox:latest".to_owned(),
        labels: BTreeMap::from([("corral.instance".to_owned(), name.to_owned())]),
        ..Default::default()
    }
}

async fn next_event(events: &mut EventStream) -> ContainerEvent {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event in time")
        .expect("the stream goes on")
        .expect("no error")
}

#[tokio::test]
async fn records_calls_in_order() {
    let engine = FakeEngine::new();
    let id = engine.create(&config("web-1")).await.unwrap();
    engine.start(&id).await.unwrap();
    engine.stop(&id, 10).await.unwrap();
    engine.remove(&id).await.unwrap();
    assert_eq!(
        engine.calls(),
        vec![
            FakeCall::Create {
                name: "web-1".into(),
                image: "corral-busybox:latest".into()
            },
            FakeCall::Start { id: id.clone() },
            FakeCall::Stop { id: id.clone() },
            FakeCall::Remove { id: id.clone() },
        ]
    );
    assert_eq!(engine.take_calls().len(), 4);
    assert!(engine.calls().is_empty());
}

#[tokio::test]
async fn container_goes_through_its_lifecycle() {
    let engine = FakeEngine::new();
    let id = engine.create(&config("web-1")).await.unwrap();
    assert_eq!(id.len(), 64);
    let created = engine.inspect(&id).await.unwrap();
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.name, "web-1");
    assert!(created.started_at.is_empty());

    engine.start(&id).await.unwrap();
    let running = engine.inspect("web-1").await.unwrap();
    assert_eq!(running.state, ContainerState::Running);
    assert!(running.started_at.ends_with('Z'), "{}", running.started_at);
    engine.start(&id).await.unwrap();

    engine.stop(&id, 1).await.unwrap();
    engine.stop(&id, 1).await.unwrap();
    assert_eq!(
        engine.inspect(&id).await.unwrap().state,
        ContainerState::Exited(0)
    );

    engine.remove(&id).await.unwrap();
    engine.remove(&id).await.unwrap();
    assert!(matches!(
        engine.inspect(&id).await,
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        engine.stop(&id, 1).await,
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        engine.start(&id).await,
        Err(EngineError::NotFound(_))
    ));
}

#[tokio::test]
async fn ids_are_distinct_in_their_first_twelve_digits() {
    let engine = FakeEngine::new();
    let a = engine.create(&config("a")).await.unwrap();
    let b = engine.create(&config("b")).await.unwrap();
    assert_ne!(a[..12], b[..12]);
}

#[tokio::test]
async fn create_refuses_a_missing_image_and_a_taken_name() {
    let engine = FakeEngine::new();
    engine.set_image_missing("nowhere:latest");
    let mut missing = config("x");
    missing.image = "nowhere:latest".into();
    assert!(matches!(
        engine.create(&missing).await,
        Err(EngineError::ImageNotFound(image)) if image == "nowhere:latest"
    ));
    engine.create(&config("web-1")).await.unwrap();
    assert!(matches!(
        engine.create(&config("web-1")).await,
        Err(EngineError::NameInUse(name)) if name == "web-1"
    ));
    assert_eq!(engine.container_count(), 1);
}

#[tokio::test]
async fn list_filters_by_label_key_in_creation_order() {
    let engine = FakeEngine::new();
    let first = engine.create(&config("b")).await.unwrap();
    let second = engine.create(&config("a")).await.unwrap();
    let mut unlabelled = config("c");
    unlabelled.labels.clear();
    engine.create(&unlabelled).await.unwrap();
    let listed = engine.list("corral.instance").await.unwrap();
    let ids: Vec<_> = listed.into_iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![first, second]);
    assert!(engine.list("other").await.unwrap().is_empty());
}

#[tokio::test]
async fn events_show_start_die_and_destroy() {
    let engine = FakeEngine::new();
    let mut events = engine.events();
    let id = engine.create(&config("web-1")).await.unwrap();
    engine.start(&id).await.unwrap();
    engine.kill(&id, 3);
    engine.start(&id).await.unwrap();
    engine.remove_behind_our_back(&id);

    let mut actions = Vec::new();
    for _ in 0..6 {
        let event = next_event(&mut events).await;
        assert_eq!(event.container_id, id);
        assert_eq!(event.labels["corral.instance"], "web-1");
        actions.push(event.action);
    }
    assert_eq!(
        actions,
        ["create", "start", "die", "start", "die", "destroy"]
    );
    assert!(matches!(
        engine.inspect(&id).await,
        Err(EngineError::NotFound(_))
    ));
}

#[tokio::test]
async fn kill_records_the_exit_code() {
    let engine = FakeEngine::new();
    let mut events = engine.events();
    let id = engine.create(&config("job")).await.unwrap();
    engine.start(&id).await.unwrap();
    engine.kill(&id, 42);
    assert_eq!(
        engine.inspect(&id).await.unwrap().state,
        ContainerState::Exited(42)
    );
    next_event(&mut events).await;
    next_event(&mut events).await;
    let die = next_event(&mut events).await;
    assert_eq!(die.action, "die");
    assert_eq!(die.labels["exitCode"], "42");
    assert_eq!(engine.running_count(), 0);
}

#[tokio::test]
async fn injected_failure_happens_once() {
    let engine = FakeEngine::new();
    engine.fail_next(FakeOperation::Create);
    assert!(matches!(
        engine.create(&config("a")).await,
        Err(EngineError::Api { .. })
    ));
    engine.create(&config("a")).await.unwrap();
}

#[tokio::test]
async fn info_is_settable() {
    let engine = FakeEngine::new();
    let info = EngineInfo {
        hostname: "node-7".into(),
        cpu_millis: 2000,
        memory_bytes: 1 << 30,
        version: "20.10.24".into(),
    };
    engine.set_info(info.clone());
    assert_eq!(engine.info().await.unwrap(), info);
}

#[tokio::test]
async fn logs_honour_tail_and_follow_until_death() {
    let engine = FakeEngine::new();
    let id = engine.create(&config("web-1")).await.unwrap();
    engine.start(&id).await.unwrap();
    for line in ["one\n", "two\n", "three\n"] {
        engine.push_log(&id, line);
    }
    let tail = LogOptions {
        follow: false,
        tail: Some(2),
    };
    let lines: Vec<_> = engine.logs(&id, tail).map(|l| l.unwrap()).collect().await;
    assert_eq!(lines, vec![Bytes::from("two\n"), Bytes::from("three\n")]);

    let follow = LogOptions {
        follow: true,
        tail: Some(0),
    };
    let mut followed = engine.logs(&id, follow);
    engine.push_log(&id, "four\n");
    engine.kill(&id, 0);
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(5), async {
        let mut rest = Vec::new();
        while let Some(line) = followed.next().await {
            rest.push(line.unwrap());
        }
        rest
    })
    .await
    .unwrap();
    assert_eq!(rest, vec![Bytes::from("four\n")]);
}

#[tokio::test]
async fn logs_of_a_missing_container_fail() {
    let engine = FakeEngine::new();
    let mut logs = engine.logs("nope", LogOptions::default());
    assert!(matches!(
        logs.next().await,
        Some(Err(EngineError::NotFound(_)))
    ));
}

#[tokio::test]
async fn recording_can_be_turned_off() {
    let engine = FakeEngine::new();
    engine.set_recording(false);
    engine.info().await.unwrap();
    assert!(engine.calls().is_empty());
}

#[test]
fn dates_are_computed_from_days_since_the_epoch() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(20_454), (2026, 1, 1));
}

#[tokio::test]
async fn an_engine_without_listeners_keeps_no_event_channel() {
    let engine = FakeEngine::new();
    engine.create(&config("a")).await.unwrap();
    assert!(engine.lock().signals.is_none());
    let events = engine.events();
    assert!(engine.lock().signals.is_some());
    drop(events);
    engine.create(&config("b")).await.unwrap();
    assert!(engine.lock().signals.is_none());
}

#[tokio::test]
async fn volumes_exec_and_addresses_are_faked() {
    let engine = FakeEngine::new();
    let labels = BTreeMap::from([("io.corral.stack".to_owned(), "st".to_owned())]);
    engine.create_volume("st_data", &labels).await.unwrap();
    engine
        .create_volume("st_data", &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!(
        engine.volumes()["st_data"],
        labels,
        "creating twice is fine"
    );

    let id = engine.create(&config("web-1")).await.unwrap();
    assert!(engine.inspect(&id).await.unwrap().ip.is_empty());
    let cmd = vec!["true".to_owned()];
    assert!(
        engine
            .exec(&id, &cmd, Duration::from_secs(1))
            .await
            .is_err()
    );
    engine.start(&id).await.unwrap();
    assert!(engine.inspect(&id).await.unwrap().ip.starts_with("10.0."));
    let ok = engine
        .exec(&id, &cmd, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(ok.exit_code, 0);
    engine.set_exec_result(
        "web-1",
        ExecResult {
            exit_code: 1,
            output: "no".into(),
        },
    );
    let failed = engine
        .exec(&id, &cmd, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(failed.exit_code, 1);
    assert!(engine.calls().contains(&FakeCall::Exec {
        id: id.clone(),
        cmd: cmd.clone()
    }));
}
