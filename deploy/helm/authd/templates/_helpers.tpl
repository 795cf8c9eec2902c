{{- define "authd.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "authd.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "authd.secretName" -}}
{{- default (include "authd.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "authd.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "authd.env" -}}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- range $k, $v := .Values.secret }}
- name: {{ $k }}
  valueFrom:
    secretKeyRef: {name: {{ include "authd.secretName" $ }}, key: {{ $k }}}
{{- end }}
{{- end -}}
