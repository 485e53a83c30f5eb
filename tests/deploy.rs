//! Packaging checks: the kustomize base and overlays render and carry
//! probes, security contexts, limits and a grace period above the shutdown
//! timeout; the Helm chart's files parse and its values match the schema;
//! every shipped relay config passes `eventrelay validate`; the compose file
//! and the dashboard are sound.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .map(|f| json!(f))
            .unwrap_or(Value::String(r.clone())),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

fn yaml_docs(text: &str) -> Vec<Value> {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("YAML: {e}\n{text}"))
        .iter()
        .map(to_json)
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_file(p: &Path) -> Vec<Value> {
    yaml_docs(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

fn kubectl_available() -> bool {
    let ok = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var("CI").is_err(), "kubectl is required in CI");
        eprintln!("SKIPPED: kubectl not found");
    }
    ok
}

fn kustomize(dir: &str) -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize"])
        .arg(root().join(dir))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_docs(&String::from_utf8(out.stdout).unwrap())
}

/// `eventrelay validate -c FILE` with the variables the shipped configs use.
fn validate(path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_eventrelay"))
        .args(["validate", "-c"])
        .arg(path)
        .env("AGNT5_API_KEY", "test-key")
        .env("EVENTRELAY_ADMIN_TOKEN", "test-token")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn shutdown_secs(config_toml: &str) -> u64 {
    let line = config_toml
        .lines()
        .find(|l| l.trim_start().starts_with("shutdown_timeout"))
        .expect("shutdown_timeout set");
    let v = line.split('"').nth(1).unwrap();
    humantime::parse_duration(v).unwrap().as_secs()
}

fn check_workloads(objects: &[Value], dir: &str) -> usize {
    let tmp = tempfile::tempdir().unwrap();
    let mut workloads = 0;
    let configs: Vec<String> = objects
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .filter_map(|o| o["data"]["config.toml"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(configs.len(), 1, "{dir}: one config");
    let config_path = tmp.path().join("config.toml");
    std::fs::write(&config_path, &configs[0]).unwrap();
    validate(&config_path);
    let shutdown = shutdown_secs(&configs[0]);
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default();
        if kind != "Deployment" && kind != "StatefulSet" {
            continue;
        }
        workloads += 1;
        let pod = &o["spec"]["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{dir}");
        let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
        assert!(
            grace > shutdown,
            "{dir}: grace {grace}s > shutdown {shutdown}s"
        );
        for c in pod["containers"].as_array().unwrap() {
            assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{dir}");
            assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{dir}");
            assert_eq!(
                c["securityContext"]["readOnlyRootFilesystem"], true,
                "{dir}"
            );
            assert_eq!(
                c["securityContext"]["allowPrivilegeEscalation"], false,
                "{dir}"
            );
            assert!(
                c["resources"]["limits"]["memory"].is_string(),
                "{dir}: memory limit"
            );
            assert!(
                c["resources"]["limits"]["cpu"].is_string(),
                "{dir}: cpu limit"
            );
        }
        if kind == "StatefulSet" {
            assert!(
                o["spec"]["volumeClaimTemplates"].is_array(),
                "{dir}: volume per pod"
            );
            assert!(
                configs[0].contains("type = \"disk\""),
                "{dir}: disk buffers"
            );
        }
    }
    workloads
}

#[test]
fn kustomize_base_and_overlays_render() {
    if !kubectl_available() {
        return;
    }
    let base = kustomize("deploy");
    assert_eq!(check_workloads(&base, "deploy"), 1);
    for kind in [
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "ServiceAccount",
    ] {
        assert!(base.iter().any(|o| o["kind"] == kind), "base has a {kind}");
    }
    let stateful = kustomize("deploy/overlays/stateful");
    assert_eq!(check_workloads(&stateful, "stateful"), 1);
    assert!(stateful.iter().any(|o| o["kind"] == "StatefulSet"));
    assert!(!stateful.iter().any(|o| o["kind"] == "Deployment"));
    let monitored = kustomize("deploy/overlays/servicemonitor");
    assert!(monitored.iter().any(|o| o["kind"] == "ServiceMonitor"));
    let rule = monitored
        .iter()
        .find(|o| o["kind"] == "PrometheusRule")
        .unwrap();
    let rules = yaml_file(&root().join("deploy/alerts/eventrelay-rules.yaml"));
    assert_eq!(
        rule["spec"]["groups"], rules[0]["groups"],
        "overlay rules = deploy/alerts"
    );
    // No secret values are shipped in the rendered objects.
    let text = serde_json::to_string(&base).unwrap();
    assert!(!text.contains("\"kind\":\"Secret\""));
}

#[test]
fn helm_chart_files_parse_and_values_match_the_schema() {
    let chart = root().join("helm/eventrelay");
    let meta = &yaml_file(&chart.join("Chart.yaml"))[0];
    assert_eq!(meta["name"], "eventrelay");
    let values = &yaml_file(&chart.join("values.yaml"))[0];
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(chart.join("values.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(values)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let mut bad = values.clone();
    bad["role"] = json!("sideways");
    assert!(!validator.is_valid(&bad), "the schema rejects a bad role");
    // The default config passes the relay's own validation.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("values-config.json.yaml");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&values["config"]).unwrap(),
    )
    .unwrap();
    validate(&path);
    assert!(
        values["terminationGracePeriodSeconds"].as_u64().unwrap()
            > humantime::parse_duration(
                values["config"]["relay"]["shutdown_timeout"]
                    .as_str()
                    .unwrap()
            )
            .unwrap()
            .as_secs()
    );
    // The chart's rules are the same as deploy/alerts.
    assert_eq!(
        std::fs::read_to_string(chart.join("files/eventrelay-rules.yaml")).unwrap(),
        std::fs::read_to_string(root().join("deploy/alerts/eventrelay-rules.yaml")).unwrap()
    );
    for t in [
        "deployment.yaml",
        "statefulset.yaml",
        "service.yaml",
        "configmap.yaml",
        "pdb.yaml",
        "servicemonitor.yaml",
        "prometheusrule.yaml",
        "serviceaccount.yaml",
        "NOTES.txt",
        "_helpers.tpl",
    ] {
        assert!(chart.join("templates").join(t).is_file(), "{t}");
    }
}

#[test]
fn shipped_configs_validate() {
    for p in [
        "deploy/base/config.toml",
        "deploy/overlays/stateful/config.toml",
        "deploy/compose/eventrelay.toml",
    ] {
        validate(&root().join(p));
    }
}

#[test]
fn compose_file_parses_and_feeds_both_brokers() {
    let compose = &yaml_file(&root().join("docker-compose.yml"))[0];
    let services = compose["services"].as_object().unwrap();
    for s in [
        "nats",
        "kafka",
        "simulator",
        "eventrelay",
        "prometheus",
        "grafana",
    ] {
        assert!(services.contains_key(s), "service {s}");
    }
    let mount = services["eventrelay"]["volumes"][0].as_str().unwrap();
    assert!(mount.starts_with("./deploy/compose/eventrelay.toml:"));
    let config = std::fs::read_to_string(root().join("deploy/compose/eventrelay.toml")).unwrap();
    assert!(config.contains("kind = \"kafka\"") && config.contains("kind = \"nats\""));
    assert!(config.contains("ws://simulator:8765/ws"));
}

#[test]
fn dashboard_uses_only_contract_metrics() {
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("dashboards/eventrelay.json")).unwrap(),
    )
    .unwrap();
    // Histograms are queried through their `_bucket` series; build info
    // needs no panel.
    let contract: Vec<String> = eventrelay::metrics::CONTRACT
        .iter()
        .map(|(n, _, _)| n)
        .filter(|n| **n != "eventrelay_build_info")
        .map(|n| match *n {
            "eventrelay_publish_latency_seconds" => format!("{n}_bucket"),
            _ => (*n).to_owned(),
        })
        .collect();
    let mut used = std::collections::BTreeSet::new();
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("eventrelay_") {
                    assert!(
                        contract.iter().any(|c| c == word),
                        "{word} is not a contract metric"
                    );
                    used.insert(word.to_owned());
                }
            }
        }
    }
    assert_eq!(used.len(), contract.len(), "every metric has a panel");
    let rules = yaml_file(&root().join("deploy/alerts/eventrelay-rules.yaml"));
    for r in rules[0]["groups"][0]["rules"].as_array().unwrap() {
        let expr = r["expr"].as_str().unwrap();
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("eventrelay_") {
                assert!(contract.iter().any(|c| c == word), "alert uses {word}");
            }
        }
    }
}
