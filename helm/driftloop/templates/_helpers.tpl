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

{{/* The selected use case's row of files/use-cases.yaml, as JSON (`include ... | fromJson`): a chart cannot import the
declaration, so it keeps the few facts it renders from, checked against the declarations by tests/cluster. */}}
{{- define "driftloop.useCase" -}}
{{- $row := get (.Files.Get "files/use-cases.yaml" | fromYaml) .Values.useCase -}}
{{- if not $row -}}
{{- fail (printf "useCase %q has no row in files/use-cases.yaml: add it beside the schema's enum" .Values.useCase) -}}
{{- end -}}
{{- toJson $row -}}
{{- end -}}

{{/* The InferenceService component clients reach (the inference Service, its NetworkPolicy): the predictor
when it looks features up itself (`serving.topology: inprocess`), else the transformer in front of it. */}}
{{- define "driftloop.inferenceComponent" -}}
{{- if eq .Values.serving.topology "inprocess" }}predictor{{ else }}transformer{{ end }}
{{- end -}}

{{/* The registered model's name, which is also the InferenceService's: `modelName`, else the use case's. */}}
{{- define "driftloop.modelName" -}}
{{- .Values.modelName | default (include "driftloop.useCase" . | fromJson).modelName -}}
{{- end -}}

{{/* The realised-quality alert of the selected use case, as a rule group to append to files/prometheus-rules.yaml:
the worst version's realised primary metric (min when higher is better, max when lower is) past the use case's
threshold. Only series of that metric count, so a threshold is never compared with another metric's values. */}}
{{- define "driftloop.realisedQualityRules" -}}
{{- $useCase := include "driftloop.useCase" . | fromJson -}}
{{- $worst := ternary "min" "max" $useCase.higherIsBetter -}}
{{- $past := ternary "<" ">" $useCase.higherIsBetter -}}
- name: driftloop-realised-quality
  rules:
    - alert: DriftloopRealisedQualityLow
      expr: {{ printf "%s by (model_version, metric) (driftloop_realised_quality{metric=%q}) %s %v" $worst $useCase.primaryMetric $past $useCase.realisedAlert }}
      for: 0m
      labels: {severity: critical}
      annotations:
        summary: {{ printf "Model version {{ $labels.model_version }} realised %s {{ $value }} once labels arrived (alert %s %v)" $useCase.primaryMetric $past $useCase.realisedAlert | quote }}
{{- end -}}

{{/* The stream's service level, as a rule group to append to files/prometheus-rules.yaml (values name its
objective and backlog threshold), over the stream worker's metrics (pipelines/streaming/metrics.py). The objective is
also a recorded series, so the dashboard draws the line the alert uses. files/prometheus-rules-stream-test.yaml
tests it. */}}
{{- define "driftloop.streamRules" -}}
{{- $objective := .Values.stream.freshnessObjectiveSeconds -}}
{{- $backlog := .Values.stream.backlogAlertRecords -}}
- name: driftloop-stream
  rules:
    - record: driftloop:stream_freshness_objective_seconds
      expr: {{ printf "vector(%v)" $objective }}
    - alert: FeatureFreshnessSlow
      expr: {{ printf "histogram_quantile(0.99, sum by (le, view) (rate(driftloop_stream_freshness_seconds_bucket[5m]))) > %v" $objective }}
      for: 5m
      labels: {severity: warning}
      annotations:
        summary: {{ printf "{{ $labels.view }}: p99 seconds from an answer to the online store is {{ $value | humanize }}, above the objective of %v s" $objective | quote }}
        description: "The streamed features the transformer serves lag the traffic. Look at the stream workers' backlog (StreamWorkerBehind), their push time (driftloop_stream_push_seconds) and the online store's Redis."
    - alert: StreamWorkerBehind
      expr: |
        max by (stream) (driftloop_stream_backlog_records) > {{ $backlog }}
          and max by (stream) (delta(driftloop_stream_backlog_records[10m])) >= 0
      for: 10m
      labels: {severity: warning}
      annotations:
        summary: {{ printf "Stream {{ $labels.stream }}: {{ $value }} records not acknowledged, above %v and not shrinking" $backlog | quote }}
        description: "The stream workers fall behind the publishers: `kubectl logs -l app.kubernetes.io/component=stream-worker`; more workers (`stream.workers`, at most `stream.partitions`) share the partitions."
    - alert: StreamWorkerDown
      expr: up{job="driftloop-stream-worker"} == 0
      for: 5m
      labels: {severity: critical}
      annotations:
        summary: "Stream worker {{ "{{ $labels.instance }}" }} does not answer its /metrics: its partitions' features stay as they were"
        description: "Its backlog and freshness series stop with it, so FeatureFreshnessSlow cannot fire for its partitions. Read `kubectl describe pod` and its logs."
{{- end -}}

