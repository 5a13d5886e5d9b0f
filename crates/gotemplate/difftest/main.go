// Go side of the differential test: renders each case with text/template
// (plus a sprig-compatible `contains`) and prints the results as JSON.
// Written for this test; it only calls Go's standard library.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

func fix(v interface{}) interface{} {
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x)
		}
		return x
	case []interface{}:
		for i := range x {
			x[i] = fix(x[i])
		}
		return x
	case map[string]interface{}:
		for k := range x {
			x[k] = fix(x[k])
		}
		return x
	}
	return v
}

// valuesAsStrings turns .Values into map[string]string as Rancher does.
func valuesAsStrings(d interface{}) interface{} {
	m, ok := d.(map[string]interface{})
	if !ok {
		return d
	}
	if vals, ok := m["Values"].(map[string]interface{}); ok && m["__strings"] == true {
		s := map[string]string{}
		for k, v := range vals {
			s[k] = fmt.Sprint(v)
		}
		m["Values"] = s
		delete(m, "__strings")
	}
	return m
}

func main() {
	var cases []map[string]interface{}
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	funcs := template.FuncMap{
		"contains": func(substr string, str string) bool { return strings.Contains(str, substr) },
	}
	var out []map[string]string
	for _, c := range cases {
		src, _ := c["src"].(string)
		data := valuesAsStrings(fix(c["data"]))
		t, err := template.New("t").Funcs(funcs).Parse(src)
		if err != nil {
			out = append(out, map[string]string{"err": err.Error()})
			continue
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			out = append(out, map[string]string{"err": err.Error()})
			continue
		}
		out = append(out, map[string]string{"ok": buf.String()})
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
