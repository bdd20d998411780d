{{/* Names ------------------------------------------------------------------------------------ */}}
{{- define "emopulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "emopulse.fullname" -}}
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

{{/* "<fullname>-<component>" ; call with (list $ "gateway") */}}
{{- define "emopulse.componentName" -}}
{{- printf "%s-%s" (include "emopulse.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "emopulse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels: call with (list $ "component") ------------------------------------------------- */}}
{{- define "emopulse.selectorLabels" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ include "emopulse.name" $ }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "emopulse.labels" -}}
{{- $ := index . 0 -}}
helm.sh/chart: {{ include "emopulse.chart" $ }}
{{ include "emopulse.selectorLabels" . }}
app.kubernetes.io/part-of: emopulse
app.kubernetes.io/version: {{ $.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $.Release.Service }}
{{- end -}}

{{/* Every pod of this release (for NetworkPolicy peers) */}}
{{- define "emopulse.releaseSelector" -}}
app.kubernetes.io/name: {{ include "emopulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Deep merge of two maps (maps merged key by key, anything else replaced; false and 0 count as
     values, unlike sprig's merge). Call with (list base override); returns JSON. */}}
{{- define "emopulse.deepMerge" -}}
{{- $base := deepCopy (index . 0) -}}
{{- range $k, $v := (index . 1) -}}
{{- if and (kindIs "map" $v) (kindIs "map" (get $base $k)) -}}
{{- $_ := set $base $k (include "emopulse.deepMerge" (list (get $base $k) $v) | fromJson) -}}
{{- else -}}
{{- $_ := set $base $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $base -}}
{{- end -}}

{{/* A component's values: components.default merged with components.<name>. (list $ name) */}}
{{- define "emopulse.component" -}}
{{- $ := index . 0 -}}
{{- $own := index $.Values.components (index . 1) | default dict -}}
{{- include "emopulse.deepMerge" (list $.Values.components.default $own) -}}
{{- end -}}

{{/* The components, in pipeline order (components.default is not one). */}}
{{- define "emopulse.componentNames" -}}
{{- $names := list -}}
{{- range $name, $_ := .Values.components -}}
{{- if ne $name "default" -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/* Images ----------------------------------------------------------------------------------- */}}
{{- define "emopulse.image" -}}
{{- $ := index . 0 -}}{{- $img := index . 1 -}}
{{- $ref := printf "%s%s" ($.Values.image.registry | default "") $img.repository -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default $.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* Connections ------------------------------------------------------------------------------ */}}
{{/* Stream replicas: as set, else the bundled cluster's size, else 1 (an external server's own choice). */}}
{{- define "emopulse.streamReplicas" -}}
{{- if .Values.nats.streamReplicas -}}
{{- .Values.nats.streamReplicas -}}
{{- else if and .Values.nats.bundled.enabled (not .Values.nats.url) -}}
{{- .Values.nats.bundled.replicas -}}
{{- else -}}
1
{{- end -}}
{{- end -}}

{{- define "emopulse.natsUrl" -}}
{{- if .Values.nats.url -}}
{{- .Values.nats.url -}}
{{- else if .Values.nats.bundled.enabled -}}
{{- printf "nats://%s-nats:4222" (include "emopulse.fullname" .) -}}
{{- else -}}
{{- fail "NATS: set nats.url (an external server with JetStream) or nats.bundled.enabled=true" -}}
{{- end -}}
{{- end -}}

{{- define "emopulse.tritonUrl" -}}
{{- if .Values.triton.enabled -}}
{{- printf "%s-triton:8001" (include "emopulse.fullname" .) -}}
{{- else -}}
{{- required "Triton: set triton.externalUrl (host:port of Triton's gRPC endpoint) or triton.enabled=true" .Values.triton.externalUrl -}}
{{- end -}}
{{- end -}}

{{- define "emopulse.s3SecretName" -}}
{{- if .Values.storage.s3.existingSecret -}}
{{- .Values.storage.s3.existingSecret -}}
{{- else if and .Values.storage.s3.accessKeyId .Values.storage.s3.secretAccessKey -}}
{{- printf "%s-s3" (include "emopulse.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* S3 credential env entries (AWS_*), when a Secret is configured. */}}
{{- define "emopulse.s3CredentialEnv" -}}
{{- $secret := include "emopulse.s3SecretName" . -}}
{{- if $secret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ .Values.storage.s3.accessKeyIdKey }}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ .Values.storage.s3.secretAccessKeyKey }}}
{{- end }}
{{- end -}}

{{/* EMOPULSE_* env of a component: (list $ name component) */}}
{{- define "emopulse.componentEnv" -}}
{{- $ := index . 0 -}}{{- $c := index . 2 -}}
{{- $s := $.Values.storage -}}
- name: EMOPULSE_NATS_URL
  value: {{ include "emopulse.natsUrl" $ | quote }}
- name: EMOPULSE_STREAM_REPLICAS
  value: {{ include "emopulse.streamReplicas" $ | quote }}
{{- if $c.usesTriton }}
- name: EMOPULSE_TRITON_URL
  value: {{ include "emopulse.tritonUrl" $ | quote }}
{{- end }}
- name: EMOPULSE_GRPC_PORT
  value: {{ $.Values.ports.grpc | quote }}
- name: EMOPULSE_METRICS_PORT
  value: {{ $.Values.ports.metrics | quote }}
- name: EMOPULSE_DATA_DIR
  value: {{ $.Values.dataDir | quote }}
- name: EMOPULSE_STORAGE
  value: {{ $s.type | quote }}
{{- if eq $s.type "s3" }}
- name: EMOPULSE_S3_BUCKET
  value: {{ required "storage.s3.bucket is required when storage.type=s3" $s.s3.bucket | quote }}
- name: EMOPULSE_S3_REGION
  value: {{ $s.s3.region | quote }}
{{- if $s.s3.endpoint }}
- name: EMOPULSE_S3_ENDPOINT_URL
  value: {{ $s.s3.endpoint | quote }}
{{- end }}
{{- include "emopulse.s3CredentialEnv" $ }}
{{- else if eq $s.type "local" }}
{{- $_ := required "storage.local.existingClaim (a ReadWriteMany PVC shared by every pod) is required when storage.type=local" $s.local.existingClaim }}
{{- end }}
{{- range $k, $v := (merge (deepCopy ($c.settings | default dict)) ($.Values.settings | default dict)) }}
- name: EMOPULSE_{{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- with $c.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "emopulse.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "emopulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "emopulse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}