{{/* Every alert rule Prometheus loads: the plain rules file, the use case's realised-quality group, then the
stream's (when it runs). */}}
{{- define "driftloop.prometheusRules" -}}
{{- /* DriftloopDataDrift fires at the drift job's own threshold (drift.shareThreshold), not the file's 0.5. */}}
{{- $drift := printf "(driftloop_drift_share) >= %v" .Values.drift.shareThreshold }}
{{ .Files.Get "files/prometheus-rules.yaml" | replace "(driftloop_drift_share) >= 0.5" $drift | trimSuffix "\n" }}
{{ include "driftloop.realisedQualityRules" . | indent 2 }}
{{- if include "driftloop.streaming" . }}
{{ include "driftloop.streamRules" . | indent 2 }}
{{- end }}
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

{{- define "driftloop.apiTokensSecret" -}}{{ .Release.Name }}-api-tokens{{- end -}}
{{- define "driftloop.mlflowUsersSecret" -}}{{ .Release.Name }}-mlflow-users{{- end -}}

{{/* The MLflow login of one component (dict "root" . "user" "driftloop-serving"): MLflow's own client variables,
the password from the release's MLflow users Secret. */}}
{{- define "driftloop.mlflowLogin" -}}
- name: MLFLOW_TRACKING_USERNAME
  value: {{ .user | quote }}
- name: MLFLOW_TRACKING_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "driftloop.mlflowUsersSecret" .root }}
      key: {{ printf "mlflow-%s" (trimPrefix "driftloop-" .user) | quote }}
{{- end -}}

{{/* The API credentials for a model server: the Secret's files, readable by the pod's group only. */}}
{{- define "driftloop.credentialsEnv" -}}
- name: DRIFTLOOP_CREDENTIALS_DIR
  value: /etc/driftloop/credentials
{{- end -}}

{{- define "driftloop.credentialsMount" -}}
- name: api-tokens
  mountPath: /etc/driftloop/credentials
  readOnly: true
{{- end -}}

{{- define "driftloop.credentialsVolume" -}}
- name: api-tokens
  secret:
    secretName: {{ include "driftloop.apiTokensSecret" . }}
    defaultMode: 0440
{{- end -}}

{{- define "driftloop.settingsConfigMap" -}}{{ .Release.Name }}-settings{{- end -}}

{{/* The environment every driftloop container shares: one settings object, configured by DRIFTLOOP_*
from the settings ConfigMap, plus the Redis password from the Secret. No database URL: each workload adds the
PostgreSQL role it needs (driftloop.registryEnv, driftloop.lockEnv; MLflow its own), never the superuser's,
which only PostgreSQL and the migration job get. The training pipeline's KFP task pods get the same
(pipelines/kfp/cluster_wiring.py). */}}
{{- define "driftloop.envFrom" -}}
- configMapRef:
    name: {{ include "driftloop.settingsConfigMap" . }}
{{- end -}}

{{- define "driftloop.env" -}}
- name: DRIFTLOOP_FEAST_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "driftloop.postgresSecret" . }}
      key: redis-password
{{- if .Values.objectStore.enabled }}
{{ include "driftloop.objectStoreEnv" . }}
{{- end }}
{{- end -}}

{{/* The Feast SQL registry's URL as one role, called with (dict "root" $ "access" "writer"|"reader"). Writers
apply the feature repo and materialise (materialisation records its interval in the registry); readers look
features up; platform/driftloop/database/roles.py says who is which and why. */}}
{{- define "driftloop.registryEnv" -}}
- name: DRIFTLOOP_FEAST_REGISTRY_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "driftloop.postgresSecret" .root }}
      key: {{ printf "feast-registry-%s-uri" .access }}
{{- end -}}

{{/* A writer of the event store that uses no features (a landing, the model servers' label route): with the
data on the object store, writers on any node serialise on PostgreSQL advisory locks in the registry's
database, which takes a login and no privilege, so the reader's URL; without it, file locks and no URL. Called
with (dict "root" $ "indent" <the env list's indentation>), and "readsFeatures" true for a writer that looks
features up too (the in-process predictor): it has the reader's URL either way. */}}
{{- define "driftloop.lockEnv" -}}
{{- if or .root.Values.objectStore.enabled .readsFeatures }}
{{- include "driftloop.registryEnv" (dict "root" .root "access" "reader") | nindent .indent }}
{{- end }}
{{- end -}}

