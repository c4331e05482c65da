{{/* Names and labels. */}}
{{- define "baton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "baton.fullname" -}}
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

{{/* (dict "root" $ "component" "router") */}}
{{- define "baton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "baton.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "baton.labels" -}}
{{ include "baton.selectorLabels" . }}
app.kubernetes.io/part-of: baton
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "baton.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "baton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "baton.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "baton.credentialsSecret" -}}
{{- default (printf "%s-credentials" (include "baton.fullname" .)) .Values.credentials.existingSecret -}}
{{- end -}}

{{/* ---- pathways ---- */}}

{{/* The pathway files: the chart's pathways/ folder, then pathways.files (which wins). */}}
{{- define "baton.pathways.data" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "pathways/*.{yaml,yml}" -}}
{{- $_ := set $files (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- range $name, $text := .Values.pathways.files -}}
{{- $_ := set $files $name $text -}}
{{- end -}}
{{- if $files -}}
{{- toYaml $files -}}
{{- end -}}
{{- end -}}

{{- define "baton.pathways.checksum" -}}
{{- include "baton.pathways.data" . | sha256sum -}}
{{- end -}}

{{/* Checksum of the chart-made credentials Secret (an existing Secret: only its name; use a
     reloader such as stakater/Reloader to roll on its changes). */}}
{{- define "baton.credentials.checksum" -}}
{{- if .Values.credentials.existingSecret -}}
{{- .Values.credentials.existingSecret | sha256sum -}}
{{- else -}}
{{- toYaml .Values.credentials.values | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* ---- environment ---- */}}

{{/* Every service: Kafka (bootstrap, security, passthrough properties), ops listener, log
     level. (dict "root" $ "c" .Values.router) */}}
{{- define "baton.env.common" -}}
{{- $v := .root.Values -}}
{{- $own := .c.env | default dict -}}
- name: BATON_KAFKA_BOOTSTRAP
  value: {{ $v.kafka.bootstrap | quote }}
- name: BATON_OPS_PORT
  value: {{ .c.opsPort | quote }}
{{- if not (hasKey $own "BATON_OPS_BIND") }}
- name: BATON_OPS_BIND
  value: "0.0.0.0"
{{- end }}
{{- if not (hasKey $own "BATON_LOG_LEVEL") }}
- name: BATON_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
{{- end }}
{{- with $v.kafka.securityProtocol }}
- name: BATON_KAFKA_SECURITY_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- with $v.kafka.sasl.mechanism }}
- name: BATON_KAFKA_SASL_MECHANISMS
  value: {{ . | quote }}
{{- end }}
{{- if $v.kafka.sasl.username }}
- name: BATON_KAFKA_SASL_USERNAME
  value: {{ $v.kafka.sasl.username | quote }}
- name: BATON_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.credentialsSecret" .root }}
      key: kafka-sasl-password
{{- end }}
{{- if $v.kafka.ssl.caSecret }}
- name: BATON_KAFKA_SSL_CA_LOCATION
  value: {{ printf "/etc/baton/kafka-ca/%s" $v.kafka.ssl.caKey | quote }}
{{- end }}
{{- if $v.kafka.ssl.clientCertSecret }}
- name: BATON_KAFKA_SSL_CERTIFICATE_LOCATION
  value: /etc/baton/kafka-client/tls.crt
- name: BATON_KAFKA_SSL_KEY_LOCATION
  value: /etc/baton/kafka-client/tls.key
{{- end }}
{{- range $prop, $val := $v.kafka.properties }}
{{- $name := printf "BATON_KAFKA_%s" ($prop | replace "." "_" | upper) }}
{{- if not (hasKey $own $name) }}
- name: {{ $name }}
  value: {{ $val | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* A variable from the credentials Secret: (dict "root" $ "name" "BATON_X" "key" "k" "optional" false) */}}
{{- define "baton.env.secret" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.credentialsSecret" .root }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* A service's env map and extraSecretEnv list: (dict "root" $ "c" .Values.router) */}}
{{- define "baton.env.extra" -}}
{{- range $name, $val := .c.env }}
- name: {{ $name }}
  value: {{ $val | toString | quote }}
{{- end }}
{{- range .c.extraSecretEnv }}
{{ include "baton.env.secret" (dict "root" $.root "name" .name "key" .key "optional" false) }}
{{- end }}
{{- end -}}

{{/* ---- volumes ---- */}}

{{/* (dict "root" $ "c" .Values.router "pathways" true) */}}
{{- define "baton.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .pathways }}
{{- if include "baton.pathways.data" .root }}
- name: pathways
  mountPath: /etc/baton/pathways
  readOnly: true
{{- end }}
{{- end }}
{{- if .root.Values.kafka.ssl.caSecret }}
- name: kafka-ca
  mountPath: /etc/baton/kafka-ca
  readOnly: true
{{- end }}
{{- if .root.Values.kafka.ssl.clientCertSecret }}
- name: kafka-client
  mountPath: /etc/baton/kafka-client
  readOnly: true
{{- end }}
{{- with .c.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "baton.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .pathways }}
{{- if include "baton.pathways.data" .root }}
- name: pathways
  configMap:
    name: {{ include "baton.fullname" .root }}-pathways
{{- end }}
{{- end }}
{{- with .root.Values.kafka.ssl.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- with .root.Values.kafka.ssl.clientCertSecret }}
- name: kafka-client
  secret:
    secretName: {{ . }}
{{- end }}
{{- with .c.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Scheduling: (dict "root" $ "c" .Values.router "component" "router") */}}
{{- define "baton.scheduling" -}}
{{- with .c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .c.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "baton.selectorLabels" (dict "root" .root "component" .component) | nindent 8 }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "baton.selectorLabels" (dict "root" .root "component" .component) | nindent 8 }}
{{- end }}
{{- end -}}

{{/* ---- per-service objects shared by the five ---- */}}

{{/* PodDisruptionBudget: (dict "root" $ "c" .Values.router "component" "router") */}}
{{- define "baton.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "baton.fullname" .root }}-{{ .component }}
  labels:
    {{- include "baton.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  {{- if hasKey .c.pdb "minAvailable" }}
  minAvailable: {{ .c.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .c.pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "baton.selectorLabels" (dict "root" .root "component" .component) | nindent 6 }}
{{- end -}}

{{/* Service with the ops port (and extra ports): (dict "root" $ "c" ... "component" ... "ports" list) */}}
{{- define "baton.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "baton.fullname" .root }}-{{ .component }}
  labels:
    {{- include "baton.labels" (dict "root" .root "component" .component) | nindent 4 }}
  {{- with (.c.service | default dict).annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ (.c.service | default dict).type | default "ClusterIP" }}
  selector:
    {{- include "baton.selectorLabels" (dict "root" .root "component" .component) | nindent 4 }}
  ports:
    - name: ops
      port: {{ .c.opsPort }}
      targetPort: ops
      protocol: TCP
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
{{- end -}}

{{/* Consumer autoscaling on Kafka lag (an External metric): replicas never exceed the
     partitions. (dict "root" $ "c" .Values.router "component" "router") */}}
{{- define "baton.hpa.lag" -}}
{{- if .c.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "baton.fullname" .root }}-{{ .component }}
  labels:
    {{- include "baton.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "baton.fullname" .root }}-{{ .component }}
  minReplicas: {{ .c.autoscaling.minReplicas }}
  maxReplicas: {{ min (int .c.autoscaling.maxReplicas) (int .root.Values.kafka.partitions) }}
  metrics:
    - type: External
      external:
        metric:
          name: {{ .c.autoscaling.lagMetric }}
          selector:
            matchLabels:
              consumergroup: {{ .c.groupId }}
        target:
          type: AverageValue
          averageValue: {{ .c.autoscaling.lagPerReplica | quote }}
  behavior:
    # every scale step rebalances the consumer group: scale up promptly, down slowly
    scaleUp:
      stabilizationWindowSeconds: 60
      policies:
        - {type: Pods, value: 2, periodSeconds: 120}
    scaleDown:
      stabilizationWindowSeconds: 600
      policies:
        - {type: Pods, value: 1, periodSeconds: 300}
{{- end }}
{{- end -}}
