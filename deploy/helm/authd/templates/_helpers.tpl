{{/* Names and labels, per the Helm chart conventions. */}}

{{- define "authd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-authd, or the release name alone when it already says authd. */}}
{{- define "authd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "authd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "authd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "authd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "authd.labels" -}}
helm.sh/chart: {{ include "authd.chart" . }}
{{ include "authd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: authd
{{- end -}}

{{- define "authd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "authd.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "authd.secretName" -}}
{{- default (include "authd.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{- define "authd.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* The secret keys authd reads; the SMTP and sentinel credentials and the previous key may be absent. */}}
{{- define "authd.secretEnv" -}}
{{- $name := include "authd.secretName" . -}}
{{- range $key := list "DATABASE_URL" "SECRET_KEY" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef: {name: {{ $name }}, key: {{ $key }}}
{{- end }}
{{- range $key := list "SECRET_KEY_PREVIOUS" "SMTP_USERNAME" "SMTP_PASSWORD" "VALKEY_SENTINEL_PASSWORD" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef: {name: {{ $name }}, key: {{ $key }}, optional: true}
{{- end }}
{{- end -}}

{{/* The values' settings, checked: an install without them fails here, not in a crash loop. */}}
{{- define "authd.env" -}}
{{- $_ := required "env.PUBLIC_URL is required (the public base URL, e.g. https://auth.example.com)" .Values.env.PUBLIC_URL -}}
{{- $_ := required "env.VALKEY_URL is required (redis://valkey:6379/0)" .Values.env.VALKEY_URL -}}
{{- $_ := required "env.SMTP_HOST is required (the SMTP relay)" .Values.env.SMTP_HOST -}}
- name: HTTP_ADDR
  value: ":{{ .Values.service.port }}"
- name: METRICS_ADDR
  value: ":{{ .Values.service.metricsPort }}"
{{- if .Values.admin.enabled }}
- name: ADMIN_ADDR
  value: ":{{ .Values.admin.port }}"
- name: ADMIN_TOKENS_FILE
  value: /etc/authd/admin/tokens
{{- end }}
- name: AUTO_MIGRATE
  value: {{ ternary "false" "true" .Values.migrations.enabled | quote }}
{{- range $k, $v := .Values.env }}
{{- if ne $k "AUTO_MIGRATE" }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "authd.checkSecret" -}}
{{- if not .Values.existingSecret -}}
{{- $_ := required "secret.DATABASE_URL is required unless existingSecret names a Secret" .Values.secret.DATABASE_URL -}}
{{- $_ := required "secret.SECRET_KEY is required unless existingSecret names a Secret (openssl rand -base64 32)" .Values.secret.SECRET_KEY -}}
{{- end -}}
{{- end -}}
