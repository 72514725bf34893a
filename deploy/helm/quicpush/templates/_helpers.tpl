{{/* The release's name prefix of every object, cut to the 63 characters of a DNS label. */}}
{{- define "quicpush.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "quicpush.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "edge"). */}}
{{- define "quicpush.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "quicpush.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "quicpush.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "quicpush.fullname" .)) -}}
{{- end -}}

{{/*
The environment every container starts with: the pod's address (for
addresses that must be reachable from other pods), the shared settings of
the ConfigMap come through envFrom.
*/}}
{{- define "quicpush.podIPEnv" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end -}}

{{/* The Redis password, when the Secret has one. */}}
{{- define "quicpush.redisPasswordEnv" -}}
- name: QUICPUSH_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "quicpush.secretName" . }}
      key: redis-password
      optional: true
{{- end -}}

{{/* The probes on the admin listener (the container port named admin). */}}
{{- define "quicpush.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: admin}
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: {path: /healthz, port: admin}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: admin}
  periodSeconds: 5
  failureThreshold: 2
{{- end -}}

{{/* The writable working directory: --dev-dir and nothing else, on a read-only root. */}}
{{- define "quicpush.workVolumeMount" -}}
- name: work
  mountPath: /home/nonroot
{{- end -}}
