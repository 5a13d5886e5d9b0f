//! What several integration tests do from outside the cluster: plain HTTP
//! requests to a published port (once, or in a loop while something
//! changes), and a search of the data directory's files for a value that
//! must not be stored.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One `GET /` with `Host: host` over a new connection; the whole answer
/// on a 200, else its status line.
pub fn get(addr: SocketAddr, host: &str) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    if out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200") {
        Ok(out)
    } else {
        Err(out.lines().next().unwrap_or("no answer").to_string())
    }
}

/// [`get`] in a loop, one request at a time, `pause` apart, until
/// [`Load::finish`] or for at most `limit`; counts answers and failures.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl Load {
    pub fn start(addr: SocketAddr, host: &str, limit: Duration, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (s, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let host = host.to_string();
        let task = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut errors = Vec::new();
            while !s.load(Ordering::Relaxed) && started.elapsed() < limit {
                match get(addr, &host) {
                    Ok(_) => o.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        errors.push(e);
                        f.fetch_add(1, Ordering::Relaxed)
                    }
                };
                std::thread::sleep(pause);
            }
            errors
        });
        Load {
            stop,
            ok,
            failed,
            task,
        }
    }

    /// Stops the loop: (answered, failed, the failures' reasons).
    pub async fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let errors = self.task.await.unwrap();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            errors,
        )
    }
}

/// The files directly in `dir` (the database, its WAL and shared memory)
/// in which `needle` occurs.
pub fn found_in_files(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}
