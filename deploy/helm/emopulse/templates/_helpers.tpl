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

{{/* NATS credentials ------------------------------------------------------------------------ */}}
{{/* The Secret holding the NATS password: nats.auth.existingSecret, else the chart's own (bundled
     server only); empty when the services connect without credentials. */}}
{{- define "emopulse.natsAuthSecret" -}}
{{- $a := .Values.nats.auth -}}
{{- if $a.enabled -}}
{{- if $a.existingSecret -}}
{{- $a.existingSecret -}}
{{- else if and .Values.nats.bundled.enabled (not .Values.nats.url) -}}
{{- printf "%s-nats-auth" (include "emopulse.fullname" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* NATS_PASSWORD from the Secret, for a container that connects to NATS or runs it: defined before
     any env entry that refers to it as $(NATS_PASSWORD). Nothing without credentials. */}}
{{- define "emopulse.natsPasswordEnv" -}}
{{- $secret := include "emopulse.natsAuthSecret" . -}}
{{- if $secret }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ .Values.nats.auth.passwordKey }}}
{{- end }}
{{- end -}}

{{/* EMOPULSE_NATS_URL as the services get it: with credentials, every URL of emopulse.natsUrl
     carries user and $(NATS_PASSWORD) (Kubernetes expands it from the env entry before). */}}
{{- define "emopulse.natsClientUrl" -}}
{{- $url := include "emopulse.natsUrl" . -}}
{{- if include "emopulse.natsAuthSecret" . -}}
{{- $urls := list -}}
{{- range $u := splitList "," $url -}}
{{- $u = trim $u -}}
{{- if regexMatch "^nats://[^/]*@" $u -}}
{{- fail (printf "nats.url: %q already holds credentials; with nats.auth.existingSecret the chart adds them (user nats.auth.user, the Secret's password): take them out of the URL, or set nats.auth.enabled=false" (regexReplaceAll "//[^/]*@" $u "//***@")) -}}
{{- end -}}
{{- $urls = append $urls (regexReplaceAllLiteral "^nats://" $u (printf "nats://%s:$(NATS_PASSWORD)@" $.Values.nats.auth.user)) -}}
{{- end -}}
{{- join "," $urls -}}
{{- else -}}
{{- $url -}}
{{- end -}}
{{- end -}}

{{- define "emopulse.tritonUrl" -}}
{{- if .Values.triton.enabled -}}
{{- printf "%s-triton:8001" (include "emopulse.fullname" .) -}}
{{- else -}}
{{- required "Triton: set triton.externalUrl (host:port of Triton's gRPC endpoint) or triton.enabled=true" .Values.triton.externalUrl -}}
{{- end -}}
{{- end -}}

{{/* The port of an address: "host:port", "scheme://[user@]host[:port][/path]"; the given default
     when it names none. (list address default) */}}
{{- define "emopulse.addressPort" -}}
{{- $host := regexReplaceAll "/.*$" (regexReplaceAll "^[a-zA-Z][a-zA-Z0-9+.-]*://([^@/]*@)?" (trim (index . 0)) "") "" -}}
{{- $port := trimPrefix ":" (regexFind ":[0-9]+$" $host) -}}
{{- default (toString (index . 1)) $port -}}
{{- end -}}

{{/* Whether a component's NetworkPolicy limits its egress: it has `sourceEgress` (the ingest) or
     `webhookEgress` (the pulse), even an empty list. (component) -> "true" or "" */}}
{{- define "emopulse.limitsEgress" -}}
{{- if or (hasKey . "sourceEgress") (hasKey . "webhookEgress") -}}true{{- end -}}
{{- end -}}

