//! The template language through the public API: each construct, the
//! functions in context, and error positions.

use corral_gotemplate::{Value, parse, render};

fn data() -> Value {
    Value::map([
        (
            "Values",
            Value::map([
                ("name", Value::from("web")),
                ("enable", "true".into()),
                ("off", "false".into()),
                ("empty", "".into()),
                ("count", "3".into()),
                ("list", vec!["a", "b", "c"].into()),
                ("nums", vec![3, 1, 2].into()),
                ("map", Value::map([("z", 1), ("a", 2), ("m", 3)])),
            ]),
        ),
        ("Stack", Value::map([("Name", "demo")])),
    ])
}

fn r(src: &str) -> String {
    match render("t.tpl", src, &data()) {
        Ok(s) => s,
        Err(e) => format!("ERR {e}"),
    }
}

#[test]
fn text_and_fields_render() {
    assert_eq!(r("plain"), "plain");
    assert_eq!(r("{{ .Values.name }}-{{ .Stack.Name }}"), "web-demo");
    assert_eq!(r("{{ $.Values.name }}"), "web");
    assert_eq!(r("{{ .Values.list }}"), "[a b c]");
}

#[test]
fn missing_keys_print_no_value_like_go() {
    assert_eq!(r("{{ .Values.missing }}"), "<no value>");
    assert_eq!(r("{{ .Values.missing.deeper }}"), "<no value>");
    assert_eq!(r("{{ .Nothing.at.all }}"), "<no value>");
    // A nil that is present in a map is not missing: Go refuses its fields.
    let held = render("t", "{{ .a.b }}", &Value::map([("a", Value::Null)]));
    assert_eq!(
        held.map_err(|e| e.message),
        Err("nil pointer evaluating interface {}.b".into())
    );
    assert_eq!(r("{{ print .Values.missing }}"), "<nil>");
    assert_eq!(r("{{ if .Values.missing }}y{{ else }}n{{ end }}"), "n");
    assert_eq!(
        r("{{ if eq .Values.missing \"x\" }}y{{ else }}n{{ end }}"),
        "n"
    );
}

#[test]
fn fields_of_non_maps_are_errors() {
    assert_eq!(
        r("{{ .Values.name.x }}"),
        "ERR t.tpl:1:4: can't evaluate field x in type string"
    );
}

#[test]
fn trim_markers_and_comments() {
    assert_eq!(r("a  {{- .Values.name -}}  \n b"), "awebb");
    assert_eq!(r("a {{/* hi */}} b"), "a  b");
    assert_eq!(r("a\n{{- /* hi */ -}}\nb"), "ab");
    assert_eq!(r("x\n{{- if true }}\ny\n{{- end }}\nz"), "x\ny\nz");
}

#[test]
fn if_else_if_else_chains() {
    let t = "{{ if eq .Values.name \"db\" }}1{{ else if eq .Values.name \"web\" }}2{{ else }}3{{ end }}";
    assert_eq!(r(t), "2");
    assert_eq!(r("{{ if .Values.empty }}y{{ else }}n{{ end }}"), "n");
    assert_eq!(
        r("{{ if .Values.off }}y{{ end }}"),
        "y",
        "a non-empty string is true even when it says false"
    );
    assert_eq!(r("{{ if (.Values.enable) }}y{{ end }}"), "y");
}

#[test]
fn rancher_booleans_are_strings_compared_with_eq() {
    assert_eq!(r("{{ if eq .Values.enable \"true\" }}on{{ end }}"), "on");
    assert_eq!(r("{{ if ne .Values.off \"true\" }}off{{ end }}"), "off");
}