{{/* The object store's credentials (KFP's own Secret, which the training tasks read too:
pipelines/kfp/cluster_wiring.py) and what keeps the AWS SDKs from probing for an EC2 region. */}}
{{- define "driftloop.objectStoreSecret" -}}mlpipeline-minio-artifact{{- end -}}

{{- define "driftloop.objectStoreEnv" -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "driftloop.objectStoreSecret" . }}
      key: accesskey
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "driftloop.objectStoreSecret" . }}
      key: secretkey
- name: AWS_REGION
  value: us-east-1
- name: AWS_EC2_METADATA_DISABLED
  value: "true"
{{- end -}}

{{/* The stream (stream-redis.yaml, stream-worker.yaml): its Redis's Service and the workers' /metrics port, which
is also their liveness. DRIFTLOOP_STREAM_URL is in the settings ConfigMap (every container reads the same stream,
never a local SQLite log of its own); the password only where records are published or read: the predictor (its
answers, and `driftloop data ingest` exec'd in its pod), the Feast job's landing of events, the stream workers. */}}
{{/* Non-empty when the stream runs: `stream.enabled` and a use case with streamed views (files/use-cases.yaml
`streamed`; without one, `driftloop serve stream` has nothing to keep and exits). */}}
{{- define "driftloop.streaming" -}}
{{- if and .Values.stream.enabled (include "driftloop.useCase" . | fromJson).streamed -}}true{{- end -}}
{{- end -}}

{{- define "driftloop.streamRedis" -}}{{ .Release.Name }}-stream-redis{{- end -}}
{{- define "driftloop.streamWorker" -}}{{ .Release.Name }}-stream-worker{{- end -}}
{{- define "driftloop.streamPort" -}}9109{{- end -}}

{{- define "driftloop.streamPassword" -}}
- name: DRIFTLOOP_STREAM_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "driftloop.postgresSecret" . }}
      key: stream-password
{{- end -}}

{{/* The stream's password for a publisher, when the stream runs: (dict "root" $ "indent" <the env list's indentation>). */}}
{{- define "driftloop.streamEnv" -}}
{{- if include "driftloop.streaming" .root }}
{{- include "driftloop.streamPassword" .root | nindent .indent }}
{{- end }}
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

{{/* A RayCluster pod (head or worker): our image running `driftloop serve ray --kuberay`, the release's settings
and state volume, /dev/shm in memory for Ray's object store (a container's default 64 MiB would push it to
disk), HOME on the writable /tmp. Called with (dict "root" $ "role" "head"|"worker" "node" <values of it>). */}}
{{- define "driftloop.rayPod" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "driftloop.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ printf "ray-%s" .role }}
spec:
  serviceAccountName: {{ $root.Release.Name }}-workloads
  automountServiceAccountToken: false
  securityContext:
    {{- include "driftloop.podSecurityContext" dict | nindent 4 }}
  containers:
    - name: {{ printf "ray-%s" .role }}
      image: {{ include "driftloop.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: ["serve", "ray", "--kuberay"]
      securityContext:
        {{- include "driftloop.securityContext" dict | nindent 8 }}
      envFrom:
        {{- include "driftloop.envFrom" $root | nindent 8 }}
      env:
        {{- include "driftloop.env" $root | nindent 8 }}
        - name: HOME
          value: /tmp
      ports:
        {{- if eq .role "head" }}
        - {name: gcs-server, containerPort: 6379}
        - {name: client, containerPort: 10001}
        {{- end }}
        - {name: raylet, containerPort: {{ $root.Values.ray.rayletPort }}}
      readinessProbe:
        tcpSocket: {port: {{ if eq .role "head" }}6379{{ else }}{{ $root.Values.ray.rayletPort }}{{ end }}}
        periodSeconds: 10
      livenessProbe:
        tcpSocket: {port: {{ $root.Values.ray.rayletPort }}}
        initialDelaySeconds: 30
        periodSeconds: 20
      resources:
        {{- toYaml .node.resources | nindent 8 }}
      volumeMounts:
        {{- include "driftloop.stateMounts" $root | nindent 8 }}
        - name: shm
          mountPath: /dev/shm
  volumes:
    {{- if $root.Values.objectStore.enabled }}
    {{- /* Tasks read and write the object store: no RWO state volume pins every Ray pod to one node. */}}
    - name: state
      emptyDir: {}
    - name: tmp
      emptyDir: {}
    {{- else }}
    {{- include "driftloop.stateVolume" $root | nindent 4 }}
    {{- end }}
    - name: shm
      emptyDir:
        medium: Memory
        sizeLimit: {{ printf "%dMi" (int .node.objectStoreMiB) }}
{{- end -}}