{{/* Egress rules of a component whose NetworkPolicy limits egress (emopulse.limitsEgress): DNS;
     NATS (the bundled pods, else any address on the ports of nats.url); Triton when it uses it
     (the bundled pods, else any address on the port of triton.externalUrl); S3 with
     storage.type=s3 when it uses storage (any address on the endpoint's port, 443 for AWS); the
     history database when it uses history and one is set (any address on its port); then its
     sourceEgress and webhookEgress. (list $ component) */}}
{{- define "emopulse.egressRules" -}}
{{- $ := index . 0 -}}{{- $c := index . 1 -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- if $.Values.nats.url }}
{{- $ports := list -}}
{{- range $url := splitList "," $.Values.nats.url }}
{{- $ports = append $ports (include "emopulse.addressPort" (list $url 4222)) -}}
{{- end }}
- ports:
    {{- range $port := ($ports | uniq) }}
    - {port: {{ $port }}, protocol: TCP}
    {{- end }}
{{- else }}
- to:
    - podSelector:
        matchLabels:
          {{- include "emopulse.selectorLabels" (list $ "nats") | nindent 10 }}
  ports:
    - {port: 4222, protocol: TCP}
{{- end }}
{{- if $c.usesTriton }}
{{- if $.Values.triton.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "emopulse.selectorLabels" (list $ "triton") | nindent 10 }}
  ports:
    - {port: 8001, protocol: TCP}
{{- else }}
- ports:
    - {port: {{ include "emopulse.addressPort" (list (include "emopulse.tritonUrl" $) 8001) }}, protocol: TCP}
{{- end }}
{{- end }}
{{- if and (eq $.Values.storage.type "s3") $c.usesStorage }}
- ports:
    - {port: {{ include "emopulse.addressPort" (list $.Values.storage.s3.endpoint (ternary 80 443 (hasPrefix "http://" $.Values.storage.s3.endpoint))) }}, protocol: TCP}
{{- end }}
{{- if and $c.usesHistory (or $.Values.history.existingSecret $.Values.history.databaseUrl) }}
- ports:
    - {port: {{ ternary $.Values.history.port (include "emopulse.addressPort" (list $.Values.history.databaseUrl 5432)) (not (empty $.Values.history.existingSecret)) }}, protocol: TCP}
{{- end }}
{{- with $c.sourceEgress }}
{{ toYaml . }}
{{- end }}
{{- with $c.webhookEgress }}
{{ toYaml . }}
{{- end }}
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

{{/* EMOPULSE_HISTORY_URL: from history.existingSecret (preferred: the URL holds a password), else
     history.databaseUrl, else none (the service's own sqlite file in its data dir). The URL is
     never printed: it may hold a password. */}}
{{- define "emopulse.historyEnv" -}}
{{- $h := .Values.history -}}
{{- if $h.existingSecret }}
- name: EMOPULSE_HISTORY_URL
  valueFrom:
    secretKeyRef: {name: {{ $h.existingSecret }}, key: {{ required "history.secretKey (the URL's key in history.existingSecret) is required" $h.secretKey }}}
{{- else if $h.databaseUrl }}
{{- if not (regexMatch "^(postgresql|postgres)://|^sqlite:///" $h.databaseUrl) }}
{{- fail "history.databaseUrl must be postgresql://user:password@host:port/db (or sqlite:///abs/path.db), or the service refuses to start" }}
{{- end }}
- name: EMOPULSE_HISTORY_URL
  value: {{ $h.databaseUrl | quote }}
{{- end }}
{{- end -}}

