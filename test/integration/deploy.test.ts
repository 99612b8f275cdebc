import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../../server/src/http/app.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The deployment files cannot run here (no Docker engine, no Kubernetes): what can be checked is
// that they parse, that they say what the server needs, and that the Grafana dashboard asks only
// for metrics a real server exports.

const deploy = (...parts: string[]) =>
  readFileSync(path.join(REPO_ROOT, 'deploy', ...parts), 'utf8');

interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
}

describe('deployment files', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async function () {
    server = await startTestServer();
  });
  after(async function () {
    await server?.close();
  });

  it('the Grafana dashboard asks only for metrics the server exports', async function () {
    const dashboard = JSON.parse(deploy('grafana', 'livestage-dashboard.json')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const asked = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        for (const [name] of expr.matchAll(/\blivestage_[a-z_]+/g)) {
          asked.add(name.replace(/_(bucket|sum|count)$/, ''));
        }
      }
    }
    assert.ok(asked.size >= 10, `the dashboard charts ${asked.size} metrics`);
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    const exported = new Set(
      [...(await response.text()).matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name),
    );
    for (const name of asked) assert.ok(exported.has(name), `${name} is exported by /metrics`);
  });

  it('the Kubernetes manifests parse and give each node what it needs', function () {
    const objects = yaml.loadAll(deploy('kubernetes', 'livestage.yaml')) as K8sObject[];
    const node = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'livestage');
    assert.ok(node, 'a livestage Deployment');
    const pod = (node.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      hostNetwork: boolean;
      terminationGracePeriodSeconds: number;
      containers: {
        env: { name: string; value?: string }[];
        ports: { containerPort: number; protocol: string }[];
        readinessProbe: { httpGet: { path: string } };
        lifecycle: { preStop: unknown };
      }[];
    };
    const [container] = pod.containers;
    assert.ok(container);
    assert.equal(container.readinessProbe.httpGet.path, '/healthz', 'readiness on /healthz');
    assert.ok(container.lifecycle.preStop, 'a preStop hook');
    assert.ok(
      container.ports.some((p) => p.protocol === 'UDP'),
      'UDP media ports',
    );
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    assert.ok(env.REDIS_URL?.includes('livestage-redis'), 'REDIS_URL names the Redis service');
    assert.ok(
      objects.some((o) => o.kind === 'Service' && o.metadata.name === 'livestage-redis'),
      'the Redis service exists',
    );
    assert.ok(
      pod.terminationGracePeriodSeconds * 1000 > Number(env.DRAIN_TIMEOUT_MS),
      'the pod outlives its drain',
    );
  });

  it("the Dockerfile installs what set-up's worker build needs", function () {
    const dockerfile = deploy('Dockerfile');
    const script = readFileSync(path.join(REPO_ROOT, 'scripts', 'install-system-deps.sh'), 'utf8');
    for (const pkg of [
      'libuv1-dev',
      'libssl-dev',
      'libsrtp2-dev',
      'libusrsctp-dev',
      'libabsl-dev',
    ]) {
      assert.ok(script.includes(pkg), `${pkg} is what set-up builds against`);
      assert.ok(dockerfile.includes(pkg), `the Dockerfile installs ${pkg}`);
    }
    assert.match(
      dockerfile,
      /node scripts\/setup\.mjs/,
      'it builds the worker the way set-up does',
    );
  });
});
