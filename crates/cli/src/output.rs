//! How listings and objects are printed: aligned tables like `docker ps`, JSON or YAML.

use std::io::Write;

use anyhow::Context;
use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

/// Output format of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns with a header row.
    Table,
    /// A pretty-printed JSON array.
    Json,
    /// A YAML sequence.
    Yaml,
}

/// Output format of a single object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectFormat {
    Yaml,
    Json,
}

/// One row of a listing: serialized as is for JSON and YAML, and as
/// [`Row::cells`] under [`Row::HEADERS`] for tables.
pub trait Row: Serialize {
    const HEADERS: &'static [&'static str];
    /// The table cells, one per header.
    fn cells(&self) -> Vec<String>;
}

/// Spaces between table columns.
const GAP: u16 = 3;

/// Renders rows as aligned columns: a header row, then one line per row,
/// columns separated by spaces, no borders, no trailing spaces.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.to_vec());
    for row in rows {
        table.add_row(row.clone());
    }
    let last = headers.len().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { GAP }));
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Renders a listing in `format`.
pub fn render_rows<R: Row>(rows: &[R], format: Format) -> anyhow::Result<String> {
    match format {
        Format::Table => {
            let cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
            Ok(render_table(R::HEADERS, &cells))
        }
        Format::Json => to_json(&rows),
        Format::Yaml => to_yaml(&rows),
    }
}

/// Renders one object in `format`.
pub fn render_object<T: Serialize>(value: &T, format: ObjectFormat) -> anyhow::Result<String> {
    match format {
        ObjectFormat::Json => to_json(value),
        ObjectFormat::Yaml => to_yaml(value),
    }
}

fn to_json<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(value).context("cannot encode the output as json")?;
    s.push('\n');
    Ok(s)
}

fn to_yaml<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let s = serde_saphyr::to_string(value).context("cannot encode the output as yaml")?;
    Ok(if s.ends_with('\n') { s } else { s + "\n" })
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

/// Prints a listing in `format`.
pub fn print_rows<R: Row>(rows: &[R], format: Format) -> anyhow::Result<()> {
    print(&render_rows(rows, format)?)
}

/// `2048` as `2KiB`, `1610612736` as `1.5GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut value = bytes as f64;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{}", UNITS[unit])
}

/// Millicores as CPUs: `4000` as `4`, `500` as `0.5`.
pub fn human_cpus(millis: u64) -> String {
    let whole = millis / 1000;
    let frac = millis % 1000;
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:03}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Pet {
        name: String,
        legs: u32,
    }

    impl Row for Pet {
        const HEADERS: &'static [&'static str] = &["NAME", "LEGS"];
        fn cells(&self) -> Vec<String> {
            vec![self.name.clone(), self.legs.to_string()]
        }
    }

    fn pets() -> Vec<Pet> {
        vec![
            Pet {
                name: "x".into(),
                legs: 4,
            },
            Pet {
                name: "centipede".into(),
                legs: 100,
            },
        ]
    }

    #[test]
    fn table_columns_are_aligned_without_borders() {
        let out = render_rows(&pets(), Format::Table).unwrap();
        assert_eq!(out, "NAME        LEGS\nx           4\ncentipede   100\n");
    }

    #[test]
    fn table_has_no_box_drawing_or_trailing_spaces() {
        let rows = vec![vec!["a".to_string(), String::new(), "c".to_string()]];
        let out = render_table(&["ONE", "TWO", "THREE"], &rows);
        assert!(
            !out.chars()
                .any(|c| matches!(c, '|' | '+' | '─' | '│' | '=' | '┌'))
        );
        assert!(out.lines().all(|l| !l.ends_with(' ')), "{out:?}");
        assert_eq!(out.lines().next(), Some("ONE   TWO   THREE"));
        assert_eq!(out.lines().nth(1), Some("a           c"));
    }

    #[test]
    fn empty_listing_is_a_header_or_an_empty_array() {
        let none: Vec<Pet> = Vec::new();
        assert_eq!(render_rows(&none, Format::Table).unwrap(), "NAME   LEGS\n");
        assert_eq!(render_rows(&none, Format::Json).unwrap(), "[]\n");
        assert_eq!(render_rows(&none, Format::Yaml).unwrap().trim(), "[]");
    }

    #[test]
    fn json_and_yaml_listings_are_arrays_of_objects() {
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&pets(), Format::Json).unwrap()).unwrap();
        assert_eq!(json[1]["name"], "centipede");
        assert_eq!(json[1]["legs"], 100);
        let yaml = render_rows(&pets(), Format::Yaml).unwrap();
        assert!(yaml.contains("- name: x"), "{yaml}");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(2048), "2KiB");
        assert_eq!(human_bytes(1536 << 20), "1.5GiB");
        assert_eq!(human_cpus(4000), "4");
        assert_eq!(human_cpus(500), "0.5");
        assert_eq!(human_cpus(1250), "1.25");
    }
}
