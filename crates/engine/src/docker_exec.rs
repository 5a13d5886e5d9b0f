//! Interactive exec on a Docker Engine: `POST /containers/{id}/exec`, then
//! the attached (hijacked) connection of `POST /exec/{id}/start`.

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;

use crate::EngineError;
use crate::exec::{ExecChunk, ExecSession, ExecSpec};

/// How long the exit code is waited for once the output has ended (the
/// engine may still be reaping the process).
const EXIT_WAIT: Duration = Duration::from_secs(2);

pub async fn attach(
    docker: &Docker,
    id: &str,
    spec: &ExecSpec,
) -> Result<ExecSession, EngineError> {
    if spec.cmd.is_empty() {
        return Err(EngineError::Api {
            operation: "create exec",
            message: "no command given".into(),
        });
    }
    let options = CreateExecOptions {
        cmd: Some(spec.cmd.clone()),
        attach_stdin: Some(spec.stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(spec.tty),
        ..Default::default()
    };
    let created = docker
        .create_exec(id, options)
        .await
        .map_err(|e| crate::docker::container_error("create exec", id, e))?;
    let start = StartExecOptions {
        detach: false,
        tty: spec.tty,
        output_capacity: None,
    };
    let started = docker
        .start_exec(&created.id, Some(start))
        .await
        .map_err(|e| crate::docker::container_error("start exec", id, e))?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(EngineError::Api {
            operation: "start exec",
            message: format!("the engine did not attach to the exec in container {id}"),
        });
    };
    let output = output.map(|item| match item {
        Ok(LogOutput::StdErr { message }) => Ok(ExecChunk::Stderr(message)),
        Ok(
            LogOutput::StdOut { message }
            | LogOutput::Console { message }
            | LogOutput::StdIn { message },
        ) => Ok(ExecChunk::Stdout(message)),
        Err(e) => Err(crate::docker::api_error("read exec output", e)),
    });
    Ok(ExecSession {
        exec_id: created.id,
        output: Box::pin(output),
        input,
    })
}

pub async fn resize(
    docker: &Docker,
    exec_id: &str,
    cols: u16,
    rows: u16,
) -> Result<(), EngineError> {
    let options = ResizeExecOptions {
        height: rows,
        width: cols,
    };
    docker
        .resize_exec(exec_id, options)
        .await
        .map_err(|e| crate::docker::api_error("resize exec", e))
}

/// The exit code once the command has ended; `None` if it still runs
/// after [`EXIT_WAIT`].
pub async fn exit_code(docker: &Docker, exec_id: &str) -> Result<Option<i64>, EngineError> {
    let deadline = tokio::time::Instant::now() + EXIT_WAIT;
    loop {
        let inspected = docker
            .inspect_exec(exec_id)
            .await
            .map_err(|e| crate::docker::api_error("inspect exec", e))?;
        if inspected.running != Some(true) {
            return Ok(inspected.exit_code);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
