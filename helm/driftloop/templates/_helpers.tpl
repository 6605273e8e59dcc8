{{/* Standard labels and shared snippets. */}}
{{- define "driftloop.name" -}}driftloop{{- end -}}

{{- define "driftloop.labels" -}}
app.kubernetes.io/name: {{ include "driftloop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: driftloop
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "driftloop.selector" -}}
app.kubernetes.io/name: {{ include "driftloop.name" $.root }}
app.kubernetes.io/instance: {{ $.root.Release.Name }}
app.kubernetes.io/component: {{ $.component }}
{{- end -}}

{{- define "driftloop.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end -}}

{{/* Non-root, no privilege escalation, no capabilities, read-only root filesystem. */}}
{{- define "driftloop.securityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid | default 10001 }}
runAsGroup: {{ .uid | default 10001 }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ if hasKey . "readOnly" }}{{ .readOnly }}{{ else }}true{{ end }}
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "driftloop.podSecurityContext" -}}
runAsNonRoot: true
fsGroup: {{ .fsGroup | default 10001 }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "driftloop.postgresSecret" -}}{{ .Release.Name }}-postgres{{- end -}}

{{/* The environment every driftloop container shares: one settings object, configured by DRIFTLOOP_*. */}}
{{- define "driftloop.env" -}}
- name: DRIFTLOOP_MODE
  value: kind
- name: DRIFTLOOP_BIND_ADDRESS
  value: "0.0.0.0"
- name: DRIFTLOOP_STATE_DIR
  value: /var/lib/driftloop
- name: DRIFTLOOP_MODEL_NAME
  value: {{ .Values.modelName | quote }}
- name: DRIFTLOOP_MLFLOW_TRACKING_URI
  value: {{ printf "http://%s-mlflow:5000" .Release.Name | quote }}
- name: DRIFTLOOP_FEAST_ONLINE_STORE
  value: redis
- name: DRIFTLOOP_FEAST_REDIS_URL
  value: {{ printf "%s-redis:6379" .Release.Name | quote }}
- name: DRIFTLOOP_FEAST_REPO_PATH
  value: /var/lib/driftloop/feast
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "driftloop.postgresSecret" . }}
      key: password
- name: DRIFTLOOP_FEAST_REGISTRY_URI
  value: {{ printf "postgresql+psycopg://driftloop:$(POSTGRES_PASSWORD)@%s-postgres:5432/feast" .Release.Name | quote }}
- name: DRIFTLOOP_KFP_HOST
  value: {{ .Values.kfpHost | quote }}
- name: DRIFTLOOP_PUSHGATEWAY_URL
  value: {{ printf "%s-pushgateway:9091" .Release.Name | quote }}
- name: DRIFTLOOP_MODEL_POLL_INTERVAL_S
  value: {{ .Values.serving.modelPollIntervalSeconds | quote }}
- name: DRIFTLOOP_CHALLENGER_MODE
  value: {{ .Values.serving.challengerMode | quote }}
- name: DRIFTLOOP_CHALLENGER_TRAFFIC
  value: {{ .Values.serving.challengerTraffic | quote }}
- name: DRIFTLOOP_DRIFT_WINDOW_MINUTES
  value: {{ .Values.drift.windowMinutes | quote }}
- name: DRIFTLOOP_DRIFT_SHARE_THRESHOLD
  value: {{ .Values.drift.shareThreshold | quote }}
- name: DRIFTLOOP_DRIFT_MIN_ROWS
  value: {{ .Values.drift.minRows | quote }}
- name: DRIFTLOOP_RETRAIN_COOLDOWN_MINUTES
  value: {{ .Values.drift.cooldownMinutes | quote }}
{{- end -}}

{{- define "driftloop.stateVolume" -}}
- name: state
  persistentVolumeClaim:
    claimName: {{ .Release.Name }}-state
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "driftloop.stateMounts" -}}
- name: state
  mountPath: /var/lib/driftloop
- name: tmp
  mountPath: /tmp
{{- end -}}
