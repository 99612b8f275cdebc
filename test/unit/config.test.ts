import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../server/src/config/config.js';

describe('config', function () {
  it('has embedded defaults: port 3000, one worker per core, generated dev keys', function () {
    const config = loadConfig({}, () => 'x'.repeat(64));
    assert.equal(config.http.port, 3000);
    assert.ok(config.media.workers >= 1);
    assert.equal(config.auth.generatedKeys, true);
    assert.equal(config.auth.apiSecret, 'x'.repeat(64));
    assert.equal(config.devEndpoints, true);
    assert.equal(config.log.format, 'pretty');
  });

  it('reads and coerces variables', function () {
    const config = loadConfig({
      PORT: '8080',
      MEDIA_WORKERS: '3',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    assert.equal(config.http.port, 8080);
    assert.equal(config.media.workers, 3);
    assert.deepEqual(config.allowedOrigins, ['https://a.example', 'https://b.example']);
  });

  it('is frozen', function () {
    const config = loadConfig({});
    assert.throws(() => {
      (config.http as { port: number }).port = 1;
    }, TypeError);
  });

  for (const [name, value] of [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['MEDIA_WORKERS', '-1'],
    ['LOG_LEVEL', 'loud'],
    ['NODE_ENV', 'staging'],
    ['LIVESTAGE_API_SECRET', 'short'],
  ] as const) {
    it(`a bad ${name}=${value} stops start-up with a message naming the variable`, function () {
      assert.throws(
        () => loadConfig({ [name]: value, LIVESTAGE_API_KEY: 'k12' }),
        (error: unknown) => error instanceof ConfigError && error.message.includes(name),
      );
    });
  }

  it('production requires real keys and refuses dev endpoints', function () {
    assert.throws(() => loadConfig({ NODE_ENV: 'production' }), /LIVESTAGE_API_KEY/);
    const keys = { LIVESTAGE_API_KEY: 'key', LIVESTAGE_API_SECRET: 's'.repeat(32) };
    assert.throws(
      () => loadConfig({ NODE_ENV: 'production', DEV_ENDPOINTS: 'true', ...keys }),
      /DEV_ENDPOINTS/,
    );
    const config = loadConfig({ NODE_ENV: 'production', ...keys });
    assert.equal(config.devEndpoints, false);
    assert.equal(config.log.format, 'json');
  });

  it('a key without a secret is an error', function () {
    assert.throws(() => loadConfig({ LIVESTAGE_API_KEY: 'key' }), /together/);
  });
});
