{{/*
The two configs of the pod, built as maps and rendered with toYaml.

Collector (shared/DESIGN.md section 1):
  otlp (pod IP :4317/:4318) -> memory_limiter -> filter/genai -> batch -> otlp_grpc/genai (127.0.0.1:14317)
                            -> memory_limiter -> filter/not_genai -> batch -> backends (non-GenAI items, metrics)
  otlp/enriched (127.0.0.1:14318) -> backends (Jaeger / Tempo, VictoriaLogs / Loki, Prometheus) or debug
filter/genai and filter/not_genai are files/genai-routing.yaml (collector-config/genai-routing.yaml,
generated from sidecar/semconv.py's definition of GenAI telemetry).
.Values.config is deep-merged over the generated map.
*/}}

{{- define "genai-sidecar.collectorConfig" -}}
{{- $v := .Values }}
{{- $b := $v.backends }}
{{- $loopback := "127.0.0.1" }}
{{- $extensions := dict "health_check" (dict "endpoint" (printf "${env:MY_POD_IP}:%d" (int $v.ports.health.containerPort))) }}
{{- $queue := dict "enabled" true "num_consumers" (int $v.sendingQueue.numConsumers) "queue_size" (int $v.sendingQueue.queueSize) }}
{{- if $v.sendingQueue.persistence.enabled }}
{{- $_ := set $extensions "file_storage/queue" (dict "directory" "/var/lib/otelcol/queue" "create_directory" true) }}
{{- $_ := set $queue "storage" "file_storage/queue" }}
{{- end }}
{{- $protocols := dict }}
{{- if (index $v.ports "otlp").enabled }}
{{- $_ := set $protocols "grpc" (dict "endpoint" (printf "${env:MY_POD_IP}:%d" (int (index $v.ports "otlp").containerPort))) }}
{{- end }}
{{- if (index $v.ports "otlp-http").enabled }}
{{- $_ := set $protocols "http" (dict "endpoint" (printf "${env:MY_POD_IP}:%d" (int (index $v.ports "otlp-http").containerPort))) }}
{{- end }}
{{- if not $protocols }}
{{- fail "ports: enable otlp or otlp-http, or the collector receives nothing" }}
{{- end }}
{{- $receivers := dict
      "otlp" (dict "protocols" $protocols)
      "otlp/enriched" (dict "protocols" (dict "grpc" (dict "endpoint" (printf "%s:%d" $loopback (int $v.sidecar.returnPort)) "max_recv_msg_size_mib" 64))) }}
{{- /* Credentials never leave the collector: the same statements as collector-config/stack.yaml (a test compares them). */ -}}
{{- $scrub := `delete_matching_keys(attributes, "(?i)^(http\\.request\\.header\\.(authorization|proxy-authorization|cookie|x-api-key|api-key)|http\\.response\\.header\\.set-cookie)$")` }}
{{- $processors := dict
      "memory_limiter" (dict "check_interval" "1s" "limit_percentage" 80 "spike_limit_percentage" 20)
      "transform/credentials" (dict "error_mode" "ignore"
        "trace_statements" (list (dict "context" "span" "statements" (list $scrub)))
        "log_statements" (list (dict "context" "log" "statements" (list $scrub))))
      "batch" (dict "send_batch_size" 512 "send_batch_max_size" 1024 "timeout" "200ms") }}
{{- $routing := .Files.Get "files/genai-routing.yaml" | fromYaml }}
{{- if or (not $routing) (hasKey $routing "Error") }}
{{- fail (printf "files/genai-routing.yaml: missing or invalid %s" (default "" $routing.Error)) }}
{{- end }}
{{- $processors = merge $processors $routing }}
{{- $exporters := dict
      "otlp_grpc/genai" (dict
        "endpoint" (printf "%s:%d" $loopback (int $v.sidecar.ports.otlp))
        "tls" (dict "insecure" true)
        "compression" "none"
        "timeout" "30s"
        "sending_queue" $queue
        "retry_on_failure" (dict "enabled" true "initial_interval" "100ms" "max_interval" "2s" "max_elapsed_time" 0)) }}
{{- $traces := list }}
{{- $logs := list }}
{{- $metrics := list }}
{{- range $name := list "jaeger" "tempo" }}
{{- $t := index $b $name }}
{{- if $t.enabled }}
{{- $e := dict "endpoint" $t.endpoint "tls" (dict "insecure" $t.insecure) }}
{{- with $t.headers }}{{ $_ := set $e "headers" . }}{{ end }}
{{- $_ := set $exporters (printf "otlp_grpc/%s" $name) $e }}
{{- $traces = append $traces (printf "otlp_grpc/%s" $name) }}
{{- end }}
{{- end }}
{{- if $b.victorialogs.enabled }}
{{- $e := dict "logs_endpoint" (printf "%s/insert/opentelemetry/v1/logs" (trimSuffix "/" $b.victorialogs.endpoint)) }}
{{- with $b.victorialogs.headers }}{{ $_ := set $e "headers" . }}{{ end }}
{{- $_ := set $exporters "otlp_http/victorialogs" $e }}
{{- $logs = append $logs "otlp_http/victorialogs" }}
{{- end }}
{{- if $b.loki.enabled }}
{{- $e := dict "endpoint" $b.loki.endpoint }}
{{- with $b.loki.headers }}{{ $_ := set $e "headers" . }}{{ end }}
{{- $_ := set $exporters "otlp_http/loki" $e }}
{{- $logs = append $logs "otlp_http/loki" }}
{{- end }}
{{- $r2t := dict "enabled" $b.prometheus.resourceToTelemetryConversion }}
{{- if eq $b.prometheus.mode "scrape" }}
{{- $_ := set $exporters "prometheus" (dict "endpoint" (printf "${env:MY_POD_IP}:%d" (int $b.prometheus.port)) "resource_to_telemetry_conversion" $r2t) }}
{{- $metrics = append $metrics "prometheus" }}
{{- else if eq $b.prometheus.mode "remoteWrite" }}
{{- $e := dict "endpoint" $b.prometheus.remoteWriteEndpoint "resource_to_telemetry_conversion" $r2t }}
{{- with $b.prometheus.headers }}{{ $_ := set $e "headers" . }}{{ end }}
{{- $_ := set $exporters "prometheus_remote_write" $e }}
{{- $metrics = append $metrics "prometheus_remote_write" }}
{{- end }}
{{- if or (not $traces) (not $logs) (not $metrics) }}
{{- $_ := set $exporters "debug" (dict "verbosity" $b.debugVerbosity) }}
{{- end }}
{{- $in := dict "receivers" (list "otlp") "processors" (list "memory_limiter" "transform/credentials" "filter/genai" "batch") "exporters" (list "otlp_grpc/genai") }}
{{- $direct := list "memory_limiter" "transform/credentials" "filter/not_genai" "batch" }}
{{- $pipelines := dict
      "traces/in" $in "logs/in" (deepCopy $in)
      "traces/direct" (dict "receivers" (list "otlp") "processors" $direct "exporters" (default (list "debug") $traces))
      "logs/direct" (dict "receivers" (list "otlp") "processors" (deepCopy $direct) "exporters" (default (list "debug") $logs))
      "metrics/direct" (dict "receivers" (list "otlp") "processors" (list "memory_limiter" "batch") "exporters" (default (list "debug") $metrics))
      "traces/out" (dict "receivers" (list "otlp/enriched") "exporters" (default (list "debug") $traces))
      "logs/out" (dict "receivers" (list "otlp/enriched") "exporters" (default (list "debug") $logs))
      "metrics/out" (dict "receivers" (list "otlp/enriched") "exporters" (default (list "debug") $metrics)) }}
{{- $telemetry := dict "metrics" (dict "level" "normal" "readers" (list (dict "pull" (dict "exporter" (dict "prometheus" (dict "host" "${env:MY_POD_IP}" "port" (int $v.ports.metrics.containerPort))))))) }}
{{- if not $v.ports.metrics.enabled }}
{{- $telemetry = dict "metrics" (dict "level" "none") }}
{{- end }}
{{- $service := dict "extensions" (keys $extensions | sortAlpha) "telemetry" $telemetry "pipelines" $pipelines }}
{{- $config := dict "extensions" $extensions "receivers" $receivers "processors" $processors "exporters" $exporters "service" $service }}
{{- mustMergeOverwrite $config (deepCopy $v.config) | toYaml }}
{{- end }}

