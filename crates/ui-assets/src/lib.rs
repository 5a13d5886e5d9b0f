//! The web UI's files, built by `cargo xtask ui build` into `ui/dist` and
//! embedded here at compile time (see `build.rs`). A build without them
//! still compiles: [`built`] is false and [`index`] is a page saying how to
//! build the UI.

mod content_type;

pub use content_type::content_type;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Its path under the UI's root, with a leading `/` (`/assets/index-3f2a.js`).
    pub path: &'static str,
    pub body: &'static [u8],
    pub content_type: &'static str,
}

impl Asset {
    /// Whether the file's name carries a hash of its content (Vite writes
    /// those under `/assets/`): it never changes, and may be cached for good.
    pub fn immutable(&self) -> bool {
        self.path.starts_with("/assets/")
    }
}

/// Every file of `ui/dist`, sorted by path.
static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// What `/` answers when the binary was built without the UI.
static NOT_BUILT: Asset = Asset {
    path: "/index.html",
    body: br#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Corral</title></head>
<body>
<h1>Corral</h1>
<p>This corral binary was built without its web UI. The API is under <code>/v1</code>.</p>
<p>To build the UI (it needs Node.js and npm), run in the source tree:</p>
<pre>cargo xtask ui build
cargo build</pre>
<p>and start the new binary. The CLI works without it: <code>corral login</code>.</p>
</body></html>
"#,
    content_type: "text/html; charset=utf-8",
};

/// Whether the UI's files are embedded.
pub fn built() -> bool {
    !ASSETS.is_empty()
}

/// The file at `path` (`/assets/x.js`), if there is one.
pub fn get(path: &str) -> Option<&'static Asset> {
    ASSETS
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .and_then(|i| ASSETS.get(i))
}

/// The page every UI address answers: the built `index.html`, or the page
/// saying how to build the UI.
pub fn index() -> &'static Asset {
    get("/index.html").unwrap_or(&NOT_BUILT)
}

/// All embedded files (for tests and listings).
pub fn all() -> &'static [Asset] {
    ASSETS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sorted_and_index_is_html() {
        assert!(ASSETS.windows(2).all(|w| w[0].path < w[1].path));
        assert!(index().content_type.starts_with("text/html"));
        assert_eq!(index().path, "/index.html");
        assert!(!index().immutable());
        if built() {
            assert!(ASSETS.iter().any(|a| a.immutable()));
        } else {
            assert!(
                std::str::from_utf8(index().body).is_ok_and(|s| s.contains("cargo xtask ui build"))
            );
        }
    }

    #[test]
    fn unknown_paths_are_none() {
        assert!(get("/nope.js").is_none());
    }
}