{{/* TLS on a component's gRPC port (components.gateway.tls): "true" or "" after checking that only
     the gateway sets it and that clientAuth has a certificate Secret. (list name component) */}}
{{- define "emopulse.tls" -}}
{{- $name := index . 0 -}}{{- $t := (index . 1).tls | default dict -}}
{{- if or $t.secretName $t.clientAuth $t.clientCASecret -}}
{{- if ne $name "gateway" -}}
{{- fail (printf "components.%s.tls: only the gateway serves TLS (components.gateway.tls)" $name) -}}
{{- end -}}
{{- if not $t.secretName -}}
{{- fail "components.gateway.tls.secretName (a kubernetes.io/tls Secret: tls.crt, tls.key) is required with clientAuth or clientCASecret" -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{/* Where the gateway's TLS files are mounted (read-only) */}}
{{- define "emopulse.tlsDir" -}}/etc/emopulse/tls{{- end -}}

{{/* EMOPULSE_* env of a component: (list $ name component) */}}
{{- define "emopulse.componentEnv" -}}
{{- $ := index . 0 -}}{{- $c := index . 2 -}}
{{- $s := $.Values.storage -}}
{{- with (include "emopulse.natsPasswordEnv" $ | trim) }}{{ . }}
{{ end -}}
- name: EMOPULSE_NATS_URL
  value: {{ include "emopulse.natsClientUrl" $ | quote }}
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
{{- if include "emopulse.tls" (list (index . 1) $c) }}
- name: EMOPULSE_TLS_CERT
  value: {{ printf "%s/tls.crt" (include "emopulse.tlsDir" $) | quote }}
- name: EMOPULSE_TLS_KEY
  value: {{ printf "%s/tls.key" (include "emopulse.tlsDir" $) | quote }}
{{- if $c.tls.clientAuth }}
- name: EMOPULSE_TLS_CLIENT_CA
  value: {{ printf "%s/ca.crt" (include "emopulse.tlsDir" $) | quote }}
{{- end }}
{{- end }}
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
{{- if $c.usesHistory }}
{{- include "emopulse.historyEnv" $ }}
{{- end }}
{{- range $k, $v := (include "emopulse.componentSettings" . | fromJson) }}
- name: EMOPULSE_{{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- with $c.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Settings the chart checks -------------------------------------------------------------- */}}
{{/* The services' defaults (emopulse/runtime/settings.py) of the settings the chart computes with;
     tests/deploy/test_helm.py keeps them equal to the code. */}}
{{- define "emopulse.settingDefaults" -}}
{{- dict "SHUTDOWN_GRACE_S" "3" "SHUTDOWN_DRAIN_S" "8" "ACK_WAIT_S" "10"
         "OUTAGE_BUDGET_S" "300" "STALL_TIMEOUT_S" "900"
         "UPLOAD_LIMIT_BYTES" "2147483648" "S3_CACHE_LIMIT_BYTES" "21474836480"
         "STREAM_MAX_BYTES" "2147483648" "KV_MAX_BYTES" "1073741824"
         "STREAM_MAX_AGE_S" "604800" "STREAM_RETENTION_S" "604800" | toJson -}}
{{- end -}}

{{/* What the services create on JetStream (emopulse/runtime/bus.py): JOBS, UTTERANCES, FEATURES,
     RESULTS, PUSH, PULSE, ADVISORIES and AUDIENCE streams of STREAM_MAX_BYTES each; jobs, fusion,
     transcripts, streams (the ingest's leases), pulse (the pulse's state), alert_rules and
     webhooks (the delivery log) KV buckets of KV_MAX_BYTES each. */}}
{{- define "emopulse.jetstreamStreams" -}}8{{- end -}}
{{- define "emopulse.jetstreamBuckets" -}}7{{- end -}}

{{/* A component's settings from values: components.<name>.settings over settings. (list $ component) -> JSON */}}
{{- define "emopulse.valueSettings" -}}
{{- $ := index . 0 -}}{{- $c := index . 1 -}}
{{- merge (deepCopy ($c.settings | default dict)) (deepCopy ($.Values.settings | default dict)) | toJson -}}
{{- end -}}

{{/* A setting's number from a settings map, or its default when unset; fails when it is not one.
     (list settings NAME "seconds"|"bytes" where) -> the number as written */}}
{{- define "emopulse.settingNumber" -}}
{{- $s := index . 0 -}}{{- $k := index . 1 -}}{{- $kind := index . 2 -}}
{{- $v := get (include "emopulse.settingDefaults" . | fromJson) $k -}}
{{- if hasKey $s $k -}}{{- $v = toString (get $s $k) | trim -}}{{- end -}}
{{- if eq $kind "bytes" -}}
{{- if not (regexMatch "^[0-9]+$" $v) -}}
{{- fail (printf "%s: %s=%q is not a whole number of bytes" (index . 3) $k $v) -}}
{{- end -}}
{{- else if not (regexMatch "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$" $v) -}}
{{- fail (printf "%s: %s=%q is not a number of seconds" (index . 3) $k $v) -}}
{{- end -}}
{{- $v -}}
{{- end -}}

{{/* Bytes in a size: a Kubernetes quantity (512Mi, 1Gi, 10G, 1.5Gi), a NATS size (8MB and 8MiB are
     binary like 8Mi, 8M is decimal) or a plain number. (list size "what it is") -> whole bytes */}}
{{- define "emopulse.bytes" -}}
{{- $v := toString (index . 0) | trim -}}
{{- if not (regexMatch "^[0-9]+([.][0-9]+)?([KkMmGgTtPpEe]([Ii]?[Bb]?))?$" $v) -}}
{{- fail (printf "%s=%q is not a size (bytes, or a number with a suffix such as 512Mi, 1Gi or 10G)" (index . 1) $v) -}}
{{- end -}}
{{- $unit := regexReplaceAll "^[0-9.]+" $v "" | lower | trimSuffix "b" | trimSuffix "i" -}}
{{- $binary := ne (len $unit) (len (regexReplaceAll "^[0-9.]+" $v "" | lower)) -}}
{{- $power := index (dict "" 0 "k" 1 "m" 2 "g" 3 "t" 4 "p" 5 "e" 6) $unit -}}
{{- $n := float64 (regexReplaceAll "[^0-9.].*$" $v "") -}}
{{- range until (int $power) -}}{{- $n = mulf $n (ternary 1024 1000 $binary) -}}{{- end -}}
{{- printf "%.0f" (floor $n) -}}
{{- end -}}

{{/* Bytes as a short human figure: 2147483648 -> "2 GiB" */}}
{{- define "emopulse.gib" -}}
{{- printf "%g GiB" (divf (round (mulf (divf (float64 .) 1073741824) 100) 0) 100) -}}
{{- end -}}

{{/* The largest upload a gateway accepts: UPLOAD_LIMIT_BYTES of the enabled components with
     receivesUploads (0 when none is enabled). */}}
{{- define "emopulse.largestUpload" -}}
{{- $ := . -}}{{- $max := 0.0 -}}
{{- range $name := (include "emopulse.componentNames" $ | fromJsonArray) -}}
{{- $c := include "emopulse.component" (list $ $name) | fromJson -}}
{{- if and $c.enabled $c.receivesUploads -}}
{{- $s := include "emopulse.valueSettings" (list $ $c) | fromJson -}}
{{- $max = maxf $max (include "emopulse.settingNumber" (list $s "UPLOAD_LIMIT_BYTES" "bytes" (printf "components.%s" $name)) | float64) -}}
{{- end -}}
{{- end -}}
{{- printf "%.0f" $max -}}
{{- end -}}

{{/* EMOPULSE_* settings a component gets from values (components.<name>.settings over settings)
     plus the ones the chart derives, after checking what the services would refuse or what would
     overflow the pod's disk:
     - SHUTDOWN_GRACE_S < SHUTDOWN_DRAIN_S < ACK_WAIT_S, OUTAGE_BUDGET_S < STALL_TIMEOUT_S and
       STREAM_RETENTION_S <= STREAM_MAX_AGE_S (the services check them at start);
     - storage.type=s3, receivesUploads: tmpSize (the data dir) holds two uploads of
       UPLOAD_LIMIT_BYTES, each spooled whole before it goes to S3;
     - storage.type=s3, readsMedia: S3_CACHE_LIMIT_BYTES is half of tmpSize unless set, and tmpSize
       holds the cache plus the largest upload being downloaded into it.
     (list $ name component) -> JSON */}}
{{- define "emopulse.componentSettings" -}}
{{- $ := index . 0 -}}{{- $name := index . 1 -}}{{- $c := index . 2 -}}
{{- $s := include "emopulse.valueSettings" (list $ $c) | fromJson -}}
{{- $n := dict -}}
{{- range $k := list "SHUTDOWN_GRACE_S" "SHUTDOWN_DRAIN_S" "ACK_WAIT_S" "OUTAGE_BUDGET_S" "STALL_TIMEOUT_S" "STREAM_RETENTION_S" "STREAM_MAX_AGE_S" -}}
{{- $_ := set $n $k (include "emopulse.settingNumber" (list $s $k "seconds" (printf "components.%s" $name)) | float64) -}}
{{- end -}}
{{- if not (and (lt $n.SHUTDOWN_GRACE_S $n.SHUTDOWN_DRAIN_S) (lt $n.SHUTDOWN_DRAIN_S $n.ACK_WAIT_S)) -}}
{{- fail (printf "components.%s: SHUTDOWN_GRACE_S (%g) < SHUTDOWN_DRAIN_S (%g) < ACK_WAIT_S (%g) must hold, or the service refuses to start" $name $n.SHUTDOWN_GRACE_S $n.SHUTDOWN_DRAIN_S $n.ACK_WAIT_S) -}}
{{- end -}}
{{- if not (lt $n.OUTAGE_BUDGET_S $n.STALL_TIMEOUT_S) -}}
{{- fail (printf "components.%s: OUTAGE_BUDGET_S (%g) must be below STALL_TIMEOUT_S (%g), or the service refuses to start" $name $n.OUTAGE_BUDGET_S $n.STALL_TIMEOUT_S) -}}
{{- end -}}
{{- if gt $n.STREAM_RETENTION_S $n.STREAM_MAX_AGE_S -}}
{{- fail (printf "components.%s: STREAM_RETENTION_S (%g) must not exceed STREAM_MAX_AGE_S (%g), or the service refuses to start" $name $n.STREAM_RETENTION_S $n.STREAM_MAX_AGE_S) -}}
{{- end -}}
{{- if eq $.Values.storage.type "s3" -}}
{{- $tmp := include "emopulse.bytes" (list $c.tmpSize (printf "components.%s.tmpSize" $name)) | float64 -}}
{{- if $c.receivesUploads -}}
{{- $upload := include "emopulse.settingNumber" (list $s "UPLOAD_LIMIT_BYTES" "bytes" (printf "components.%s" $name)) | float64 -}}
{{- if lt $tmp (mulf 2 $upload) -}}
{{- fail (printf "components.%s.tmpSize (%s) must hold two uploads of UPLOAD_LIMIT_BYTES (%s): raise tmpSize to %s or lower UPLOAD_LIMIT_BYTES" $name $c.tmpSize (include "emopulse.gib" $upload) (include "emopulse.gib" (mulf 2 $upload))) -}}
{{- end -}}
{{- end -}}
{{- if $c.readsMedia -}}
{{- if not (hasKey $s "S3_CACHE_LIMIT_BYTES") -}}
{{- $_ := set $s "S3_CACHE_LIMIT_BYTES" (printf "%.0f" (floor (divf $tmp 2))) -}}
{{- end -}}
{{- $cache := include "emopulse.settingNumber" (list $s "S3_CACHE_LIMIT_BYTES" "bytes" (printf "components.%s" $name)) | float64 -}}
{{- $upload := include "emopulse.largestUpload" $ | float64 -}}
{{- if gt (addf $cache $upload) $tmp -}}
{{- fail (printf "components.%s.tmpSize (%s) must hold S3_CACHE_LIMIT_BYTES (%s; half of tmpSize unless set) plus one upload of UPLOAD_LIMIT_BYTES (%s) being downloaded: raise tmpSize or lower S3_CACHE_LIMIT_BYTES" $name $c.tmpSize (include "emopulse.gib" $cache) (include "emopulse.gib" $upload)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $s -}}
{{- end -}}

{{/* A pod's terminationGracePeriodSeconds. On SIGTERM a service stops its gRPC server within
     SHUTDOWN_GRACE_S, gives in-flight messages SHUTDOWN_DRAIN_S, then closes its connections
     (each close bounded, ~5 s in all). Unset (null): grace + drain + 5 s + a 4 s margin (the
     services allow the work 2 s past the drain; signal delivery), rounded up. Set: kept, but it must
     be at least grace + drain + 5 s. (list $ name component) */}}
{{- define "emopulse.terminationGracePeriodSeconds" -}}
{{- $ := index . 0 -}}{{- $name := index . 1 -}}{{- $c := index . 2 -}}
{{- $s := include "emopulse.valueSettings" (list $ $c) | fromJson -}}
{{- $grace := include "emopulse.settingNumber" (list $s "SHUTDOWN_GRACE_S" "seconds" (printf "components.%s" $name)) | float64 -}}
{{- $drain := include "emopulse.settingNumber" (list $s "SHUTDOWN_DRAIN_S" "seconds" (printf "components.%s" $name)) | float64 -}}
{{- $needed := ceil (round (addf $grace $drain 5) 3) -}}
{{- $t := $c.terminationGracePeriodSeconds -}}
{{- if kindIs "invalid" $t -}}
{{- printf "%.0f" (ceil (round (addf $grace $drain 5 4) 3)) -}}
{{- else if lt (float64 $t) $needed -}}
{{- fail (printf "components.%s.terminationGracePeriodSeconds (%v) is below SHUTDOWN_GRACE_S (%g) + SHUTDOWN_DRAIN_S (%g) + 5 s for closing connections = %.0f, so the pod would be killed mid-shutdown" $name $t $grace $drain $needed) -}}
{{- else -}}
{{- printf "%.0f" (float64 $t) -}}
{{- end -}}
{{- end -}}

{{/* What EmoPulse's streams and buckets reserve on JetStream, one copy: 8 x STREAM_MAX_BYTES +
     7 x KV_MAX_BYTES (the largest any enabled component sets: each one creates them). */}}
{{- define "emopulse.jetstreamBytes" -}}
{{- $ := . -}}
{{- $stream := include "emopulse.settingNumber" (list ($.Values.settings | default dict) "STREAM_MAX_BYTES" "bytes" "settings") | float64 -}}
{{- $kv := include "emopulse.settingNumber" (list ($.Values.settings | default dict) "KV_MAX_BYTES" "bytes" "settings") | float64 -}}
{{- range $name := (include "emopulse.componentNames" $ | fromJsonArray) -}}
{{- $c := include "emopulse.component" (list $ $name) | fromJson -}}
{{- if $c.enabled -}}
{{- $s := include "emopulse.valueSettings" (list $ $c) | fromJson -}}
{{- $stream = maxf $stream (include "emopulse.settingNumber" (list $s "STREAM_MAX_BYTES" "bytes" (printf "components.%s" $name)) | float64) -}}
{{- $kv = maxf $kv (include "emopulse.settingNumber" (list $s "KV_MAX_BYTES" "bytes" (printf "components.%s" $name)) | float64) -}}
{{- end -}}
{{- end -}}
{{- dict "stream" $stream "kv" $kv "total" (addf (mulf (include "emopulse.jetstreamStreams" $ | float64) $stream) (mulf (include "emopulse.jetstreamBuckets" $ | float64) $kv)) | toJson -}}
{{- end -}}

{{/* PULSE_WINDOWS_S of a settings map as its set of windows (each "%g" of the seconds, sorted
     as text), after checking it as the services do at start: seconds, comma-separated, at least
     one, every one above 0. Unset: the services' default "10,60,300". (list settings where) -> JSON */}}
{{- define "emopulse.pulseWindows" -}}
{{- $s := index . 0 -}}{{- $where := index . 1 -}}
{{- $v := "10,60,300" -}}
{{- if hasKey $s "PULSE_WINDOWS_S" -}}{{- $v = toString (get $s "PULSE_WINDOWS_S") -}}{{- end -}}
{{- $windows := list -}}
{{- range $w := splitList "," $v -}}
{{- $w = trim $w -}}
{{- if $w -}}
{{- if not (regexMatch "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$" $w) -}}
{{- fail (printf "%s: PULSE_WINDOWS_S=%q is not seconds, comma-separated, or the service refuses to start" $where $v) -}}
{{- end -}}
{{- if le (float64 $w) 0.0 -}}
{{- fail (printf "%s: PULSE_WINDOWS_S=%q: every window must be above 0 s, or the service refuses to start" $where $v) -}}
{{- end -}}
{{- $windows = append $windows (printf "%g" (float64 $w)) -}}
{{- end -}}
{{- end -}}
{{- if not $windows -}}
{{- fail (printf "%s: PULSE_WINDOWS_S=%q needs at least one window above 0 s, or the service refuses to start" $where $v) -}}
{{- end -}}
{{- $windows | uniq | sortAlpha | toJson -}}
{{- end -}}

{{/* The pulse computes its figures over PULSE_WINDOWS_S and the gateway refuses alert rules whose
     window is not one of them (SetAlertRules): both must have the same windows. Checked when
     either is enabled. */}}
{{- define "emopulse.checkPulseWindows" -}}
{{- $ := . -}}
{{- $found := dict -}}{{- $raw := dict -}}
{{- range $name := list "gateway" "pulse" -}}
{{- if hasKey $.Values.components $name -}}
{{- $c := include "emopulse.component" (list $ $name) | fromJson -}}
{{- if $c.enabled -}}
{{- $s := include "emopulse.valueSettings" (list $ $c) | fromJson -}}
{{- $_ := set $found $name (include "emopulse.pulseWindows" (list $s (printf "components.%s" $name)) | fromJsonArray) -}}
{{- $_ := set $raw $name (toString (get $s "PULSE_WINDOWS_S" | default "10,60,300")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and (hasKey $found "gateway") (hasKey $found "pulse") -}}
{{- if ne (toJson $found.gateway) (toJson $found.pulse) -}}
{{- fail (printf "components.pulse: PULSE_WINDOWS_S (%q) differs from the gateway's (%q): the gateway checks alert rules against the windows the pulse computes; set it under `settings` for both" $raw.pulse $raw.gateway) -}}
{{- end -}}
{{- end -}}
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