#[test]
fn range_over_lists_maps_ints_and_else() {
    assert_eq!(r("{{ range .Values.list }}{{ . }}{{ end }}"), "abc");
    assert_eq!(
        r("{{ range $i, $v := .Values.list }}{{ $i }}={{ $v }} {{ end }}"),
        "0=a 1=b 2=c "
    );
    assert_eq!(
        r("{{ range $k, $v := .Values.map }}{{ $k }}{{ $v }}{{ end }}"),
        "a2m3z1"
    );
    assert_eq!(r("{{ range $v := .Values.nums }}{{ $v }}{{ end }}"), "312");
    assert_eq!(
        r("{{ range .Values.none }}x{{ else }}empty{{ end }}"),
        "empty"
    );
    assert_eq!(r("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(r("{{ range until 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        r("{{ range .Values.list }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}"),
        "a"
    );
    assert_eq!(
        r("{{ range .Values.list }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}{{ end }}"),
        "ac"
    );
    assert!(
        r("{{ range .Values.name }}{{ end }}").starts_with("ERR t.tpl:1:10: range can't iterate")
    );
}

#[test]
fn with_changes_dot_and_has_else() {
    assert_eq!(r("{{ with .Values.name }}{{ . }}{{ end }}"), "web");
    assert_eq!(
        r("{{ with .Values.empty }}{{ . }}{{ else }}none{{ end }}"),
        "none"
    );
    assert_eq!(r("{{ with $x := .Values.name }}{{ $x }}{{ end }}"), "web");
    assert_eq!(
        r("{{ with .Values.empty }}a{{ else with .Values.name }}{{ . }}{{ end }}"),
        "web"
    );
}

#[test]
fn variables_declare_assign_and_scope() {
    assert_eq!(r("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}"), "2");
    assert_eq!(
        r("{{ $x := 1 }}{{ if true }}{{ $x = 5 }}{{ end }}{{ $x }}"),
        "5"
    );
    assert_eq!(
        r("{{ $x := 1 }}{{ if true }}{{ $x := 5 }}{{ $x }}{{ end }}{{ $x }}"),
        "51"
    );
    assert_eq!(
        r("{{ range .Values.list }}{{ $.Stack.Name }}{{ end }}"),
        "demodemodemo"
    );
    assert_eq!(r("{{ $x }}"), "ERR t.tpl:1:4: undefined variable \"$x\"");
}

#[test]
fn pipelines_pass_the_value_as_last_argument() {
    assert_eq!(r("{{ .Values.name | upper }}"), "WEB");
    assert_eq!(r("{{ .Values.name | printf \"%s-%s\" \"x\" }}"), "x-web");
    assert_eq!(r("{{ \"a,b\" | split \",\" | len }}"), "2");
    assert_eq!(r("{{ (printf \"%.1s\" .Values.name) }}"), "w");
    assert_eq!(r("{{ .Values.empty | default \"dflt\" }}"), "dflt");
    assert_eq!(r("{{ (split \",\" \"a,b\")._1 }}"), "b");
    assert_eq!(
        r("{{ .Values.name 1 }}"),
        "ERR t.tpl:1:4: can't give argument to non-function .Values.name"
    );
}

#[test]
fn and_or_return_an_argument_and_short_circuit() {
    assert_eq!(r("{{ or .Values.empty .Values.name }}"), "web");
    assert_eq!(r("{{ and .Values.name .Values.empty \"x\" }}"), "");
    assert_eq!(r("{{ and .Values.name \"x\" }}"), "x");
    // The second argument would fail (division by zero) if it were evaluated.
    assert_eq!(r("{{ or .Values.name (div 1 0) }}"), "web");
    assert_eq!(r("{{ and .Values.empty (div 1 0) }}"), "");
    assert_eq!(r("{{ not .Values.empty }}"), "true");
}

#[test]
fn comparisons_follow_go() {
    assert_eq!(r("{{ eq .Values.name \"db\" \"web\" }}"), "true");
    assert_eq!(
        r("{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ gt 1.5 2.5 }}"),
        "true true false"
    );
    assert_eq!(
        r("{{ eq 1 \"1\" }}"),
        "ERR t.tpl:1:4: error calling eq: incompatible types for comparison"
    );
    assert_eq!(r("{{ eq (atoi .Values.count) 3 }}"), "true");
}

#[test]
fn literals_print_as_go() {
    assert_eq!(
        r(
            "{{ 1 }} {{ -2 }} {{ 0x10 }} {{ 1.5 }} {{ 'a' }} {{ true }} {{ \"s\\t\" }} {{ `raw\\n` }}"
        ),
        "1 -2 16 1.5 97 true s\t raw\\n"
    );
    assert_eq!(r("{{ nil }}"), "ERR t.tpl:1:4: nil is not a command");
    assert_eq!(
        r("{{ print \"a\"\"b\" }}"),
        "ERR t.tpl:1:13: unexpected \"b\" in operand"
    );
    assert_eq!(
        r("{{ print 1-1 }}"),
        "ERR t.tpl:1:11: unexpected <-1> in operand"
    );
}

#[test]
fn print_family_and_index_len() {
    assert_eq!(
        r("{{ print 1 2 \"a\" }}|{{ println \"x\" 1 }}|"),
        "1 2a|x 1\n|"
    );
    assert_eq!(
        r("{{ printf \"%q %d %v\" .Values.name 7 .Values.nums }}"),
        "\"web\" 7 [3 1 2]"
    );
    assert_eq!(
        r("{{ index .Values.list 1 }}{{ index .Values.map \"z\" }}{{ len .Values.map }}"),
        "b13"
    );
    assert_eq!(
        r("{{ index .Values.list 9 }}"),
        "ERR t.tpl:1:4: error calling index: index out of range: 9"
    );
}

#[test]
fn define_template_and_block() {
    let t = "{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" .Values.name }}{{ block \"y\" 1 }}<{{ . }}>{{ end }}";
    assert_eq!(r(t), "[web]<1>");
    assert_eq!(
        r("{{ template \"nope\" }}"),
        "ERR t.tpl:1:4: no such template \"nope\""
    );
    let t = parse("t", "{{ define \"a\" }}A{{ .x }}{{ end }}").ok();
    let names: Vec<String> = t
        .iter()
        .flat_map(|t| t.defined().map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert_eq!(names, vec!["a".to_string()]);
}

#[test]
fn recursive_templates_stop_at_the_depth_limit() {
    let out = r("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}");
    assert!(out.contains("exceeded maximum template depth"), "{out}");
}

#[test]
fn huge_loops_and_outputs_are_refused() {
    assert!(r("{{ range until 100000000 }}x{{ end }}").starts_with("ERR"));
    let out = r("{{ range until 1000000 }}{{ range until 1000000 }}{{ end }}{{ end }}");
    assert!(out.contains("steps"), "{out}");
    let out = r(
        "{{ $s := \"xxxxxxxxxxxxxxxx\" }}{{ range until 40 }}{{ $s = printf \"%s%s\" $s $s }}{{ end }}",
    );
    assert!(out.starts_with("ERR"), "{out}");
    let out = r("{{ $l := list 1 }}{{ range until 40 }}{{ $l = list $l $l }}{{ end }}");
    assert!(out.starts_with("ERR"), "{out}");
    let out = r("{{ range until 1000 }}{{ repeat 100000 \"0123456789\" }}{{ end }}");
    assert!(out.contains("output exceeds"), "{out}");
}

#[test]
fn parse_errors_name_the_line_and_column() {
    let err = |s: &str| {
        render("docker-compose.yml.tpl", s, &data())
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(
        err("a: 1\nb:\n    {{ foo }}"),
        Some("docker-compose.yml.tpl:3:8: function \"foo\" not defined".into())
    );
    assert_eq!(
        err("{{ if true }}x"),
        Some("docker-compose.yml.tpl:1:15: unexpected EOF in if".into())
    );
    assert_eq!(
        err("x\n{{ end }}"),
        Some("docker-compose.yml.tpl:2:1: unexpected {{end}}".into())
    );
    assert_eq!(
        err("{{ \"abc }}"),
        Some("docker-compose.yml.tpl:1:4: unterminated quoted string".into())
    );
}

#[test]
fn execution_errors_name_the_line_and_column() {
    let e = render("x.tpl", "line1\n  {{ div 1 0 }}", &data()).err();
    assert_eq!(
        e.map(|e| (e.line, e.col, e.message)),
        Some((
            2,
            6,
            "error calling div: runtime error: integer divide by zero".into()
        ))
    );
    let e = render("x.tpl", "\n\n {{ upper 3 }}", &data()).err();
    assert_eq!(
        e.map(|e| e.to_string()),
        Some("x.tpl:3:5: wrong type for value; expected string; got int".into())
    );
    let e = render("x.tpl", "{{ upper }}", &data()).err();
    assert_eq!(
        e.map(|e| e.to_string()),
        Some("x.tpl:1:4: wrong number of args for upper: want 1 got 0".into())
    );
}

#[test]
fn sprig_functions_in_context() {
    assert_eq!(r("{{ if contains \"/\" \"a/b\" }}y{{ end }}"), "y");
    assert_eq!(r("{{ join \",\" (splitList \":\" \"a:b\") }}"), "a,b");
    assert_eq!(r("{{ add (atoi .Values.count) 2 | sub 10 }}"), "5");
    assert_eq!(
        r("{{ range $i := until (int .Values.count) }}{{ $i }}{{ end }}"),
        "012"
    );
    assert_eq!(
        r("{{ .Values.name | replace \"w\" \"W\" | trimSuffix \"b\" }}"),
        "We"
    );
    assert_eq!(r("{{ default \"x\" .Values.missing }}"), "x");
    assert_eq!(r("{{ if hasPrefix \"w\" .Values.name }}y{{ end }}"), "y");
    assert_eq!(r("{{ $d := dict \"a\" 1 }}{{ $d.a }}"), "1");
}

#[test]
fn ranging_over_a_huge_int_stops_at_the_step_budget_without_allocating() {
    let out = r("{{ range 9223372036854775807 }}{{ end }}");
    assert!(out.contains("steps"), "{out}");
}
