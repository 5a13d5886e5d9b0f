version: '2'
services:
  sleeper:
    image: corral-busybox:latest
    command: ["sleep", "{{ .Values.seconds }}"]
{{- if .Values.token }}
    environment:
      TOKEN: ${token}
{{- end }}
{{- if eq .Values.restart "true" }}
    restart: always
{{- end }}
    labels:
      example.corral.dev/template: {{ .Stack.Name }}