{{/*
Sidecar: the embedded default (files/sidecar-default.yaml, a link to sidecar/default.yaml, so the
chart runs every processor the sidecar enables by default), the pod's addresses, then
.Values.sidecar.config deep-merged over it. Last, every redaction processor without a key of its
own gets the mounted pseudonymization key file and sidecar.redactionWorkers worker processes
(unless it sets workers.count), and every cost processor without an overrides file gets the
mounted price overrides.
*/}}
{{- define "genai-sidecar.sidecarConfig" -}}
{{- $v := .Values.sidecar }}
{{- $base := .Files.Get "files/sidecar-default.yaml" | fromYaml }}
{{- if or (not $base) (hasKey $base "Error") }}
{{- fail (printf "files/sidecar-default.yaml: missing or invalid %s" (default "" $base.Error)) }}
{{- end }}
{{- $pod := dict
      "server" (dict "listen" (printf "127.0.0.1:%d" (int $v.ports.otlp)))
      "exporter" (dict "endpoint" (printf "127.0.0.1:%d" (int $v.returnPort)))
      "telemetry" (dict "metrics_listen" (printf "0.0.0.0:%d" (int $v.ports.metrics)) "log_level" $v.logLevel) }}
{{- $config := mustMergeOverwrite $base $pod (deepCopy $v.config) }}
{{- $processors := default dict $config.processors }}
{{- range $name := keys $processors | sortAlpha }}
{{- $type := first (splitList "/" $name) }}
{{- $p := default dict (index $processors $name) }}
{{- if and (eq $type "redaction") $v.pseudonymization.existingSecret }}
{{- $key := default dict $p.pseudonym }}
{{- if not (or $key.key_file $key.key_env) }}
{{- $_ := set $key "key_file" (include "genai-sidecar.pseudonymizationKeyFile" $) }}
{{- $_ := set $p "pseudonym" $key }}
{{- end }}
{{- end }}
{{- if eq $type "redaction" }}
{{- $workers := default dict $p.workers }}
{{- if not (hasKey $workers "count") }}
{{- $_ := set $workers "count" (int $v.redactionWorkers) }}
{{- $_ := set $p "workers" $workers }}
{{- end }}
{{- end }}
{{- if and (eq $type "cost") (include "genai-sidecar.priceOverridesConfigMap" $) (not $p.overrides_file) }}
{{- $_ := set $p "overrides_file" "/etc/genai-sidecar/prices/overrides.yaml" }}
{{- end }}
{{- $_ := set $processors $name $p }}
{{- end }}
{{- $_ := set $config "processors" $processors }}
{{- toYaml $config }}
{{- end }}

{{- define "genai-sidecar.pseudonymizationKeyFile" -}}
/var/run/secrets/genai-sidecar/pseudonymization/{{ .Values.sidecar.pseudonymization.secretKey }}
{{- end }}

{{- define "genai-sidecar.priceOverridesConfigMap" -}}
{{- if .Values.sidecar.priceOverrides.existingConfigMap }}
{{- .Values.sidecar.priceOverrides.existingConfigMap }}
{{- else if .Values.sidecar.priceOverrides.overrides }}
{{- printf "%s-prices" (include "genai-sidecar.fullname" .) }}
{{- end }}
{{- end }}
