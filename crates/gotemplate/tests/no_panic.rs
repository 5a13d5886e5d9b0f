//! Garbage in, an error (or text) out: never a panic, a hang or a blow-up.

use std::path::Path;

use corral_gotemplate::{MAX_OUTPUT, Value, render};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "{{", "}}", "{{-", "-}}", " ", "\n", "(", ")", "|", "$", "$x", ":=", "=", ",", ".", ".Values",
    ".a.b", "\"", "`", "'", "/*", "*/", "if", "else", "end", "range", "with", "define", "template",
    "block", "break", "continue", "nil", "true", "1", "-1", "0x", "1e", "eq", "ne", "and", "or",
    "not", "len", "index", "printf", "%", "%.1s", "until", "repeat", "split", "default",
    "contains", "é", "\\",
];

fn data() -> Value {
    Value::map([
        (
            "Values",
            Value::map([
                ("a", Value::from("x")),
                ("b", "true".into()),
                ("l", vec![1, 2].into()),
            ]),
        ),
        ("Stack", Value::map([("Name", "demo")])),
    ])
}

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(3) {
            0 if !s.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let piece = PIECES[rng.below(PIECES.len())];
                s.splice(at..at, piece.chars());
            }
            _ if !s.is_empty() => {
                let from = rng.below(s.len());
                let end = (from + rng.below(20)).min(s.len());
                let copy: Vec<char> = s[from..end].to_vec();
                s.splice(at..at, copy);
            }
            _ => {}
        }
    }
    s.into_iter().collect()
}

fn check(src: &str) {
    let out = std::panic::catch_unwind(|| render("fuzz.tpl", src, &data()));
    match out {
        Ok(Ok(text)) => assert!(text.len() <= MAX_OUTPUT),
        Ok(Err(e)) => assert!(e.line >= 1 && e.col >= 1, "{e}"),
        Err(_) => panic!("render panicked on {src:?}"),
    }
}

#[test]
fn random_piece_soup_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let n = 1 + rng.below(12);
        let src: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        check(&src);
    }
}

#[test]
fn mutated_corpus_templates_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/rancher-catalog/templates");
    let mut sources = vec![
        "{{ range $i, $v := .Values.l }}{{ if eq $v 1 }}{{ printf \"%d\" $i }}{{ else }}{{ . }}{{ end }}{{ end }}".to_string(),
        "{{ define \"t\" }}{{ with .a }}{{ . | upper }}{{ end }}{{ end }}{{ template \"t\" .Values }}".to_string(),
    ];
    for t in ["traefik/33", "gocd/0", "drone/7", "sentry/5", "openhab/5"] {
        if let Ok(s) = std::fs::read_to_string(dir.join(t).join("docker-compose.yml.tpl")) {
            sources.push(s);
        }
    }
    let mut rng = Rng(42);
    for i in 0..3_000 {
        let src = mutate(&mut rng, &sources[i % sources.len()]);
        check(&src);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [50, 101, 10_000] {
        check(&"{{ if 1 }}".repeat(depth));
        check(&("{{ if 1 }}".repeat(depth) + &"{{ end }}".repeat(depth)));
        check(&("{{ ".to_string() + &"(".repeat(depth) + "1" + &")".repeat(depth) + " }}"));
        check(&"{{ range . }}".repeat(depth));
    }
}
