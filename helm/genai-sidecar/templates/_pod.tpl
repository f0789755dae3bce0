{{/* The pod template shared by the Deployment and the DaemonSet. */}}

{{- define "genai-sidecar.podAnnotations" -}}
{{- if .Values.enableConfigChecksumAnnotation }}
checksum/collector-config: {{ include "genai-sidecar.collectorConfig" . | sha256sum }}
checksum/sidecar-config: {{ include "genai-sidecar.sidecarConfig" . | sha256sum }}
{{- if and .Values.sidecar.priceOverrides.rollPods .Values.sidecar.priceOverrides.overrides (not .Values.sidecar.priceOverrides.existingConfigMap) }}
checksum/price-overrides: {{ toYaml .Values.sidecar.priceOverrides.overrides | sha256sum }}
{{- end }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "genai-sidecar.sidecarContainer" -}}
{{- $v := .Values.sidecar }}
- name: genai-sidecar
  image: {{ include "genai-sidecar.image" (list $v.image .Chart.AppVersion) | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $v.native }}
  # Native sidecar: started before the collector, stopped after it.
  restartPolicy: Always
  {{- end }}
  args:
    - run
    - --config=/etc/genai-sidecar/config/sidecar.yaml
    {{- range $v.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  ports:
    - name: sidecar-metrics
      containerPort: {{ $v.ports.metrics }}
      protocol: TCP
  {{- with $v.extraEnvs }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.extraEnvsFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
  {{ $probe }}:
    httpGet:
      path: {{ ternary "/healthz" "/readyz" (eq $probe "livenessProbe") }}
      port: {{ $v.ports.metrics }}
    {{- toYaml (index $v $probe) | nindent 4 }}
  {{- end }}
  resources:
    {{- toYaml $v.resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
  volumeMounts:
    - name: sidecar-config
      mountPath: /etc/genai-sidecar/config
      readOnly: true
    - name: sidecar-tmp
      mountPath: /tmp
    {{- if include "genai-sidecar.priceOverridesConfigMap" . }}
    - name: price-overrides
      mountPath: /etc/genai-sidecar/prices
      readOnly: true
    {{- end }}
    {{- if $v.pseudonymization.existingSecret }}
    - name: pseudonymization-key
      mountPath: /var/run/secrets/genai-sidecar/pseudonymization
      readOnly: true
    {{- end }}
    {{- with $v.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{- define "genai-sidecar.pod" -}}
{{- $daemonset := eq .Values.mode "daemonset" }}
serviceAccountName: {{ include "genai-sidecar.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if .Values.sidecar.native }}
initContainers:
  {{- include "genai-sidecar.sidecarContainer" . | trim | nindent 2 }}
{{- end }}
containers:
  - name: collector
    image: {{ include "genai-sidecar.image" (list .Values.image "") | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    command:
      - /{{ .Values.command.name }}
    args:
      - --config=/etc/otelcol/config.yaml
      {{- range .Values.command.extraArgs }}
      - {{ . | quote }}
      {{- end }}
    ports:
      {{- range $name, $p := .Values.ports }}
      {{- if $p.enabled }}
      - name: {{ $name }}
        containerPort: {{ $p.containerPort }}
        protocol: {{ $p.protocol }}
        {{- if and $daemonset $p.hostPort }}
        hostPort: {{ $p.hostPort }}
        {{- end }}
      {{- end }}
      {{- end }}
      {{- if eq .Values.backends.prometheus.mode "scrape" }}
      - name: prom-exporter
        containerPort: {{ .Values.backends.prometheus.port }}
        protocol: TCP
      {{- end }}
    env:
      - name: MY_POD_IP
        valueFrom:
          fieldRef:
            apiVersion: v1
            fieldPath: status.podIP
      {{- if and .Values.useGOMEMLIMIT ((.Values.resources).limits).memory }}
      - name: GOMEMLIMIT
        value: {{ include "genai-sidecar.gomemlimit" .Values.resources.limits.memory | quote }}
      {{- end }}
      {{- with .Values.extraEnvs }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- with .Values.extraEnvsFrom }}
    envFrom:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- range $probe := list "livenessProbe" "readinessProbe" }}
    {{ $probe }}:
      httpGet:
        path: /
        port: {{ $.Values.ports.health.containerPort }}
      {{- toYaml (index $.Values $probe) | nindent 6 }}
    {{- end }}
    resources:
      {{- toYaml .Values.resources | nindent 6 }}
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    volumeMounts:
      - name: collector-config
        mountPath: /etc/otelcol
        readOnly: true
      {{- if .Values.sendingQueue.persistence.enabled }}
      - name: queue
        mountPath: /var/lib/otelcol/queue
      {{- end }}
      {{- with .Values.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
  {{- if not .Values.sidecar.native }}
  {{- include "genai-sidecar.sidecarContainer" . | trim | nindent 2 }}
  {{- end }}
volumes:
  - name: collector-config
    configMap:
      name: {{ include "genai-sidecar.fullname" . }}-collector
      items:
        - key: config.yaml
          path: config.yaml
  - name: sidecar-config
    configMap:
      name: {{ include "genai-sidecar.fullname" . }}-sidecar
      items:
        - key: sidecar.yaml
          path: sidecar.yaml
  - name: sidecar-tmp
    emptyDir:
      sizeLimit: 256Mi
  {{- if .Values.sendingQueue.persistence.enabled }}
  - name: queue
    emptyDir:
      sizeLimit: {{ .Values.sendingQueue.persistence.sizeLimit }}
  {{- end }}
  {{- with include "genai-sidecar.priceOverridesConfigMap" . }}
  - name: price-overrides
    configMap:
      name: {{ . }}
      items:
        - key: overrides.yaml
          path: overrides.yaml
  {{- end }}
  {{- with .Values.sidecar.pseudonymization.existingSecret }}
  - name: pseudonymization-key
    secret:
      secretName: {{ . }}
      defaultMode: 0440
      items:
        - key: {{ $.Values.sidecar.pseudonymization.secretKey }}
          path: {{ $.Values.sidecar.pseudonymization.secretKey }}
  {{- end }}
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
