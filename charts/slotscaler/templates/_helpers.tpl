{{- define "slotscaler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "slotscaler.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "slotscaler.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "slotscaler.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "slotscaler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slotscaler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "slotscaler.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "slotscaler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "slotscaler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "slotscaler.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "slotscaler.tlsSecretName" -}}
{{- if eq .Values.tls.source "secret" }}
{{- required "tls.secretName is required with tls.source=secret" .Values.tls.secretName }}
{{- else }}
{{- printf "%s-tls" (include "slotscaler.fullname" .) }}
{{- end }}
{{- end }}

{{/* The Service's DNS names: the serving certificate's names. */}}
{{- define "slotscaler.dnsNames" -}}
{{- $svc := include "slotscaler.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/*
Slotscaler's config file: what the chart derives, overridden by .Values.config. As YAML.
*/}}
{{- define "slotscaler.config" -}}
{{- $derived := dict "leaderElect" true "leaseNamespace" .Release.Namespace "tlsCertFile" "/etc/slotscaler/tls/tls.crt" "tlsKeyFile" "/etc/slotscaler/tls/tls.key" "apiServiceName" "v1beta1.external.metrics.k8s.io" "customApiServiceName" "v1beta2.custom.metrics.k8s.io" -}}
{{- if .Values.upstream.url }}
{{- $_ := set $derived "upstreamExternalMetrics" .Values.upstream.url }}
{{- if .Values.upstream.caSecret }}
{{- $_ := set $derived "upstreamCaFile" "/etc/slotscaler/upstream/ca.crt" }}
{{- end }}
{{- if .Values.upstream.useServiceAccountToken }}
{{- $_ := set $derived "upstreamTokenFile" "/var/run/secrets/kubernetes.io/serviceaccount/token" }}
{{- end }}
{{- end }}
{{- if .Values.config.shards }}
{{- /* The replicas hand each other their targets' records over mutual TLS (templates/peer-secret.yaml). */}}
{{- $_ := set $derived "peerTlsCertFile" "/etc/slotscaler/peer/tls.crt" }}
{{- $_ := set $derived "peerTlsKeyFile" "/etc/slotscaler/peer/tls.key" }}
{{- $_ := set $derived "peerTlsCaFile" "/etc/slotscaler/peer/ca.crt" }}
{{- end }}
{{- mustMergeOverwrite $derived (deepCopy .Values.config) | toYaml }}
{{- end }}

{{/* One setting of the resolved config, with the schema's default when unset. */}}
{{- define "slotscaler.metricsApiPort" -}}
{{- $config := include "slotscaler.config" . | fromYaml -}}
{{- $config.metricsApiPort | default 6443 | int }}
{{- end }}

{{- define "slotscaler.peerPort" -}}
{{- $config := include "slotscaler.config" . | fromYaml -}}
{{- $config.peerPort | default 6444 | int }}
{{- end }}

{{- define "slotscaler.metricsPort" -}}
{{- $config := include "slotscaler.config" . | fromYaml -}}
{{- $config.metricsPort | default 9090 | int }}
{{- end }}
