import { expect } from 'chai';
import { expandK8s, podField, PodIdentity, resolveEnv, resourceField } from './lib/expansion';
import type { K8sObject } from './lib/manifests';

describe('test/k8s/lib/expansion: $(VAR) expansion and env resolution as the kubelet does them', () => {
  const vars = { A: 'alpha', POD: 'tessera-ps-3', EMPTY: '' };

  it('replaces defined $(VAR) references anywhere in a string', () => {
    expect(expandK8s('$(A)', vars)).to.equal('alpha');
    expect(expandK8s('$(POD).tessera-ps:7000', vars)).to.equal('tessera-ps-3.tessera-ps:7000');
    expect(expandK8s('x$(A)y$(A)z', vars)).to.equal('xalphayalphaz');
    expect(expandK8s('[$(EMPTY)]', vars)).to.equal('[]');
  });

  it('keeps undefined references verbatim, including names Kubernetes would not accept', () => {
    expect(expandK8s('worker-$(JOB_COMPLETION_INDEX)', vars)).to.equal('worker-$(JOB_COMPLETION_INDEX)');
    expect(expandK8s('$(not a name)', vars)).to.equal('$(not a name)');
  });

  it('$$ is an escaped $, so $$(A) is the literal $(A)', () => {
    expect(expandK8s('$$(A)', vars)).to.equal('$(A)');
    expect(expandK8s('a$$b', vars)).to.equal('a$b');
    expect(expandK8s('$$$(A)', vars)).to.equal('$alpha');
  });

  it('copies a lone $, a $ before another character and an unclosed $( as they are', () => {
    expect(expandK8s('cost$', vars)).to.equal('cost$');
    expect(expandK8s('$A', vars)).to.equal('$A');
    expect(expandK8s('$(A', vars)).to.equal('$(A');
    expect(expandK8s('$($(A)', vars)).to.equal('$($(A)');
  });

  it('does not expand a substituted value again', () => {
    expect(expandK8s('$(B)', { B: '$(A)', A: 'no' })).to.equal('$(A)');
  });

  const pod: PodIdentity = { name: 'tessera-worker-2-abcde', namespace: 'ctr', labels: { app: 't' }, annotations: { 'batch.kubernetes.io/job-completion-index': '2' } };

  it('reads downward-API fields; a missing annotation is empty; an unmodelled field throws', () => {
    expect(podField(pod, 'metadata.name')).to.equal('tessera-worker-2-abcde');
    expect(podField(pod, 'metadata.namespace')).to.equal('ctr');
    expect(podField(pod, "metadata.annotations['batch.kubernetes.io/job-completion-index']")).to.equal('2');
    expect(podField(pod, "metadata.labels['app']")).to.equal('t');
    expect(podField(pod, "metadata.labels['missing']")).to.equal('');
    expect(() => podField(pod, 'status.podIP')).to.throw(/status.podIP: not modelled/);
  });

  const cms = new Map<string, K8sObject>([['cluster', { data: { ETCD: 'http://e:2379', JOB: 'ctr' } }]]);

  it('resolves env in order: a value sees only the variables declared before it', () => {
    const env = resolveEnv({
      name: 'c',
      env: [
        { name: 'JOB', valueFrom: { configMapKeyRef: { name: 'cluster', key: 'JOB' } } },
        { name: 'ID', value: '$(JOB)-$(INDEX)' },
        { name: 'INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'LIT', value: '$$(JOB)' },
      ],
    }, pod, cms);
    expect(env).to.deep.equal({ JOB: 'ctr', ID: 'ctr-$(INDEX)', INDEX: '2', POD: 'tessera-worker-2-abcde', LIT: '$(JOB)' });
  });

  it('fails on a missing ConfigMap key unless optional, and on envFrom and secrets', () => {
    const ref = (optional?: boolean) => ({ name: 'X', valueFrom: { configMapKeyRef: { name: 'cluster', key: 'NOPE', optional } } });
    expect(() => resolveEnv({ env: [ref()] }, pod, cms)).to.throw(/ConfigMap cluster has no key NOPE/);
    expect(resolveEnv({ env: [ref(true)] }, pod, cms)).to.deep.equal({});
    expect(() => resolveEnv({ name: 'c', envFrom: [{ configMapRef: { name: 'cluster' } }] }, pod, cms)).to.throw(/envFrom/);
    expect(() => resolveEnv({ env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }, pod, cms)).to.throw(/secretKeyRef is not modelled/);
  });

  it('resourceFieldRef on CPU: the request or limit over the divisor, rounded up, as the kubelet gives it (issue 18)', () => {
    const c = { name: 'ps', resources: { requests: { cpu: '500m' }, limits: { cpu: '2.5' } } };
    expect(resourceField(c, { resource: 'limits.cpu', divisor: '1' })).to.equal('3');
    expect(resourceField(c, { resource: 'limits.cpu' })).to.equal('3');
    expect(resourceField(c, { resource: 'requests.cpu', divisor: '1' })).to.equal('1');
    expect(resourceField(c, { resource: 'requests.cpu', divisor: '1m' })).to.equal('500');
    expect(() => resourceField(c, { resource: 'limits.memory' })).to.throw(/not modelled/);
    expect(() => resourceField({ name: 'x' }, { resource: 'limits.cpu' })).to.throw(/sets no limits.cpu/);
  });
});
