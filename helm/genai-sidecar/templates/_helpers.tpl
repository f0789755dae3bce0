{{/* Names, labels and small helpers shared by the templates. */}}

{{- define "genai-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name, at most 63 characters (DNS label). */}}
{{- define "genai-sidecar.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "genai-sidecar.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "genai-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "genai-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "genai-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ .Values.mode }}-collector
{{- end }}

{{- define "genai-sidecar.labels" -}}
helm.sh/chart: {{ include "genai-sidecar.chart" . }}
{{ include "genai-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: genai-sidecar
{{- with .Values.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "genai-sidecar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "genai-sidecar.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference: repository@digest, else repository:tag (tag defaulting to $default). */}}
{{- define "genai-sidecar.image" -}}
{{- $image := index . 0 }}{{- $default := index . 1 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (toString (default $default $image.tag)) }}
{{- end }}
{{- end }}

{{/* 80% of a memory quantity (Mi, Gi, M, G) in MiB, for GOMEMLIMIT. */}}
{{- define "genai-sidecar.gomemlimit" -}}
{{- $q := toString . }}
{{- $mib := 0.0 }}
{{- if hasSuffix "Gi" $q }}{{ $mib = mulf (float64 (trimSuffix "Gi" $q)) 1024 }}
{{- else if hasSuffix "Mi" $q }}{{ $mib = float64 (trimSuffix "Mi" $q) }}
{{- else if hasSuffix "G" $q }}{{ $mib = divf (mulf (float64 (trimSuffix "G" $q)) 1000000000) 1048576 }}
{{- else if hasSuffix "M" $q }}{{ $mib = divf (mulf (float64 (trimSuffix "M" $q)) 1000000) 1048576 }}
{{- else }}{{ fail (printf "resources.limits.memory %q: use Mi, Gi, M or G for GOMEMLIMIT (or set useGOMEMLIMIT: false)" $q) }}
{{- end }}
{{- printf "%dMiB" (int (floor (mulf $mib 0.8))) }}
{{- end }}

{{/* Mode and option combinations that cannot work. */}}
{{- define "genai-sidecar.validate" -}}
{{- if not (has .Values.mode (list "deployment" "daemonset")) }}
{{- fail (printf "mode %q: use deployment or daemonset" .Values.mode) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (eq .Values.mode "daemonset") }}
{{- fail "autoscaling.enabled needs mode: deployment (a DaemonSet runs one pod per node)" }}
{{- end }}
{{- if and .Values.sidecar.native (semverCompare "<1.29-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "sidecar.native needs Kubernetes 1.29 or newer (native sidecar containers); this is %s" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- $ports := list (int .Values.sidecar.ports.otlp) (int .Values.sidecar.ports.metrics) (int .Values.sidecar.returnPort) }}
{{- range $name, $p := .Values.ports }}
{{- if and $p.enabled (has (int $p.containerPort) $ports) }}
{{- fail (printf "ports.%s.containerPort %d collides with a sidecar port (sidecar.ports, sidecar.returnPort)" $name (int $p.containerPort)) }}
{{- end }}
{{- end }}
{{- if and (eq .Values.backends.prometheus.mode "scrape") (has (int .Values.backends.prometheus.port) $ports) }}
{{- fail "backends.prometheus.port collides with a sidecar port" }}
{{- end }}
{{- end }}
