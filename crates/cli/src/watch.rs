//! `--watch` of `service ps` and `stack ps`: the list again whenever it
//! changes, until interrupted. On a terminal it is redrawn in place under
//! a header; otherwise each changed list is printed after a blank line, so
//! a log of it reads top to bottom.

use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use crate::output::print;

/// How often the list is read again.
const EVERY: Duration = Duration::from_secs(1);

/// Prints what `render` answers now and on every change; returns only on
/// an error (the user interrupts it).
pub(crate) async fn repeat<F, Fut>(title: &str, mut render: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<String>>,
{
    let terminal = std::io::stdout().is_terminal();
    let mut last: Option<String> = None;
    loop {
        let text = render().await?;
        if last.as_deref() != Some(text.as_str()) {
            let framed = if terminal {
                format!(
                    "\x1b[2J\x1b[H{title}  (every {}s; Ctrl-C to stop)\n\n{text}",
                    EVERY.as_secs()
                )
            } else if last.is_some() {
                format!("\n{text}")
            } else {
                text.clone()
            };
            print(&framed)?;
            last = Some(text);
        }
        tokio::time::sleep(EVERY).await;
    }
}
