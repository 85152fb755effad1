/**
 * deploy/k8s/monitoring (issue 19): the PodMonitor, the alert rules as a PrometheusRule and the
 * dashboards' ConfigMap render with kubectl, pass their schemas (kubernetes-models and
 * @kubernetes-models/prometheus-operator), and agree with the files they package and the pods
 * they scrape.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import { K8sObject, Manifest, renderOverlay, REPO_ROOT } from './lib/manifests';
import { podHasPort, podTemplates, selectorMatches } from './lib/pods';
import { schemaProblems } from './lib/schema';

const K8S = path.join(REPO_ROOT, 'deploy', 'k8s');

function one(ms: Manifest[], kind: string): K8sObject {
  const found = ms.filter((m) => m.obj.kind === kind);
  expect(found, kind).to.have.length(1);
  return found[0].obj;
}

describe('deploy/k8s/monitoring renders and validates (issue 19)', function () {
  this.timeout(30_000);
  let ms: Manifest[];
  let pods: Manifest[];

  before(function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    ms = renderOverlay(path.join(K8S, 'monitoring'));
    // The serving overlay: the training roles (as overlays/cpu) and the tessera serve replicas.
    pods = renderOverlay(path.join(K8S, 'overlays', 'serving'));
  });

  it('packages the training and serving dashboards as a ConfigMap labelled for Grafana\'s sidecar, byte for byte', () => {
    const cm = one(ms, 'ConfigMap');
    expect(schemaProblems(cm)).to.deep.equal([]);
    expect(cm.metadata.labels).to.include({ grafana_dashboard: '1' });
    const files = ['tessera-training.json', 'tessera-serving.json'];
    expect(Object.keys(cm.data).sort()).to.deep.equal([...files].sort());
    for (const f of files) expect(cm.data[f], f).to.equal(fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'grafana', f), 'utf8'));
  });

  it('ships the alert rules as a valid PrometheusRule whose groups equal deploy/prometheus/tessera-rules.yaml', () => {
    const rule = one(ms, 'PrometheusRule');
    new PrometheusRule(rule as never).validate();
    const file = parse(fs.readFileSync(path.join(REPO_ROOT, 'deploy', 'prometheus', 'tessera-rules.yaml'), 'utf8'));
    expect(rule.spec.groups, 'edit tessera-prometheusrule.yaml together with tessera-rules.yaml').to.deep.equal(file.groups);
  });

  it('has a valid PodMonitor that selects the PS, worker, chief and serve pods on a port each of them declares', () => {
    const pm = one(ms, 'PodMonitor');
    new PodMonitor(pm as never).validate();
    const selected = podTemplates(pods).filter((t) => selectorMatches(pm.spec.selector, t.labels));
    expect(selected.map((t) => t.labels['app.kubernetes.io/component']).sort()).to.deep.equal(['chief', 'ps', 'serve', 'worker']);
    for (const t of selected) {
      for (const ep of pm.spec.podMetricsEndpoints) {
        expect(podHasPort(t.spec, ep.port), `${t.manifest.obj.kind}/${t.manifest.obj.metadata.name} port ${ep.port}`).to.equal(true);
        // The annotations stay for annotation-based scrape configs, on the same port.
        expect(t.annotations['prometheus.io/scrape']).to.equal('true');
      }
    }
  });
});
