{{- define "eventrelay.name" -}}eventrelay{{- end -}}

{{- define "eventrelay.fullname" -}}
{{- if contains "eventrelay" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-eventrelay" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "eventrelay.selectorLabels" -}}
app.kubernetes.io/name: eventrelay
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "eventrelay.labels" -}}
{{ include "eventrelay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "eventrelay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "eventrelay.fullname" .) .Values.serviceAccount.name }}
{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{/* The pod template shared by the Deployment and the StatefulSet. */}}
{{- define "eventrelay.podTemplate" -}}
metadata:
  labels:
    {{- include "eventrelay.selectorLabels" . | nindent 4 }}
  annotations:
    checksum/config: {{ .Values.config | toToml | sha256sum }}
    {{- with .Values.podAnnotations }}{{ toYaml . | nindent 4 }}{{ end }}
spec:
  serviceAccountName: {{ include "eventrelay.serviceAccountName" . }}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: eventrelay
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["--log-format", {{ .Values.logFormat | quote }}, "run", "-c", "/etc/eventrelay/config.toml"]
      ports:
        - name: admin
          containerPort: 9464
          protocol: TCP
      env:
        {{- range $var, $key := .Values.secretEnv }}
        - name: {{ $var }}
          valueFrom:
            secretKeyRef:
              name: {{ $.Values.existingSecret }}
              key: {{ $key }}
        {{- end }}
        {{- with .Values.extraEnv }}{{ toYaml . | nindent 8 }}{{ end }}
      livenessProbe:
        httpGet: { path: /healthz, port: admin }
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet: { path: /readyz, port: admin }
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      lifecycle:
        preStop:
          sleep:
            seconds: {{ .Values.preStopSeconds }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - { name: config, mountPath: /etc/eventrelay, readOnly: true }
        - { name: data, mountPath: /var/lib/eventrelay }
        - { name: tmp, mountPath: /tmp }
  volumes:
    - name: config
      configMap:
        name: {{ include "eventrelay.fullname" . }}
    - name: tmp
      emptyDir: { sizeLimit: 64Mi }
    {{- if eq .Values.role "stateless" }}
    - name: data
      emptyDir: {}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector: {{ toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations: {{ toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity: {{ toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
